"""The feature-extraction task through the real CLI: a bare encoder pooled as the flags say, and what is
refused before any work (exit 2, one paragraph, nothing written)."""

from __future__ import annotations

import json

import pytest

from publisher.errors import EXIT_BAD_INPUT
from tests.fixtures_embeddings import PAIRS, build_tiny_encoder, build_tiny_sentence_transformer, write_pairs
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


@pytest.mark.slow  # about a minute: a calibrated quantization, a push, a download and a verify
def test_a_static_int8_release_holds_sentence_transformers_named_ir_and_verify_holds(tmp_path, hub_server):
    import subprocess
    import sys

    from tests.fixtures_hub import hub_env

    folder = build_tiny_sentence_transformer(tmp_path / "st")
    pairs = write_pairs(tmp_path / "pairs.csv")
    repo = "tests/embeddings-static-int8"
    out = tmp_path / "out"
    result = run_cli("publish", str(folder), "--repo-id", repo, "--endpoint", hub_server.endpoint, "--output",
                     str(out), "--static-int8", "--eval-file", str(pairs), "--json", env=hub_env(hub_server))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    static = doc["export"]["static_quantization"]
    # Fewer distinct sentences than the 300 calibration takes: all of them.
    assert static["calibration_sentences"] == len({s for p in PAIRS for s in p[:2]})
    assert static["fake_quantize_ops"] > 0 and doc["export"]["weight_format"] == "int8"
    assert sorted(p.name for p in (out / "openvino").glob("*.xml")) == ["openvino_model_qint8_quantized.xml"]
    claims = {c["id"]: c for c in doc["claims"]["claims"]}
    assert claims["quantization.activations"]["value"] == static["fake_quantize_ops"]
    assert "compression.quantization_aware_training" not in claims  # calibrated, not trained, quantizers
    # sentence-transformers loads the static IR by its name, as the card's snippet does.
    code = (f"from sentence_transformers import SentenceTransformer\n"
            f"m = SentenceTransformer({repo!r}, backend='openvino', model_kwargs={{'file_name': "
            f"'openvino/openvino_model_qint8_quantized.xml'}})\nprint(m.encode(['a dog runs']).shape)")
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=hub_env(hub_server),
                         cwd=tmp_path, timeout=600)
    assert ran.returncode == 0 and "(1, 32)" in ran.stdout, ran.stderr[-2000:]
    verified = run_cli("verify", repo, "--endpoint", hub_server.endpoint, "--work-dir", str(tmp_path / "v"),
                       "--eval-file", str(pairs), "--json", env=hub_env(hub_server))
    assert verified.returncode == 0, verified.stderr
    checks = {c["claim"]: c["verdict"] for c in json.loads(verified.stdout)["checks"]}
    assert checks["quantization.activations"] == "holds" and checks["compression.weights"] == "holds"
