"""token-classification end to end: without --eval-file the bundled WNUT-17 test split is the data (a
model must name its tags), and `publisher verify` re-measures it without being given a file; with a
local file, verify re-measures the torch-side claims from the checkpoint and refuses to open the file
a repo's report names."""

from __future__ import annotations

import json

from publisher.errors import EXIT_CLAIM_FAILED
from tests.fixtures_hub import hub_env
from tests.fixtures_models import run_cli
from tests.fixtures_ner import WNUT17_LABELS, build_tiny_ner, write_conll


def test_without_an_eval_file_a_model_without_wnut17s_labels_is_refused_before_the_export(tmp_path):
    checkpoint = build_tiny_ner(tmp_path / "ckpt")  # PER/LOC/ORG: not WNUT-17's types
    result = run_cli("publish", str(checkpoint), "--repo-id", "t/ner", "--output", str(tmp_path / "out"),
                     "--no-push", "--license", "apache-2.0")
    assert result.returncode != 0
    assert "WNUT-17" in result.stderr and "B-person" in result.stderr and "--eval-file" in result.stderr
    assert not (tmp_path / "out" / "openvino_model.xml").exists()  # refused before the export


def test_a_hub_dataset_is_refused_naming_the_bundled_default(tmp_path):
    checkpoint = build_tiny_ner(tmp_path / "ckpt", labels=WNUT17_LABELS)
    result = run_cli("publish", str(checkpoint), "--repo-id", "t/ner", "--output", str(tmp_path / "out"),
                     "--no-push", "--license", "apache-2.0", "--dataset", "wnut_17")
    assert result.returncode != 0 and "not a Hub dataset" in result.stderr and "bundled WNUT-17" in result.stderr


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
    per_type = [c for c in verdicts if c.startswith("per_type.")]
    # Three types (PER, LOC, ORG) x precision, recall, F1 x IR and torch: the torch side from the checkpoint.
    assert len(per_type) == 18 and all(verdicts[c] == "holds" for c in per_type), verdicts


def test_the_bundled_wnut17_default_is_measured_named_on_the_card_and_verified_without_a_file(hub_server, tmp_path):
    from huggingface_hub import ModelCard

    checkpoint = build_tiny_ner(tmp_path / "ckpt", labels=WNUT17_LABELS)
    repo = "tests/ner-wnut17"
    published = run_cli("publish", str(checkpoint), "--repo-id", repo, "--endpoint", hub_server.endpoint,
                        "--output", str(tmp_path / "out"), "--license", "apache-2.0", "--max-f1-drop", "1",
                        "--json", env=hub_env(hub_server))
    assert published.returncode == 0, published.stderr
    results = json.loads(published.stdout)["task_results"]
    ds = results["dataset"]
    # WNUT-17 test, whole: 1,287 tweets and 1,079 entities (the published counts).
    assert (ds["name"], ds["split"], ds["num_samples"], ds["num_entities"], ds["bundled"]) == \
        ("WNUT-17", "test", 1287, 1079, True)
    # Three lone U+FE0F words tagged O tokenize to nothing; the two longest tweets are over 128 sub-tokens.
    assert results["unscored_words"] == 3 and results["parity"]["tokens"] == 23394 - 3
    assert results["max_length"] == 512  # BertConfig's max_position_embeddings
    card = (tmp_path / "out" / "README.md").read_text()
    assert "test split of WNUT-17 (1287 sentences, 23394 words, 1079 entities)" in card and "CC BY 4.0" in card
    (result,) = [r for r in ModelCard(card).data.eval_results if r.metric_config == "openvino"]
    assert (result.dataset_type, result.dataset_name, result.dataset_split) == ("wnut_17", "WNUT-17", "test")
    verified = run_cli("verify", repo, "--endpoint", hub_server.endpoint, "--json", "--work-dir",
                       str(tmp_path / "w"), env=hub_env(hub_server))
    assert verified.returncode == 0, verified.stderr
    verdicts = {c["claim"]: c["verdict"] for c in json.loads(verified.stdout)["checks"]}
    assert verdicts["f1.openvino"] == verdicts["evaluation.rows"] == "holds"
    # Each entity type's figures are claims of their own, shown in the card's per-type table.
    gold_per_type = {"corporation": 66, "creative-work": 142, "group": 165, "location": 150, "person": 429,
                     "product": 127}  # B- tags of the bundled file, counted in tests/stages/test_token_data.py
    for side in ("openvino", "torch"):
        per_type = results[side]["per_type"]
        assert {name: t["support"] for name, t in per_type.items() if t["support"]} == gold_per_type
        assert sum(t["predicted"] for t in per_type.values()) == results[side]["predicted"]
        for name in per_type:
            for metric in ("precision", "recall", "f1"):
                claim_id = f"per_type.{name}.{metric}.{side}"
                # From the IR alone verify re-measures the IR's; torch's need the checkpoint.
                assert verdicts[claim_id] == ("holds" if side == "openvino" else "not re-checkable"), claim_id
    _lint_regenerate_and_run_the_usage_snippet(hub_server, repo, card, tmp_path)
    row = next(line for line in card.splitlines() if line.startswith("| group |"))
    cells = row.split("|")
    shown = cells[-2].strip().strip("*")  # the last column: OpenVINO IR F1
    assert shown == f"{results['openvino']['per_type']['group']['f1']:.3f}"
    cells[-2] = f" **{float(shown) + 0.5:.3f}** "
    _tamper_and_verify(hub_server, repo, card, card.replace(row, "|".join(cells)), tmp_path,
                       ["per_type.group.f1.openvino"])


def _lint_regenerate_and_run_the_usage_snippet(hub_server, repo, card, tmp_path):
    """The pushed card lints clean (bold per-type cells included), regenerates to itself, and its
    optimum-intel snippet runs against the pushed repo as written."""
    import subprocess
    import sys

    from tests.fixtures_llm import card_snippets

    env = hub_env(hub_server)
    lint = run_cli("card", "lint", repo, "--endpoint", hub_server.endpoint, env=env)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    regen = run_cli("card", "regenerate", repo, "--endpoint", hub_server.endpoint, "--dry-run", env=env)
    assert regen.returncode == 0, regen.stderr
    # Any changed line (a hunk, whatever it starts with) makes the status would-update instead.
    assert "@@" not in regen.stdout and regen.stdout.strip().endswith("1 unchanged"), regen.stdout
    snippets = card_snippets(card)
    assert len(snippets) == 1 and f'"{repo}"' in snippets[0]
    run = subprocess.run([sys.executable, "-c", snippets[0]], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=300)
    assert run.returncode == 0, snippets[0] + run.stderr[-3000:]


def _tamper_and_verify(hub_server, repo, card, tampered, tmp_path, failing):
    from huggingface_hub import HfApi

    assert tampered != card
    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.token)
    api.create_branch(repo, branch="tampered", exist_ok=True)
    api.upload_file(path_or_fileobj=tampered.encode(), path_in_repo="README.md", repo_id=repo, revision="tampered")
    result = run_cli("verify", repo, "--endpoint", hub_server.endpoint, "--json", "--revision", "tampered",
                     "--work-dir", str(tmp_path / "tampered"), env=hub_env(hub_server))
    assert result.returncode == EXIT_CLAIM_FAILED, result.stderr
    checks = json.loads(result.stdout)["checks"]
    assert [c["claim"] for c in checks if c["verdict"] == "does not hold"] == failing
