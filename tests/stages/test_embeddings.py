"""Sentence embeddings (publisher.stages.embeddings, publisher.stages.sts_data): each figure against an
independent count written here, the recipe read as sentence-transformers reads it, and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from publisher.errors import BadInputError
from publisher.stages import embeddings as emb
from publisher.stages.sts_data import BUNDLED_STSB_ROWS, load_pairs
from tests.fixtures_embeddings import PAIRS, build_tiny_encoder, build_tiny_sentence_transformer, write_pairs


def _ranks(values):
    """Average ranks, 1-based, written out by hand (ties share their mean rank)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _pearson(x, y):
    mx, my = sum(x) / len(x), sum(y) / len(y)
    cov = sum((a - mx) * (b - my) for a, b in zip(x, y))
    return cov / math.sqrt(sum((a - mx) ** 2 for a in x) * sum((b - my) ** 2 for b in y))


def test_similarity_scores_are_the_rank_and_linear_correlation_of_pair_cosines_with_the_gold_scores():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(8, 5))
    pairs = [(0, 1), (2, 3), (4, 5), (6, 7), (0, 7), (1, 6)]
    gold = [4.0, 1.0, 2.5, 2.5, 0.5, 3.0]
    cos = [float(vectors[a] @ vectors[b] / (np.linalg.norm(vectors[a]) * np.linalg.norm(vectors[b])))
           for a, b in pairs]
    got = emb.similarity_scores(vectors, pairs, gold)
    assert got["pearson"] == pytest.approx(_pearson(gold, cos), abs=1e-12)
    assert got["spearman"] == pytest.approx(_pearson(_ranks(gold), _ranks(cos)), abs=1e-12)


def test_parity_figures_are_per_sentence_cosines_and_the_largest_component_difference():
    a = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]])
    b = np.array([[1.0, 0.0], [1.0, 1.0], [3.0, 4.5]])
    cosines = [1.0, 1 / math.sqrt(2), (9 + 18) / (5 * math.sqrt(9 + 20.25))]
    got = emb.parity(a, b)
    assert got["mean_cosine"] == pytest.approx(sum(cosines) / 3)
    assert got["min_cosine"] == pytest.approx(min(cosines))
    assert got["max_abs_diff"] == pytest.approx(1.0)
    assert got["sentences"] == 3


def test_nearest_neighbours_exclude_the_sentence_itself_and_overlap_counts_shared_ones():
    # Points on a line: each one's nearest (by cosine) are those with the closest angle.
    angles = [0.0, 0.1, 0.25, 1.0, 1.05, 2.0]
    vectors = np.array([[math.cos(t), math.sin(t)] for t in angles])
    nn = emb.nearest_neighbours(vectors, k=2)
    assert nn[0] == [1, 2] and nn[3] == [4, 2] and nn[5] == [4, 3]
    assert all(i not in row for i, row in enumerate(nn))
    assert emb.neighbour_overlap([[1, 2], [0, 2]], [[2, 1], [0, 3]]) == pytest.approx((1.0 + 0.5) / 2)


def test_the_pooling_of_a_sentence_transformers_folder_is_its_own_mean_then_normalize(tmp_path):
    folder = build_tiny_sentence_transformer(tmp_path / "st")
    recipe = emb.read_recipe(folder, pooling=None, normalize=None, max_length=128, dimension=32)
    assert (recipe.sentence_transformers, recipe.pooling, recipe.normalize, recipe.max_seq_length) == \
        (True, "mean", True, 64)
    tokens = np.arange(2 * 3 * 32, dtype=np.float32).reshape(2, 3, 32)
    mask = np.array([[1, 1, 0], [1, 1, 1]])
    by_hand = np.stack([tokens[0, :2].mean(axis=0), tokens[1].mean(axis=0)])
    by_hand /= np.linalg.norm(by_hand, axis=1, keepdims=True)
    assert np.allclose(emb.pooler(recipe, folder)(tokens, mask), by_hand, atol=1e-6)


def test_a_bare_encoder_is_pooled_as_the_flags_say(tmp_path):
    folder = build_tiny_encoder(tmp_path / "enc")
    recipe = emb.read_recipe(folder, pooling="cls", normalize=None, max_length=128, dimension=32)
    assert (recipe.sentence_transformers, recipe.pooling, recipe.normalize) == (False, "cls", False)
    tokens = np.random.default_rng(1).normal(size=(2, 4, 32)).astype(np.float32)
    assert np.allclose(emb.pooler(recipe)(tokens, np.ones((2, 4), dtype=np.int64)), tokens[:, 0], atol=1e-6)
    maxed = emb.read_recipe(folder, pooling="max", normalize=True, max_length=128, dimension=32)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]])
    by_hand = np.stack([tokens[0, :2].max(axis=0), tokens[1].max(axis=0)])
    by_hand /= np.linalg.norm(by_hand, axis=1, keepdims=True)
    assert np.allclose(emb.pooler(maxed)(tokens, mask), by_hand, atol=1e-6)


def test_the_torch_pass_gives_what_sentence_transformers_encode_gives(tmp_path):
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer, BertModel

    folder = build_tiny_sentence_transformer(tmp_path / "st")
    recipe = emb.read_recipe(folder, pooling=None, normalize=None, max_length=128, dimension=32)
    sentences = [" A man is playing a guitar. ", "A dog runs.", "Intel opened an office in Santa Clara today."]
    batches = emb.tokenize_sentences(AutoTokenizer.from_pretrained(folder), sentences, recipe, batch_size=2)
    ours = emb.run_torch(BertModel.from_pretrained(folder).eval(), batches, emb.pooler(recipe, folder)).vectors
    theirs = SentenceTransformer(str(folder), device="cpu").encode(sentences)
    assert np.allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("modules, named", [
    ([{"path": "", "type": "sentence_transformers.models.Transformer"},
      {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
      {"path": "2_Dense", "type": "sentence_transformers.models.Dense"}], "sentence_transformers.models.Dense"),
    ([{"path": "0_Transformer", "type": "sentence_transformers.models.Transformer"},
      {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}], "0_Transformer"),
    ({"not": "a list"}, "modules.json"),
])
def test_modules_publisher_cannot_apply_are_refused_by_name(tmp_path, modules, named):
    folder = build_tiny_sentence_transformer(tmp_path / "st", modules=modules)
    with pytest.raises(BadInputError) as err:
        emb.read_recipe(folder, pooling=None, normalize=None, max_length=128, dimension=32)
    assert named in err.value.problem


def test_pooling_flags_for_a_folder_that_defines_its_own_are_refused(tmp_path):
    folder = build_tiny_sentence_transformer(tmp_path / "st")
    with pytest.raises(BadInputError) as err:
        emb.read_recipe(folder, pooling="cls", normalize=None, max_length=128, dimension=32)
    assert "--pooling cls" in err.value.problem and "sentence-transformers" in err.value.problem


def test_a_pooling_config_of_another_width_is_refused(tmp_path):
    folder = build_tiny_sentence_transformer(tmp_path / "st")
    cfg = folder / "1_Pooling" / "config.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "word_embedding_dimension": 48}))
    with pytest.raises(BadInputError, match="48 dimensions"):
        emb.read_recipe(folder, pooling=None, normalize=None, max_length=128, dimension=32)


# --- the sentence pairs ----------------------------------------------------------------------------------


def test_the_bundled_sts_benchmark_is_the_whole_test_split_with_distinct_sentences_counted():
    import csv

    from publisher.stages.sts_data import bundled_stsb_path

    data = load_pairs(None)
    with bundled_stsb_path().open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert data.info.num_samples == len(rows) == BUNDLED_STSB_ROWS
    assert data.info.num_sentences == len({s.strip() for r in rows for s in r[:2]})
    assert (data.info.type, data.info.name, data.info.split) == ("mteb/stsbenchmark-sts", "MTEB STSBenchmark", "test")
    assert data.scores[:2] == [float(rows[0][2]), float(rows[1][2])]
    assert [data.sentences[i] for i in data.pairs[0]] == [rows[0][0].strip(), rows[0][1].strip()]


def test_a_part_of_the_bundled_split_is_not_named_as_mtebs_benchmark():
    part = load_pairs(None, max_samples=100)
    assert part.info.num_samples == 100 and part.info.type == "local" and "MTEB" not in part.info.name


@pytest.mark.parametrize("suffix, header", [(".csv", True), (".tsv", True), (".csv", False)])
def test_pair_files_read_with_or_without_a_header(tmp_path, suffix, header):
    data = load_pairs(write_pairs(tmp_path / f"p{suffix}", header=header))
    assert data.info.num_samples == len(PAIRS) and data.scores == [p[2] for p in PAIRS]
    assert data.info.num_sentences == len({s for p in PAIRS for s in p[:2]})


def test_jsonl_pairs(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(json.dumps({"sentence1": a, "sentence2": b, "score": s}) for a, b, s in PAIRS))
    assert load_pairs(path).scores == [p[2] for p in PAIRS]


@pytest.mark.parametrize("text, problem", [
    ("sentence1,score\na,1\n", "without sentence2"),
    ("sentence1,sentence2,score\na,b,high\nc,d,2\n", "'high' in row 1, not a number"),
    ("sentence1,sentence2,score\na,b,nan\nc,d,2\n", "not a finite number"),
    ("a,b\n", "exactly three"),
    ("sentence1,sentence2,score\na,b,1\nc,d,1\n", "same score on every pair"),
    ("sentence1,sentence2,score\na, ,1\nc,d,2\n", "empty sentence2"),
])
def test_bad_pair_files_are_refused_naming_the_problem(tmp_path, text, problem):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(BadInputError) as err:
        load_pairs(path)
    assert problem in err.value.problem and str(path) in err.value.problem
