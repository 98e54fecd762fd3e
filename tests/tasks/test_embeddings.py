"""The feature-extraction task through the real CLI: a bare encoder pooled as the flags say, and what is
refused before any work (exit 2, one paragraph, nothing written)."""

from __future__ import annotations

import json

from publisher.errors import EXIT_BAD_INPUT
from tests.fixtures_embeddings import build_tiny_encoder, build_tiny_sentence_transformer, write_pairs
from tests.fixtures_models import run_cli


def test_a_bare_encoder_is_released_pooled_as_the_flags_say(tmp_path):
    folder = build_tiny_encoder(tmp_path / "enc")
    out = tmp_path / "out"
    result = run_cli("publish", str(folder), "--output", str(out), "--no-push", "--json", "--pooling", "max",
                     "--normalize", "--eval-file", str(write_pairs(tmp_path / "pairs.csv")))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    recipe = doc["task_results"]["recipe"]
    assert (recipe["sentence_transformers"], recipe["pooling"], recipe["normalize"]) == (False, "max", True)
    card = (out / "README.md").read_text()
    assert "pipeline_tag: feature-extraction" in card and "library_name: openvino" in card
    assert (out / "openvino" / "openvino_model.xml").is_file() and not (out / "modules.json").exists()


def test_pooling_flags_for_a_sentence_transformers_folder_are_refused_before_any_work(tmp_path):
    folder = build_tiny_sentence_transformer(tmp_path / "st")
    out = tmp_path / "out"
    result = run_cli("publish", str(folder), "--output", str(out), "--no-push", "--pooling", "cls",
                     "--eval-file", str(write_pairs(tmp_path / "pairs.csv")))
    assert result.returncode == EXIT_BAD_INPUT, result.stderr
    assert "--pooling cls" in result.stderr and "Traceback" not in result.stderr
    assert not (out / "openvino").exists()


def test_a_pair_file_with_a_non_numeric_score_is_refused_before_any_work(tmp_path):
    folder = build_tiny_sentence_transformer(tmp_path / "st")
    bad = tmp_path / "bad.csv"
    bad.write_text("sentence1,sentence2,score\na cat,a dog,high\nx,y,2\n")
    result = run_cli("publish", str(folder), "--output", str(tmp_path / "out"), "--no-push", "--eval-file", str(bad))
    assert result.returncode == EXIT_BAD_INPUT and "not a number" in result.stderr, result.stderr
