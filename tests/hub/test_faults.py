"""huggingface_hub commits and downloads through injected faults (PUBLISHER_HUB_FAULTS).

Every scenario ends in one of two states, never in between: the commit is complete (the client
retried, or the server finished the work and only the answer was lost), or the repository is
exactly as before: same branches, tags and pull requests, same files, no orphan ``refs/pr``.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.hf_api import RepoFile

from tests.fixtures_hub import start_hub_server

CARD = "---\nlicense: apache-2.0\n---\n# Faulty release\n"


@pytest.fixture(scope="module")
def faulty_hub(tmp_path_factory):
    hub = start_hub_server(tmp_path_factory.mktemp("faulty-hub"),
                           extra_env={"PUBLISHER_HUB_FAULTS": "[]"})
    try:
        yield hub
    finally:
        hub.stop()


def fired(hub) -> list[int]:
    response = httpx.get(f"{hub.endpoint}/api/local/faults", trust_env=False,
                         headers={"authorization": f"Bearer {hub.token}"})
    response.raise_for_status()
    return [rule["fired"] for rule in response.json()["rules"]]


def set_faults(hub, rules: list[dict]) -> None:
    response = httpx.put(f"{hub.endpoint}/api/local/faults", json=rules, trust_env=False,
                         headers={"authorization": f"Bearer {hub.token}"})
    response.raise_for_status()


@pytest.fixture
def api(faulty_hub):
    set_faults(faulty_hub, [])
    yield HfApi(endpoint=faulty_hub.endpoint, token=faulty_hub.token)
    set_faults(faulty_hub, [])


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class RepoState:
    branches: dict
    tags: dict
    pull_requests: dict
    files: dict

    @classmethod
    def read(cls, api: HfApi, repo_id: str, revision: str = "main") -> "RepoState":
        refs = api.list_repo_refs(repo_id, include_pull_requests=True)
        files = {f.path: (f.lfs.sha256 if f.lfs else f.blob_id)
                 for f in api.list_repo_tree(repo_id, recursive=True, revision=revision)
                 if isinstance(f, RepoFile)}
        return cls({b.name: b.target_commit for b in refs.branches},
                   {t.name: t.target_commit for t in refs.tags},
                   {p.ref: p.target_commit for p in refs.pull_requests}, files)


def release_files() -> dict[str, bytes]:
    """Fresh content each time: LFS objects already stored would skip the upload step."""
    return {"README.md": CARD.encode(), "config.json": b'{"id": "%s"}\n' % uuid.uuid4().hex.encode(),
            "openvino_model.bin": os.urandom(256 * 1024)}


def expected_ids(files: dict[str, bytes]) -> dict[str, str]:
    return {path: hashlib.sha256(data).hexdigest() if path.endswith(".bin") else git_blob_sha1(data)
            for path, data in files.items()}


def publish(api: HfApi, repo_id: str, files: dict[str, bytes], via: str, tmp_path: Path,
            create_pr: bool = False):
    if via == "upload_folder":
        folder = tmp_path / "release"
        folder.mkdir(exist_ok=True)
        for path, data in files.items():
            (folder / path).write_bytes(data)
        return api.upload_folder(repo_id=repo_id, folder_path=folder, create_pr=create_pr,
                                 commit_message="Release")
    return api.create_commit(repo_id, operations=[CommitOperationAdd(p, d) for p, d in files.items()],
                             commit_message="Release", create_pr=create_pr)


# (id, rules, how to publish, client raises?, final state)
SCENARIOS = [
    ("preupload-503-retried", [{"route": "preupload", "action": "status", "status": 503}],
     "upload_folder", False, "complete"),
    ("lfs-batch-429-ratelimit", [{"route": "lfs-batch", "action": "status", "status": 429,
                                  "reset": 0}], "create_commit", False, "complete"),
    ("lfs-upload-500-retried", [{"route": "lfs-upload", "action": "status", "status": 500}],
     "upload_folder", False, "complete"),
    ("lfs-upload-dropped-mid-body", [{"route": "lfs-upload", "action": "drop"}],
     "create_commit", False, "complete"),
    ("lfs-verify-502-retried", [{"route": "lfs-verify", "action": "status", "status": 502}],
     "create_commit", False, "complete"),
    ("lfs-batch-403", [{"route": "lfs-batch", "action": "status", "status": 403}],
     "create_commit", True, "unchanged"),
    ("validate-yaml-500", [{"route": "validate-yaml", "action": "status", "status": 500}],
     "create_commit", True, "unchanged"),
    ("commit-500", [{"route": "commit", "action": "status", "status": 500}],
     "create_commit", True, "unchanged"),
    ("commit-401", [{"route": "commit", "action": "status", "status": 401}],
     "upload_folder", True, "unchanged"),
    ("commit-403", [{"route": "commit", "action": "status", "status": 403}],
     "create_commit", True, "unchanged"),
    ("commit-412", [{"route": "commit", "action": "status", "status": 412}],
     "create_commit", True, "unchanged"),
    ("commit-dropped-mid-request", [{"route": "commit", "action": "drop"}],
     "create_commit", True, "unchanged"),
    ("commit-done-answer-500", [{"route": "commit", "action": "status", "status": 500,
                                 "phase": "response"}], "create_commit", True, "complete"),
    ("commit-done-answer-dropped", [{"route": "commit", "action": "drop", "phase": "response"}],
     "upload_folder", True, "complete"),
    ("commit-delayed", [{"route": "commit", "action": "delay", "seconds": 0.3}],
     "create_commit", False, "complete"),
]


@pytest.mark.parametrize("name, rules, via, raises, outcome", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_commit_through_fault(api, faulty_hub, tmp_path, name, rules, via, raises, outcome):
    repo_id = f"tester/{name}-{uuid.uuid4().hex[:6]}"
    api.create_repo(repo_id)
    before = RepoState.read(api, repo_id)
    files = release_files()
    set_faults(faulty_hub, rules)
    if raises:
        with pytest.raises((HfHubHTTPError, httpx.HTTPError, ValueError)):
            publish(api, repo_id, files, via, tmp_path)
    else:
        publish(api, repo_id, files, via, tmp_path)
    assert fired(faulty_hub) == [1]
    set_faults(faulty_hub, [])
    after = RepoState.read(api, repo_id)
    if outcome == "unchanged":
        assert after == before
    else:
        assert {p: after.files[p] for p in files} == expected_ids(files)
        assert after.pull_requests == {} and after.tags == {}
        assert len(api.list_repo_commits(repo_id)) == 2  # exactly one new commit, no duplicate
    assert list((faulty_hub.root / "lfs" / "tmp").iterdir()) == []  # no partial upload kept


@pytest.mark.parametrize("phase, outcome", [("request", "unchanged"), ("response", "complete")])
def test_pull_request_through_a_failed_commit(api, faulty_hub, tmp_path, phase, outcome):
    repo_id = f"tester/pr-{phase}-{uuid.uuid4().hex[:6]}"
    api.create_repo(repo_id)
    before = RepoState.read(api, repo_id)
    files = release_files()
    set_faults(faulty_hub, [{"route": "commit", "action": "drop", "phase": phase}])
    with pytest.raises((HfHubHTTPError, httpx.HTTPError)):
        publish(api, repo_id, files, "create_commit", tmp_path, create_pr=True)
    assert fired(faulty_hub) == [1]
    set_faults(faulty_hub, [])
    after = RepoState.read(api, repo_id)
    assert after.branches == before.branches and after.files == before.files  # main untouched
    if outcome == "unchanged":
        assert after == before  # no orphan refs/pr/N
        assert not list((faulty_hub.root / "repos").rglob("refs/pr/*"))
    else:
        assert list(after.pull_requests) == ["refs/pr/1"]
        pr_files = RepoState.read(api, repo_id, revision="refs/pr/1").files
        assert {p: pr_files[p] for p in files} == expected_ids(files)
        assert api.get_discussion_details(repo_id, 1).is_pull_request


@pytest.mark.parametrize("rules", [
    [{"route": "resolve", "method": "GET", "action": "drop", "phase": "response"}],
    [{"route": "resolve", "method": "HEAD", "action": "status", "status": 503}],
], ids=["get-dropped-mid-body-resumed", "head-503-retried"])
def test_download_through_fault(api, faulty_hub, tmp_path, rules):
    repo_id = f"tester/download-{uuid.uuid4().hex[:6]}"
    api.create_repo(repo_id)
    data = os.urandom(3 * 1024 * 1024)
    api.upload_file(path_or_fileobj=data, path_in_repo="weights.bin", repo_id=repo_id)
    set_faults(faulty_hub, rules)
    path = hf_hub_download(repo_id, "weights.bin", endpoint=faulty_hub.endpoint,
                           token=faulty_hub.token, cache_dir=str(tmp_path / "cache"))
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert fired(faulty_hub) == [1]


def test_faults_are_off_by_default_and_rules_are_checked(hub_server, faulty_hub):
    plain = httpx.put(f"{hub_server.endpoint}/api/local/faults", json=[], trust_env=False,
                      headers={"authorization": f"Bearer {hub_server.token}"})
    assert plain.status_code == 404  # the session server runs without PUBLISHER_HUB_FAULTS
    bad = httpx.put(f"{faulty_hub.endpoint}/api/local/faults", json=[{"action": "explode"}],
                    trust_env=False, headers={"authorization": f"Bearer {faulty_hub.token}"})
    assert bad.status_code == 400 and "action" in bad.json()["error"]
    anonymous = httpx.put(f"{faulty_hub.endpoint}/api/local/faults", json=[], trust_env=False)
    assert anonymous.status_code == 401


def test_the_fault_injector_is_off_the_product_path():
    import subprocess
    import sys

    from tests.fixtures_hub import REPO_ROOT

    code = ("import sys, publisher.hub.server.runner, publisher.hub.server.app\n"
            "print('publisher.hub.server.faults' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, env={"PYTHONPATH": str(REPO_ROOT)})
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.parametrize("method,path,name", [
    ("POST", "/api/models/a/b/commit/main", "commit"),
    ("POST", "/api/datasets/a/b/preupload/refs%2Fpr%2F1", "preupload"),
    ("GET", "/api/models/a/b", "repo-info"),
    ("GET", "/api/models/a/b/revision/v1", "revision"),
    ("POST", "/datasets/a/b.git/info/lfs/objects/batch", "lfs-batch"),
    ("PUT", "/api/lfs-upload/" + "a" * 64, "lfs-upload"),
    ("HEAD", "/a/b/resolve/main/x/y.bin", "resolve"),
    ("GET", "/a/b", "web"),
    ("PATCH", "/a/b", "other"),
])
def test_faults_name_requests_by_the_routers_own_table(method, path, name):
    from publisher.hub.server.app import route_name

    assert route_name(method, path) == name
