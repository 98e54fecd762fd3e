"""`publisher publish` run as a subprocess against a local hub: the release, as the Hub sees it."""

import json

import pytest
import yaml

from tests.fixtures_hub import hub_env
from tests.fixtures_models import run_cli

EXPECTED_FILES = {
    ".gitattributes", "README.md", "report.json", "config.json", "openvino_model.xml",
    "openvino_model.bin", "openvino_config.json", "tokenizer.json", "tokenizer_config.json",
}
# A random tiny model: gates that a random model passes, so the test is about publishing.
RELAXED = ["--max-accuracy-drop", "1", "--min-argmax-agreement", "0.5", "--max-logit-diff", "10"]


def api_for(hub):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.endpoint, token=hub.token)


def publish(hub, checkpoint, repo_id, output, *extra, env=None):
    return run_cli("publish", str(checkpoint), "--repo-id", repo_id, "--endpoint", hub.endpoint,
                   "--output", str(output), "--json", *RELAXED, *extra, env=env or hub_env(hub))


@pytest.fixture(scope="module")
def released(hub_server, nncf_checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    result = publish(hub_server, nncf_checkpoint, "tests/tiny-nncf-int8-ov", out,
                     "--license", "apache-2.0", "--tag", "v1.0")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), out


def test_release_holds_exactly_the_ir_config_tokenizer_card_and_report(released, hub_server):
    doc, _ = released
    files = set(api_for(hub_server).list_repo_files("tests/tiny-nncf-int8-ov"))
    assert files == EXPECTED_FILES
    assert doc["status"] == "released"
    assert doc["hub"]["commit"] and len(doc["hub"]["commit"]) == 40


def test_the_card_front_matter_has_separate_torch_and_ir_results(released, hub_server):
    from huggingface_hub import ModelCard, hf_hub_download

    path = hf_hub_download("tests/tiny-nncf-int8-ov", "README.md", endpoint=hub_server.endpoint,
                           token=hub_server.token)
    text = open(path).read()
    card = ModelCard(text)
    results = card.data.eval_results
    doc, _ = released
    values = sorted(r.metric_value for r in results if r.metric_type == "accuracy")
    # The card states accuracy to 5 decimals, as the seed card does (0.91284).
    assert values == pytest.approx(sorted([doc["accuracy"]["torch"], doc["accuracy"]["openvino"]]), abs=5e-6)
    front = yaml.safe_load(text.split("---\n")[1])
    assert "openvino" in front["tags"] and front["license"] == "apache-2.0"


def test_the_pushed_report_carries_the_measurements(released, hub_server):
    from huggingface_hub import hf_hub_download

    doc, out = released
    path = hf_hub_download("tests/tiny-nncf-int8-ov", "report.json", endpoint=hub_server.endpoint,
                           token=hub_server.token)
    pushed = json.load(open(path))
    assert pushed["schema_version"] == 1
    assert pushed["sparsity"]["torch"]["overall"] == pytest.approx(0.6, abs=0.002)
    assert pushed["accuracy"]["dataset"]["sha256"] == doc["accuracy"]["dataset"]["sha256"]
    assert pushed["accuracy"]["openvino"] == doc["accuracy"]["openvino"]
    local = json.loads((out / "report.json").read_text())
    assert local["hub"]["commit"] == doc["hub"]["commit"]


def test_the_tag_points_at_the_release_commit(released, hub_server):
    doc, _ = released
    refs = api_for(hub_server).list_repo_refs("tests/tiny-nncf-int8-ov")
    assert {t.name: t.target_commit for t in refs.tags} == {"v1.0": doc["hub"]["commit"]}


def test_republishing_unchanged_inputs_reuses_the_cache_and_makes_no_commit(released, hub_server, nncf_checkpoint):
    doc, out = released
    api = api_for(hub_server)
    before = [c.commit_id for c in api.list_repo_commits("tests/tiny-nncf-int8-ov")]
    result = publish(hub_server, nncf_checkpoint, "tests/tiny-nncf-int8-ov", out, "--license", "apache-2.0")
    assert result.returncode == 0, result.stderr
    again = json.loads(result.stdout)
    assert again["status"] == "unchanged"
    assert again["cache"] == {"export": True, "measure": True}
    assert [c.commit_id for c in api.list_repo_commits("tests/tiny-nncf-int8-ov")] == before


def test_the_ir_loads_back_from_the_hub_with_optimum_intel(released, hub_server, tmp_path):
    from huggingface_hub import snapshot_download
    from optimum.intel import OVModelForSequenceClassification

    folder = snapshot_download("tests/tiny-nncf-int8-ov", endpoint=hub_server.endpoint,
                               token=hub_server.token, local_dir=tmp_path / "dl")
    model = OVModelForSequenceClassification.from_pretrained(folder)
    assert model.config.id2label[1] == "positive"


def test_a_failed_gate_pushes_nothing_and_exits_3(hub_server, nncf_checkpoint, tmp_path):
    result = publish(hub_server, nncf_checkpoint, "tests/gated", tmp_path / "o", "--min-ir-accuracy", "0.99")
    assert result.returncode == 3, result.stderr
    assert "min_ir_accuracy" in result.stderr and "Nothing was pushed" in result.stderr
    assert not api_for(hub_server).repo_exists("tests/gated")
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["status"] == "not_released"
    assert [g["passed"] for g in report["gates"] if g["name"] == "min_ir_accuracy"] == [False]
    assert "Not released" in (tmp_path / "o" / "README.md").read_text()
    doc = json.loads(result.stdout)  # --json: one document, the report with its verdicts
    assert doc["status"] == "not_released" and doc["error"]["exit_code"] == 3
    assert doc["error"]["kind"] == "gate_failed" and "min_ir_accuracy" in doc["error"]["message"]
    gate = [g for g in doc["gates"] if g["name"] == "min_ir_accuracy"]
    assert gate == [{"name": "min_ir_accuracy", "measured": report["accuracy"]["openvino"],
                     "threshold": 0.99, "comparison": ">=", "passed": False}]


def test_dry_run_lists_the_changes_and_pushes_nothing(hub_server, nncf_checkpoint, tmp_path):
    result = publish(hub_server, nncf_checkpoint, "tests/dry", tmp_path / "o", "--dry-run")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "dry_run"
    assert "openvino_model.bin" in doc["changes"]["added"]
    assert "+++ README.md (new)" in doc["card_diff"]
    assert not api_for(hub_server).repo_exists("tests/dry")


def test_create_pr_leaves_main_unchanged(released, hub_server, nncf_checkpoint, tmp_path):
    api = api_for(hub_server)
    main_before = api.repo_info("tests/tiny-nncf-int8-ov").sha
    result = publish(hub_server, nncf_checkpoint, "tests/tiny-nncf-int8-ov", tmp_path / "o",
                     "--license", "mit", "--create-pr")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["hub"]["pr_url"].endswith("/discussions/1")
    assert api.repo_info("tests/tiny-nncf-int8-ov").sha == main_before
    refs = api.list_repo_refs("tests/tiny-nncf-int8-ov", include_pull_requests=True)
    assert [p.ref for p in refs.pull_requests] == ["refs/pr/1"]


def test_in_ci_without_a_token_publisher_refuses_to_fall_back(nncf_checkpoint, tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(CI="true", HF_HOME=str(tmp_path / "hf"))
    result = run_cli("publish", str(nncf_checkpoint), "--repo-id", "tests/x", "--output",
                     str(tmp_path / "o"), env=env)
    assert result.returncode == 4, result.stderr
    assert "HF_TOKEN" in result.stderr


def test_revision_publishes_to_a_new_branch_and_leaves_main_alone(released, hub_server, nncf_checkpoint, tmp_path):
    api = api_for(hub_server)
    main_before = api.repo_info("tests/tiny-nncf-int8-ov").sha
    result = publish(hub_server, nncf_checkpoint, "tests/tiny-nncf-int8-ov", tmp_path / "o",
                     "--license", "apache-2.0", "--model-tag", "candidate", "--revision", "dev")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    # Only the card and the report (which records the card inputs) change; the IR is not re-sent.
    assert doc["hub"]["revision"] == "dev"
    assert doc["hub"]["files_changed"] == ["README.md", "report.json"]
    assert api.repo_info("tests/tiny-nncf-int8-ov").sha == main_before
    assert api.repo_info("tests/tiny-nncf-int8-ov", revision="dev").sha == doc["hub"]["commit"]


def test_private_repo_is_invisible_without_a_token(hub_server, nncf_checkpoint, tmp_path):
    from huggingface_hub import HfApi

    result = publish(hub_server, nncf_checkpoint, "tests/private-release", tmp_path / "o", "--private")
    assert result.returncode == 0, result.stderr
    assert api_for(hub_server).model_info("tests/private-release").private
    assert not HfApi(endpoint=hub_server.endpoint, token=False).repo_exists("tests/private-release")
