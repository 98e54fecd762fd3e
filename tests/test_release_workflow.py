"""The automated release: config file, batch, exit codes, races, as a CI job runs them."""

import json

import pytest

from publisher.errors import EXIT_BAD_INPUT, EXIT_HUB
from tests.fixtures_hub import hub_env
from tests.fixtures_models import run_cli

RELAXED = """
max_accuracy_drop = 1.0
min_argmax_agreement = 0.5
max_logit_diff = 10.0
"""


def test_ci_job_publishes_from_a_config_file_with_gates_and_a_tag(hub_server, nncf_checkpoint, tmp_path):
    from huggingface_hub import HfApi

    config = tmp_path / "publish.toml"
    config.write_text(f"""
[publish]
endpoint = "{hub_server.endpoint}"
min_sparsity = 0.55
{RELAXED}
[[models]]
checkpoint = "{nncf_checkpoint}"
repo_id = "ci/tiny-release"
output = "out"
""")
    env = {**hub_env(hub_server), "CI": "true"}
    result = run_cli("publish", "--config", str(config), "--tag", "v0.1", "--json", env=env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "released"
    assert {g["name"]: g["passed"] for g in doc["gates"]}["min_sparsity"] is True
    assert [g["threshold"] for g in doc["gates"] if g["name"] == "min_sparsity"] == [0.55]
    assert doc["hub"]["tag"] == "v0.1"
    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.token)
    assert [t.name for t in api.list_repo_refs("ci/tiny-release").tags] == ["v0.1"]
    assert hub_server.token not in result.stdout + result.stderr


def test_batch_reports_every_model_and_one_failure_does_not_stop_the_others(hub_server, nncf_checkpoint, tmp_path):
    config = tmp_path / "publish.toml"
    config.write_text(f"""
[publish]
endpoint = "{hub_server.endpoint}"
{RELAXED}
[[models]]
checkpoint = "missing-folder"
repo_id = "ci/broken"

[[models]]
checkpoint = "{nncf_checkpoint}"
repo_id = "ci/batch-ok"
output = "ok"
""")
    result = run_cli("publish", "--config", str(config), "--json", env=hub_env(hub_server))
    assert result.returncode == EXIT_BAD_INPUT
    doc = json.loads(result.stdout)
    assert [(m["model"], m["status"]) for m in doc["models"]] == [
        ("ci/broken", "bad_input"), ("ci/batch-ok", "released")]
    error = doc["models"][0]["error"]
    assert "does not exist" in error["message"] and error["exit_code"] == 2 and error["kind"] == "bad_input"


def test_fail_fast_stops_at_the_first_failure(hub_server, nncf_checkpoint, tmp_path):
    config = tmp_path / "publish.toml"
    config.write_text(f"""
[publish]
endpoint = "{hub_server.endpoint}"
[[models]]
checkpoint = "missing-folder"
repo_id = "ci/broken"
[[models]]
checkpoint = "{nncf_checkpoint}"
repo_id = "ci/never"
""")
    result = run_cli("publish", "--config", str(config), "--json", "--fail-fast", env=hub_env(hub_server))
    assert result.returncode == EXIT_BAD_INPUT
    assert [m["model"] for m in json.loads(result.stdout)["models"]] == ["ci/broken"]


def test_config_errors_name_the_key_and_line(tmp_path):
    config = tmp_path / "publish.toml"
    config.write_text('[publish]\ncheckpoint = "x"\nmin_ir_acuracy = 0.9\n')
    result = run_cli("publish", "--config", str(config))
    assert result.returncode == EXIT_BAD_INPUT
    assert f"{config}:3: unknown key 'min_ir_acuracy'" in result.stderr


def test_a_stale_parent_commit_is_refused_and_nothing_is_committed(hub_server, tmp_path):
    from huggingface_hub import HfApi

    from publisher.errors import HubError
    from publisher.hub.client import HubClient, HubTarget

    client = HubClient(HubTarget(endpoint=hub_server.endpoint, kind="local", token=hub_server.token))
    repo = "ci/race"
    client.ensure_repo(repo)
    release = tmp_path / "r"
    release.mkdir()
    (release / "a.txt").write_text("ours")
    files = {"a.txt": release / "a.txt"}
    changes = client.compare(repo, files, "main")
    # Someone else commits after we compared.
    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.token)
    api.upload_file(path_or_fileobj=b"theirs", path_in_repo="b.txt", repo_id=repo)
    head = api.repo_info(repo).sha
    with pytest.raises(HubError) as err:
        client.commit_changes(repo, files, changes, message="ours")
    assert err.value.exit_code == EXIT_HUB and "Re-run" in str(err.value)
    assert api.repo_info(repo).sha == head
    assert "a.txt" not in api.list_repo_files(repo)
