"""`publisher publish` through injected Hub faults: complete after retries, or exactly as before.

The local hub runs with fault injection enabled (PUBLISHER_HUB_FAULTS); each case swaps the rules,
publishes with the real CLI, checks the exit code and message, that the remote repo is either the
complete release or untouched, and that a re-run once the fault clears ends with exactly one
release commit.
"""

import json

import httpx
import pytest
from huggingface_hub import HfApi

from publisher.errors import EXIT_AUTH, EXIT_HUB
from tests.fixtures_hub import hub_env, start_hub_server
from tests.fixtures_models import run_cli

# About five minutes (a publish per fault, each through retries): in the slow suite, which CI runs.
pytestmark = pytest.mark.slow

RELAXED = ["--max-accuracy-drop", "1", "--min-argmax-agreement", "0.5", "--max-logit-diff", "10"]


@pytest.fixture(scope="module")
def faulty_hub(tmp_path_factory):
    hub = start_hub_server(tmp_path_factory.mktemp("faulty-hub"), extra_env={"PUBLISHER_HUB_FAULTS": "[]"})
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def built(nncf_checkpoint, tmp_path_factory):
    """One output folder whose cached export and measurements every case re-uses."""
    out = tmp_path_factory.mktemp("faults-release")
    result = run_cli("publish", str(nncf_checkpoint), "--no-push", "--output", str(out), *RELAXED)
    assert result.returncode == 0, result.stderr
    return nncf_checkpoint, out


def set_faults(hub, rules):
    r = httpx.put(f"{hub.endpoint}/api/local/faults", json=rules, trust_env=False,
                  headers={"authorization": f"Bearer {hub.token}"})
    r.raise_for_status()


def fired(hub) -> int:
    r = httpx.get(f"{hub.endpoint}/api/local/faults", trust_env=False,
                  headers={"authorization": f"Bearer {hub.token}"})
    return sum(rule["fired"] for rule in r.json()["rules"])


def state(api: HfApi, repo: str):
    refs = api.list_repo_refs(repo, include_pull_requests=True)
    return (api.repo_info(repo).sha, sorted(b.name for b in refs.branches),
            sorted(p.ref for p in refs.pull_requests or []), sorted(api.list_repo_files(repo)))


def publish(hub, built, repo):
    ckpt, out = built
    return run_cli("publish", str(ckpt), "--repo-id", repo, "--endpoint", hub.endpoint, "--output",
                   str(out), "--json", *RELAXED, env=hub_env(hub))


CASES = [
    # name, rules, expected exit code, phrase in the message, remote outcome.
    # LFS objects are stored once per hub, so the upload fault must come before any case that
    # uploads the same IR (later cases find the object stored and skip the upload).
    ("lfs-upload-dropped", [{"route": "lfs-upload", "action": "drop"}], 0, None, "complete"),
    ("commit-500", [{"route": "commit", "action": "status", "status": 500}], EXIT_HUB, "HTTP 500", "before"),
    ("commit-412", [{"route": "commit", "action": "status", "status": 412}], EXIT_HUB,
     "someone else committed", "before"),
    ("commit-401", [{"route": "commit", "action": "status", "status": 401}], EXIT_AUTH, "refused", "before"),
    ("commit-403", [{"route": "commit", "action": "status", "status": 403}], EXIT_AUTH, "not allowed", "before"),
    ("commit-dropped", [{"route": "commit", "action": "drop"}], EXIT_HUB, "unreachable", "before"),
    ("whoami-502", [{"route": "whoami", "action": "status", "status": 502}], EXIT_HUB, "HTTP 502", "before"),
    ("preupload-503", [{"route": "preupload", "action": "status", "status": 503}], 0, None, "complete"),
    ("lfs-batch-429", [{"route": "lfs-batch", "action": "status", "status": 429, "reset": 1}], 0, None,
     "complete"),
    ("commit-delayed", [{"route": "commit", "action": "delay", "seconds": 1.0}], 0, None, "complete"),
]


@pytest.mark.parametrize("name,rules,code,phrase,outcome", CASES, ids=[c[0] for c in CASES])
def test_publish_through_a_fault(faulty_hub, built, name, rules, code, phrase, outcome):
    api = HfApi(endpoint=faulty_hub.endpoint, token=faulty_hub.token)
    repo = f"faults/{name}"
    api.create_repo(repo)
    before = state(api, repo)
    set_faults(faulty_hub, rules)
    try:
        result = publish(faulty_hub, built, repo)
        assert fired(faulty_hub) >= 1
    finally:
        set_faults(faulty_hub, [])
    assert result.returncode == code, result.stderr
    assert faulty_hub.token not in result.stdout + result.stderr
    if outcome == "before":
        assert phrase in result.stderr
        assert result.stderr.count("Error:") == 1  # one paragraph: the cause and the fix
        assert state(api, repo) == before
        again = publish(faulty_hub, built, repo)
        assert again.returncode == 0, again.stderr
    commits = api.list_repo_commits(repo)
    assert len(commits) == 2  # the repo's initial commit, then exactly one release commit
    assert "openvino_model.bin" in api.list_repo_files(repo)
    assert json.loads(publish(faulty_hub, built, repo).stdout)["status"] == "unchanged"


def test_a_commit_whose_answer_is_lost_is_not_committed_twice(faulty_hub, built):
    api = HfApi(endpoint=faulty_hub.endpoint, token=faulty_hub.token)
    repo = "faults/commit-answer-lost"
    api.create_repo(repo)
    set_faults(faulty_hub, [{"route": "commit", "action": "drop", "phase": "response"}])
    try:
        result = publish(faulty_hub, built, repo)
    finally:
        set_faults(faulty_hub, [])
    assert result.returncode == EXIT_HUB and "unreachable" in result.stderr
    again = publish(faulty_hub, built, repo)
    assert json.loads(again.stdout)["status"] == "unchanged"
    assert len(api.list_repo_commits(repo)) == 2
