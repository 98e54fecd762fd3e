"""Rerankers (publisher.stages.ranking): MRR@10, NDCG@10 and the agreement figures against counts written
here, pairs tokenized as CrossEncoder tokenizes them, and bad query files."""

from __future__ import annotations

import json
import math

import pytest

from publisher.errors import BadInputError
from publisher.stages import ranking
from tests.fixtures_embeddings import QUERIES, write_queries


def _data(tmp_path, queries):
    return ranking.load_ranking(write_queries(tmp_path / "q.jsonl", queries))


def test_mrr_and_ndcg_at_10_by_hand(tmp_path):
    data = _data(tmp_path, [
        {"query": "a", "positive": ["p1"], "negative": ["n1", "n2"]},           # p1 ranked 2nd
        {"query": "b", "positive": ["p1", "p2"], "negative": ["n1"]},           # p1 1st, p2 3rd
    ])
    scores = [0.5, 0.9, 0.1] + [0.8, 0.1, 0.5]
    got = ranking.quality(data, scores)
    ndcg_a = (1 / math.log2(3)) / 1.0
    ndcg_b = (1 / math.log2(2) + 1 / math.log2(4)) / (1 / math.log2(2) + 1 / math.log2(3))
    assert got["mrr_at_10"] == pytest.approx((1 / 2 + 1) / 2)
    assert got["ndcg_at_10"] == pytest.approx((ndcg_a + ndcg_b) / 2)


def test_a_positive_below_rank_10_counts_nothing(tmp_path):
    data = _data(tmp_path, [{"query": "a", "positive": ["p"], "negative": [f"n{i}" for i in range(10)]}])
    got = ranking.quality(data, [0.0] + [1.0] * 10)
    assert got == {"mrr_at_10": 0.0, "ndcg_at_10": 0.0}


def test_agreement_counts_queries_whose_best_passage_and_whole_ranking_are_the_same(tmp_path):
    data = _data(tmp_path, [{"query": "a", "positive": ["p"], "negative": ["n1", "n2"]},
                            {"query": "b", "positive": ["p"], "negative": ["n1", "n2"]}])
    torch_scores = [3.0, 2.0, 1.0, 3.0, 2.0, 1.0]
    ir_scores = [3.1, 0.9, 1.0, 1.5, 2.1, 1.0]  # a: best same, order differs; b: best differs
    got = ranking.parity(data, torch_scores, ir_scores)
    assert (got["top1_agreement"], got["ranking_agreement"]) == (0.5, 0.0)
    assert got["max_abs_score_diff"] == pytest.approx(1.5)


def test_pairs_are_tokenized_as_pairs_in_query_order(tmp_path):
    from transformers import AutoTokenizer

    from tests.fixtures_models import minilm_tokenizer_dir

    data = _data(tmp_path, QUERIES)
    tok = AutoTokenizer.from_pretrained(str(minilm_tokenizer_dir()))
    batches = ranking.tokenize_pairs(tok, data, max_length=64, batch_size=4)
    assert batches.num_pairs == sum(len(q["positive"]) + len(q["negative"]) for q in QUERIES) == data.info.num_pairs
    first = tok(QUERIES[0]["query"], QUERIES[0]["positive"][0])["input_ids"]
    position = batches.order.index(0)
    batch, row = batches.batches[position // 4], position % 4
    assert batch["input_ids"][row][: len(first)].tolist() == first
    assert 1 in batch["token_type_ids"][row].tolist()  # the passage is the second segment


@pytest.mark.parametrize("line, problem", [
    ({"query": "a", "negative": ["n"]}, "without a positive"),
    ({"query": "a", "positive": ["p"]}, "without a negative"),
    ({"query": "", "positive": ["p"], "negative": ["n"]}, "no query text"),
    ({"query": "a", "positive": "p", "negative": ["n"]}, "not a list of non-empty strings"),
])
def test_bad_query_files_are_refused_naming_the_problem(tmp_path, line, problem):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(line) + "\n")
    with pytest.raises(BadInputError) as err:
        ranking.load_ranking(path)
    assert problem in err.value.problem and str(path) in err.value.problem


def test_no_file_is_refused_with_the_layout():
    with pytest.raises(BadInputError, match="bundles no query-passage set"):
        ranking.load_ranking(None)
