"""Token classification: the evaluation files, first-sub-token alignment and entity-level scoring, each
against a count written out in the test."""

from __future__ import annotations

import json

import pytest

from publisher.errors import BadInputError
from publisher.stages import entities
from publisher.stages.token_data import (
    align,
    check_label_scheme,
    first_subtoken_positions,
    load_token_data,
    read_sentences,
    run_torch_words,
)
from tests.fixtures_models import minilm_tokenizer_dir
from tests.fixtures_ner import NER_LABELS, SENTENCES, write_conll

ID2LABEL = dict(enumerate(NER_LABELS))


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(minilm_tokenizer_dir()))


# --- entity-level scores (seqeval, strict IOB2) against a hand count -------------------------------------

GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-PER"], ["B-LOC", "I-LOC", "O"]]
PRED = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "I-ORG", "B-PER"], ["I-LOC", "I-LOC", "O"]]
# By hand, strict IOB2 (an entity starts at B-; type and both ends must match):
#   gold entities: PER(0:0-1) LOC(0:3) ORG(1:0) PER(1:2) LOC(2:0-1)            -> 5
#   predicted:     PER(0:0-1) ORG(0:3) ORG(1:0-1) PER(1:2); "I-LOC I-LOC" starts no entity -> 4
#   correct:       PER(0:0-1) PER(1:2); ORG(1:0-1) ends one word late          -> 2
#   precision 2/4, recall 2/5, F1 2PR/(P+R) = 0.4/0.9
#   PER: 2 of 2 predicted, 2 of 2 gold; LOC: 0 predicted, 2 gold; ORG: 0 of 2 predicted, 1 gold.


def test_entity_scores_are_the_hand_count_in_strict_iob2():
    s = entities.score(GOLD, PRED)
    assert s["precision"] == pytest.approx(2 / 4)
    assert s["recall"] == pytest.approx(2 / 5)
    assert s["f1"] == pytest.approx(2 * 0.5 * 0.4 / 0.9)
    assert (s["entities"], s["predicted"]) == (5, 4)
    assert s["per_type"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2, "predicted": 2}
    assert s["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2, "predicted": 0}
    assert s["per_type"]["ORG"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "predicted": 2}


def test_a_perfect_prediction_scores_one_and_none_scores_zero():
    assert entities.score(GOLD, GOLD)["f1"] == 1.0
    nothing = entities.score(GOLD, [["O"] * len(s) for s in GOLD])
    assert (nothing["f1"], nothing["precision"], nothing["predicted"]) == (0.0, 0.0, 0)


def test_parity_counts_agreeing_tokens_and_the_largest_difference():
    import numpy as np

    t = [np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[2.0, 1.0]])]
    o = [np.array([[1.0, 0.1], [0.6, 0.5]]), np.array([[2.0, 1.25]])]
    p = entities.parity(t, o)
    # token 2 of sentence 1 flips (0.6 > 0.5): 2 of 3 agree; the largest |diff| is 0.6 there
    assert p == {"tokens": 3, "token_agreement": pytest.approx(2 / 3), "max_abs_logit_diff": pytest.approx(0.6)}


# --- first sub-token alignment against an independent count --------------------------------------------


def test_each_word_is_scored_at_its_first_subtoken(tokenizer):
    sentences = [[w for w, _ in s] for s in SENTENCES]
    aligned = align(tokenizer, sentences, max_length=128, batch_size=4)
    for words, positions in zip(sentences, aligned.positions):
        # Independently: [CLS], then each word's own sub-tokens in turn.
        pieces = [len(tokenizer.tokenize(w)) for w in words]
        expected = [1 + sum(pieces[:i]) for i in range(len(words))]
        assert positions == expected
    assert any(len(tokenizer.tokenize(w)) > 1 for s in sentences for w in s)  # the rule is exercised


def test_the_logits_read_are_those_of_each_words_first_subtoken(tokenizer):
    import torch

    class Echo(torch.nn.Module):  # logits[b, t, :] = the token id at t: the read-out names the token
        def forward(self, input_ids, **_):
            return type("Out", (), {"logits": input_ids.float().unsqueeze(-1).repeat(1, 1, 2)})()

    sentences = [[w for w, _ in s] for s in SENTENCES]
    out = run_torch_words(Echo(), align(tokenizer, sentences, max_length=128, batch_size=2))
    for words, logits in zip(sentences, out.values):
        first_ids = [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(w)[0]) for w in words]
        assert logits[:, 0].tolist() == first_ids


def test_special_tokens_and_continuation_pieces_are_ignored():
    assert first_subtoken_positions([None, 0, 0, 1, 2, 2, 2, None, None]) == [1, 3, 4]


def test_a_sentence_longer_than_the_max_length_is_refused_not_truncated(tokenizer):
    with pytest.raises(BadInputError, match=r"Sentence 2 .* more than the max length 8.*not truncated|refused rather"):
        align(tokenizer, [["a", "b"], ["word"] * 20], max_length=8, batch_size=2)


# --- the files ----------------------------------------------------------------------------------------


def test_conll_and_jsonl_read_the_same_sentences(tmp_path):
    conll = load_token_data(write_conll(tmp_path / "e.conll"), ID2LABEL, split="test")
    rows = [{"tokens": [w for w, _ in s], "ner_tags": [NER_LABELS.index(t) if i % 2 else t for i, (_, t) in
                                                        enumerate(s)]} for s in SENTENCES]
    (tmp_path / "e.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    jsonl = load_token_data(tmp_path / "e.jsonl", ID2LABEL, split="test")
    assert conll.sentences == jsonl.sentences == [[w for w, _ in s] for s in SENTENCES]
    assert conll.tags == jsonl.tags == [[t for _, t in s] for s in SENTENCES]
    gold_entities = sum(1 for s in SENTENCES for _, t in s if t.startswith("B-"))
    assert conll.info.num_entities == gold_entities == 14
    assert (conll.info.num_samples, conll.info.format, jsonl.info.format) == (6, "conll", "jsonl")


def test_conll_with_docstart_several_columns_and_spaces(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n\nPeter NNP B-NP B-PER\n")
    data = load_token_data(path, ID2LABEL, split="test", max_samples=None)
    assert data.sentences == [["EU", "rejects"], ["Peter"]] and data.tags == [["B-ORG", "O"], ["B-PER"]]
    assert read_sentences(path, 1) == [["EU", "rejects"]]


def test_a_tag_the_model_does_not_name_is_refused_naming_it(tmp_path):
    path = tmp_path / "e.conll"
    path.write_text("Paris\tB-GPE\nis\tO\nnice\tB-MISC\n")
    with pytest.raises(BadInputError, match=r"B-GPE, B-MISC") as exc:
        load_token_data(path, ID2LABEL, split="test")
    assert "B-LOC" in exc.value.problem  # the model's own labels are listed


def test_a_line_with_one_column_is_refused_with_its_line(tmp_path):
    path = tmp_path / "e.conll"
    path.write_text("Paris\tB-LOC\nis\n")
    with pytest.raises(BadInputError, match=r"e.conll:2: .*one column"):
        load_token_data(path, ID2LABEL, split="test")


def test_a_malformed_line_is_refused(tmp_path):
    path = tmp_path / "e.conll"
    path.write_text("Paris\tB-LOC\nis\t\n")
    with pytest.raises(BadInputError, match=r"e.conll:2: .*malformed"):
        load_token_data(path, ID2LABEL, split="test")


def test_an_inside_tag_without_its_beginning_is_refused(tmp_path):
    path = tmp_path / "e.conll"
    path.write_text("Paris\tB-LOC\n\nthe\tO\ncity\tI-LOC\n")
    with pytest.raises(BadInputError, match=r"e.conll:4: the tag I-LOC follows O"):
        load_token_data(path, ID2LABEL, split="test")


@pytest.mark.parametrize("row, message", [
    ({"tokens": ["a"]}, "no ner_tags"),
    ({"tokens": ["a", "b"], "ner_tags": ["O"]}, "2 tokens but 1 ner_tags"),
    ({"tokens": ["Paris"], "ner_tags": [42]}, "tag id 42 is not in the model's id2label"),
])
def test_bad_jsonl_rows_are_refused(tmp_path, row, message):
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(BadInputError, match=message):
        load_token_data(path, ID2LABEL, split="test")


def test_data_without_entities_and_an_unknown_suffix_are_refused(tmp_path):
    (tmp_path / "o.conll").write_text("nothing\tO\n")
    with pytest.raises(BadInputError, match="no entities"):
        load_token_data(tmp_path / "o.conll", ID2LABEL, split="test")
    (tmp_path / "e.csv").write_text("a,b\n")
    with pytest.raises(BadInputError, match="neither CoNLL-style nor JSONL"):
        load_token_data(tmp_path / "e.csv", ID2LABEL, split="test")


def test_model_labels_outside_iob2_are_refused():
    check_label_scheme(ID2LABEL)
    with pytest.raises(BadInputError, match="not IOB2 tags.*PERSON"):
        check_label_scheme({0: "O", 1: "PERSON"})


# --- the bundled default: WNUT-17's test split -------------------------------------------------------------

# WNUT-17's published test split (Derczynski et al., 2017; the Hub dataset wnut_17): 1,287 documents,
# 1,079 entities. The words and per-type counts are this file's own, counted by hand-written code below.
WNUT17_ID2LABEL = dict(enumerate(["O"] + [f"{p}-{t}" for t in ("corporation", "creative-work", "group",
                                                                 "location", "person", "product") for p in "BI"]))


def _count_by_hand(path):
    """Sentences, words and B- tags per type, reading the file line by line (blank line = new tweet)."""
    sentences, words, types, current = 0, 0, {}, 0
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            sentences += current > 0
            current = 0
            continue
        word, tag = line.split("\t")
        words, current = words + 1, current + 1
        if tag.startswith("B-"):
            types[tag[2:]] = types.get(tag[2:], 0) + 1
    return sentences + (current > 0), words, types


def test_the_bundled_wnut17_test_split_is_read_whole_and_named():
    from publisher.stages.token_data import BUNDLED_WNUT17_SHA256, bundled_wnut17_path

    data = load_token_data(None, WNUT17_ID2LABEL, split="test")
    sentences, words, types = _count_by_hand(bundled_wnut17_path())
    assert (data.info.num_samples, data.info.num_entities) == (1287, 1079) == (sentences, sum(types.values()))
    assert data.info.num_words == words == 23394
    assert types == {"corporation": 66, "creative-work": 142, "group": 165, "location": 150, "person": 429,
                     "product": 127}
    assert (data.info.name, data.info.type, data.info.split, data.info.bundled) == ("WNUT-17", "wnut_17", "test", True)
    assert data.info.sha256 == BUNDLED_WNUT17_SHA256 and data.info.source == "bundled:wnut17-test"
    # The first tweet, as the file has it (tab-separated, tags IOB2).
    assert data.sentences[0][:4] == ["&", "gt", ";", "*"] and data.tags[0][data.sentences[0].index("Sonmarg")] == \
        "B-location"
    part = load_token_data(None, WNUT17_ID2LABEL, split="test", max_samples=10)
    assert (part.info.name, part.info.type, part.info.num_samples) == ("WNUT-17 (first 10 sentences)", "local", 10)


def test_a_model_without_wnut17s_labels_is_refused_naming_them():
    with pytest.raises(BadInputError, match=r"does not name the tags of WNUT-17.*B-corporation.*by name") as info:
        load_token_data(None, ID2LABEL, split="test")
    assert "--eval-file" in info.value.fix


def test_a_word_tagged_o_that_tokenizes_to_nothing_is_left_out_of_scoring(tokenizer):
    # U+FE0F (an emoji variation selector) alone is a word of three WNUT-17 tweets; BERT's tokenizer drops it.
    sentences = [["Paris", "\ufe0f", "rocks"], ["Intel", "wins"]]
    tags = [["B-LOC", "O", "O"], ["B-ORG", "O"]]
    aligned = align(tokenizer, sentences, max_length=32, batch_size=2, tags=tags)
    assert aligned.unscored == [[1], []] and aligned.unscored_words == 1
    assert aligned.scored_tags(tags) == [["B-LOC", "O"], ["B-ORG", "O"]]
    assert [len(p) for p in aligned.positions] == [2, 2]
    with pytest.raises(BadInputError, match="no sub-token"):
        align(tokenizer, sentences, max_length=32, batch_size=2)  # without the tags: not known to be O
    with pytest.raises(BadInputError, match="no sub-token"):
        align(tokenizer, [["New", "\ufe0f"]], max_length=32, batch_size=1, tags=[["B-LOC", "I-LOC"]])


def test_every_bundled_tweet_aligns_with_the_minilm_tokenizer_at_the_models_position_limit(tokenizer):
    data = load_token_data(None, WNUT17_ID2LABEL, split="test")
    aligned = align(tokenizer, data.sentences, max_length=512, batch_size=64, tags=data.tags)
    lone_selectors = sum(w == "\ufe0f" for s in data.sentences for w in s)
    assert aligned.unscored_words == lone_selectors == 3
    assert sum(len(p) for p in aligned.positions) == 23394 - 3
    longest = max(len(tokenizer(s, is_split_into_words=True)["input_ids"]) for s in data.sentences)
    assert 128 < longest <= 512  # why the bundled data is measured at the position limit, not --max-length
