"""token-classification end to end: the evaluation file is required, and `publisher verify` re-measures
the torch-side claims from the checkpoint, and refuses to open the file a repo's report names."""

from __future__ import annotations

import json

import pytest

from publisher.errors import EXIT_CLAIM_FAILED
from tests.fixtures_hub import hub_env
from tests.fixtures_models import run_cli
from tests.fixtures_ner import build_tiny_ner, write_conll


def test_publish_without_an_eval_file_is_refused_saying_so(tmp_path):
    checkpoint = build_tiny_ner(tmp_path / "ckpt")
    result = run_cli("publish", str(checkpoint), "--repo-id", "t/ner", "--output", str(tmp_path / "out"),
                     "--no-push", "--license", "apache-2.0")
    assert result.returncode != 0
    assert "bundles no default" in result.stderr and "--eval-file" in result.stderr
    assert not (tmp_path / "out" / "openvino_model.xml").exists()  # refused before the export


def test_a_model_whose_labels_are_not_iob2_is_refused_before_any_work(tmp_path):
    import json as _json

    checkpoint = build_tiny_ner(tmp_path / "ckpt")
    config = _json.loads((checkpoint / "config.json").read_text())
    config["id2label"] = {str(i): name for i, name in enumerate(["O", "PER", "LOC", "ORG", "x", "y", "z"])}
    (checkpoint / "config.json").write_text(_json.dumps(config))
    result = run_cli("publish", str(checkpoint), "--repo-id", "t/ner", "--output", str(tmp_path / "out"),
                     "--no-push", "--license", "apache-2.0", "--eval-file", str(write_conll(tmp_path / "e.conll")))
    assert result.returncode != 0 and "not IOB2 tags" in result.stderr and "PER" in result.stderr
    assert not (tmp_path / "out" / "openvino_model.xml").exists()


def test_verify_with_the_checkpoint_holds_and_needs_the_eval_file(hub_server, tmp_path):
    checkpoint = build_tiny_ner(tmp_path / "ckpt")
    eval_file = write_conll(tmp_path / "eval.conll")
    repo = "tests/ner-verify"
    published = run_cli("publish", str(checkpoint), "--repo-id", repo, "--endpoint", hub_server.endpoint,
                        "--output", str(tmp_path / "out"), "--license", "apache-2.0", "--max-f1-drop", "1",
                        "--eval-file", str(eval_file), "--json", env=hub_env(hub_server))
    assert published.returncode == 0, published.stderr
    common = ["verify", repo, "--endpoint", hub_server.endpoint, "--json"]
    refused = run_cli(*common, "--work-dir", str(tmp_path / "w1"), env=hub_env(hub_server))
    assert refused.returncode not in (0, EXIT_CLAIM_FAILED)
    assert "--eval-file" in refused.stderr and "does not open paths a repo names" in refused.stderr
    result = run_cli(*common, "--work-dir", str(tmp_path / "w2"), "--eval-file", str(eval_file),
                     "--checkpoint", str(checkpoint), env=hub_env(hub_server))
    assert result.returncode == 0, result.stderr
    verdicts = {c["claim"]: c["verdict"] for c in json.loads(result.stdout)["checks"]}
    for claim in ("f1.openvino", "f1.torch", "precision.torch", "recall.openvino", "parity.token_agreement",
                  "parity.max_abs_logit_diff", "sparsity.torch"):
        assert verdicts[claim] == "holds", (claim, verdicts)
