"""The text-ranking task through the real CLI: a tiny cross-encoder is inferred as a reranker (one output
score), pushed in sentence-transformers' layout and run as pushed by ``CrossEncoder(backend="openvino")``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.fixtures_embeddings import QUERIES, build_tiny_cross_encoder, write_queries
from tests.fixtures_hub import hub_env
from tests.fixtures_models import build_tiny, run_cli


@pytest.mark.slow  # half a minute: a push and sentence-transformers loading it from the hub
def test_a_cross_encoder_release_runs_in_sentence_transformers_as_pushed(tmp_path, hub_server):
    folder = build_tiny_cross_encoder(tmp_path / "ce")
    repo = "tests/tiny-reranker"
    result = run_cli("publish", str(folder), "--repo-id", repo, "--endpoint", hub_server.endpoint, "--output",
                     str(tmp_path / "out"), "--eval-file", str(write_queries(tmp_path / "q.jsonl")), "--json",
                     "--min-rank-agreement", "0", "--max-ndcg-drop", "1", env=hub_env(hub_server))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["task"] == "text-ranking" and doc["task_results"]["dataset"]["num_samples"] == len(QUERIES)
    card = (tmp_path / "out" / "README.md").read_text()
    assert "pipeline_tag: text-ranking" in card and "library_name: sentence-transformers" in card
    pairs = [(QUERIES[0]["query"], p) for p in QUERIES[0]["positive"] + QUERIES[0]["negative"]]
    code = (f"import json, numpy as np\nfrom sentence_transformers import CrossEncoder\n"
            f"pairs = {pairs!r}\n"
            f"ov = CrossEncoder({repo!r}, backend='openvino').predict(pairs)\n"
            f"pt = CrossEncoder({str(folder)!r}, device='cpu').predict(pairs)\n"
            f"print(json.dumps({{'diff': float(np.abs(ov - pt).max())}}))")
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=hub_env(hub_server),
                         cwd=tmp_path, timeout=600)
    assert ran.returncode == 0, ran.stderr[-2000:]
    # Scores after CrossEncoder's sigmoid: the INT8 IR stays within a few hundredths of torch.
    assert json.loads(ran.stdout.strip().splitlines()[-1])["diff"] < 0.05


def test_a_two_label_classifier_stays_a_classifier(tmp_path):
    from publisher.stages.load import read_config
    from publisher.tasks import infer_task

    folder = build_tiny(tmp_path / "clf")
    assert infer_task(read_config(folder), folder).name == "text-classification"
