"""The local hub driven by the real huggingface_hub client (1.21), as a subprocess server."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import httpx
import pytest
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationCopy,
    CommitOperationDelete,
    HfApi,
    hf_hub_download,
    snapshot_download,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

BIG = 11 * 1024 * 1024  # over the Hub's 10 MiB regular-file limit: must travel through LFS
CARD = """---
license: apache-2.0
library_name: openvino
tags:
- openvino
- text-classification
model-index:
- name: tiny
  results:
  - task:
      type: text-classification
    dataset:
      type: glue
      name: SST-2
      config: sst2
      split: validation
    metrics:
    - type: accuracy
      value: 0.91
---
# Tiny model

A card with <script>alert("x")</script> in it.
"""


@pytest.fixture
def api(hub_server) -> HfApi:
    return HfApi(endpoint=hub_server.endpoint, token=hub_server.token)


@pytest.fixture
def repo_id(api, request) -> str:
    name = f"tester/{request.node.name[:40].replace('[', '-').strip(']')}-{uuid.uuid4().hex[:6]}"
    api.create_repo(name)
    return name


@pytest.fixture(scope="module")
def release_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("release")
    (folder / "README.md").write_text(CARD)
    (folder / "config.json").write_text('{"hidden_size": 16}\n')
    (folder / "tokenizer").mkdir()
    (folder / "tokenizer" / "vocab.txt").write_text("[PAD]\nhello\nworld\n")
    (folder / "openvino_model.bin").write_bytes(os.urandom(BIG))
    return folder


@pytest.fixture(scope="module")
def published(hub_server, release_folder) -> tuple[str, str]:
    """A repo holding ``release_folder`` at main, tagged v1: ``(repo_id, commit id)``."""
    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.token)
    repo_id = f"tester/release-{uuid.uuid4().hex[:6]}"
    api.create_repo(repo_id)
    commit = api.upload_folder(repo_id=repo_id, folder_path=release_folder, commit_message="Release")
    api.create_tag(repo_id, tag="v1", tag_message="first release")
    return repo_id, commit.oid


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_create_repo_exist_ok_and_conflict(api, hub_server):
    url = api.create_repo("tester/created")
    assert url.repo_id == "tester/created" and url.startswith(hub_server.endpoint)
    assert api.create_repo("tester/created", exist_ok=True) == url
    with pytest.raises(HfHubHTTPError) as err:
        api.create_repo("tester/created")
    assert err.value.response.status_code == 409
    assert api.whoami()["name"] == "tester"
    files = api.list_repo_files("tester/created")
    assert files == [".gitattributes"]  # every repo starts with a commit, so main exists


def test_upload_folder_splits_lfs_and_regular(api, hub_server, published, release_folder):
    repo_id, commit_id = published
    info = api.model_info(repo_id, files_metadata=True)
    assert info.sha == commit_id
    by_name = {s.rfilename: s for s in info.siblings}
    assert set(by_name) == {".gitattributes", "README.md", "config.json", "tokenizer/vocab.txt",
                            "openvino_model.bin"}
    weights = by_name["openvino_model.bin"]
    assert weights.lfs is not None and weights.lfs.sha256 == sha256(release_folder / "openvino_model.bin")
    assert weights.size == BIG
    assert by_name["config.json"].lfs is None and by_name["README.md"].lfs is None
    log = hub_server.log_text()
    assert f"/{repo_id}.git/info/lfs/objects/batch" in log and "PUT /api/lfs-upload/" in log


def test_reupload_of_unchanged_files_makes_no_commit(api, published, release_folder):
    repo_id, commit_id = published
    before = api.list_repo_commits(repo_id)
    again = api.upload_folder(repo_id=repo_id, folder_path=release_folder, commit_message="Again")
    assert again.oid == commit_id
    assert [c.commit_id for c in api.list_repo_commits(repo_id)] == [c.commit_id for c in before]


def test_commit_history_chain_and_refs(api, published):
    repo_id, commit_id = published
    commits = api.list_repo_commits(repo_id)
    assert [c.title for c in commits] == ["Release", "initial commit"]
    assert commits[0].commit_id == commit_id and commits[0].authors == ["tester"]
    api.create_branch(repo_id, branch="dev/next", revision=commits[1].commit_id)
    with pytest.raises(HfHubHTTPError):
        api.create_branch(repo_id, branch="dev/next")
    api.create_branch(repo_id, branch="dev/next", exist_ok=True)
    refs = api.list_repo_refs(repo_id)
    assert {b.name: b.target_commit for b in refs.branches} == {
        "main": commit_id, "dev/next": commits[1].commit_id}
    assert [(t.name, t.target_commit) for t in refs.tags] == [("v1", commit_id)]
    with pytest.raises(HfHubHTTPError):
        api.create_tag(repo_id, tag="v1")
    assert api.list_repo_files(repo_id, revision="dev/next") == [".gitattributes"]


@pytest.mark.parametrize("revision", ["main", "v1", "commit"])
def test_download_by_branch_tag_and_commit(hub_server, published, release_folder, cache_dir, revision):
    repo_id, commit_id = published
    rev = commit_id if revision == "commit" else revision
    path = hf_hub_download(repo_id, "openvino_model.bin", revision=rev, endpoint=hub_server.endpoint,
                           token=hub_server.token, cache_dir=cache_dir)
    assert sha256(path) == sha256(release_folder / "openvino_model.bin")
    assert Path(path).parent.name == commit_id  # the snapshot is keyed by X-Repo-Commit
    snapshot = snapshot_download(repo_id, revision=rev, endpoint=hub_server.endpoint,
                                 token=hub_server.token, cache_dir=cache_dir)
    for name in ("README.md", "config.json", "tokenizer/vocab.txt"):
        assert (Path(snapshot) / name).read_bytes() == (release_folder / name).read_bytes()


def test_card_data_comes_from_readme_front_matter(api, published):
    repo_id, _ = published
    card = api.model_info(repo_id).card_data
    assert card.license == "apache-2.0" and card.library_name == "openvino"
    assert card.eval_results[0].metric_value == 0.91
    assert card.eval_results[0].dataset_config == "sst2"


def test_pull_request_leaves_main_unchanged(api, hub_server, repo_id, cache_dir):
    main_before = api.model_info(repo_id).sha
    commit = api.upload_file(path_or_fileobj=b"proposal\n", path_in_repo="notes.txt",
                             repo_id=repo_id, create_pr=True, commit_message="Propose notes")
    assert commit.pr_revision == "refs/pr/1" and commit.pr_num == 1
    assert api.model_info(repo_id).sha == main_before
    assert "notes.txt" not in api.list_repo_files(repo_id)
    assert "notes.txt" in api.list_repo_files(repo_id, revision="refs/pr/1")
    path = hf_hub_download(repo_id, "notes.txt", revision="refs/pr/1",
                           endpoint=hub_server.endpoint, token=hub_server.token, cache_dir=cache_dir)
    assert Path(path).read_bytes() == b"proposal\n"
    refs = api.list_repo_refs(repo_id, include_pull_requests=True)
    assert [(p.ref, p.target_commit) for p in refs.pull_requests] == [("refs/pr/1", commit.oid)]
    details = api.get_discussion_details(repo_id, 1)
    assert details.is_pull_request and details.title == "Propose notes"
    # A second commit onto the PR moves refs/pr/1 only.
    api.upload_file(path_or_fileobj=b"more\n", path_in_repo="more.txt", repo_id=repo_id,
                    revision="refs/pr/1")
    assert "more.txt" in api.list_repo_files(repo_id, revision="refs/pr/1")
    assert api.model_info(repo_id).sha == main_before


def test_delete_and_copy_operations(api, repo_id):
    api.create_commit(repo_id, commit_message="files", operations=[
        CommitOperationAdd("a/one.txt", b"one"), CommitOperationAdd("a/two.txt", b"two"),
        CommitOperationAdd("w.safetensors", b"\x00" * 64)])
    api.create_commit(repo_id, commit_message="copy", operations=[
        CommitOperationCopy("a/one.txt", "b/one.txt"),
        CommitOperationCopy("w.safetensors", "c/w.safetensors")])
    tree = {f.path: f for f in api.list_repo_tree(repo_id, recursive=True) if hasattr(f, "size")}
    assert tree["c/w.safetensors"].lfs.sha256 == tree["w.safetensors"].lfs.sha256
    assert tree["b/one.txt"].blob_id == tree["a/one.txt"].blob_id
    api.create_commit(repo_id, commit_message="delete", operations=[
        CommitOperationDelete("a/"), CommitOperationDelete("w.safetensors")])
    assert sorted(api.list_repo_files(repo_id)) == [
        ".gitattributes", "b/one.txt", "c/w.safetensors"]
    with pytest.raises(EntryNotFoundError):
        api.delete_file("missing.txt", repo_id)


def test_missing_repo_revision_and_entry_raise_typed_errors(api, hub_server, published, cache_dir):
    repo_id, _ = published
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("tester/does-not-exist")
    assert not api.repo_exists("tester/does-not-exist")
    with pytest.raises(RevisionNotFoundError):
        api.model_info(repo_id, revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(repo_id, "config.json", revision="no-such-branch",
                        endpoint=hub_server.endpoint, token=hub_server.token, cache_dir=cache_dir)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo_id, "missing.json", endpoint=hub_server.endpoint,
                        token=hub_server.token, cache_dir=cache_dir)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("tester/does-not-exist", "config.json", endpoint=hub_server.endpoint,
                        token=hub_server.token, cache_dir=cache_dir)


def test_private_repo_is_invisible_without_a_token(hub_server, cache_dir):
    owner = HfApi(endpoint=hub_server.endpoint, token=hub_server.token)
    anonymous = HfApi(endpoint=hub_server.endpoint, token=False)
    reader = HfApi(endpoint=hub_server.endpoint, token=hub_server.read_token)
    repo_id = f"tester/private-{uuid.uuid4().hex[:6]}"
    owner.create_repo(repo_id, private=True)
    owner.upload_file(path_or_fileobj=b"secret", path_in_repo="s.txt", repo_id=repo_id)
    assert owner.model_info(repo_id).private is True
    with pytest.raises(RepositoryNotFoundError):
        anonymous.model_info(repo_id)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(repo_id, "s.txt", endpoint=hub_server.endpoint, token=False,
                        cache_dir=cache_dir)
    assert reader.model_info(repo_id).private is True
    with pytest.raises(HfHubHTTPError) as err:
        reader.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    assert err.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as err:
        anonymous.create_repo(f"tester/anon-{uuid.uuid4().hex[:6]}")
    assert err.value.response.status_code == 401
    page = httpx.get(f"{hub_server.endpoint}/", trust_env=False).text
    assert repo_id not in page


def test_stale_parent_commit_is_refused_with_412(api, repo_id):
    first = api.model_info(repo_id).sha
    api.upload_file(path_or_fileobj=b"1", path_in_repo="one.txt", repo_id=repo_id,
                    parent_commit=first)
    with pytest.raises(HfHubHTTPError) as err:
        api.upload_file(path_or_fileobj=b"2", path_in_repo="two.txt", repo_id=repo_id,
                        parent_commit=first)
    assert err.value.response.status_code == 412
    assert "two.txt" not in api.list_repo_files(repo_id)


def test_invalid_card_metadata_is_refused(api, repo_id):
    with pytest.raises(ValueError, match="Invalid metadata"):
        api.upload_file(path_or_fileobj=b"---\nlicense: [unclosed\n---\n", path_in_repo="README.md",
                        repo_id=repo_id)
    bad_types = CARD.replace("value: 0.91", 'value: "91%"').replace("config: sst2", "config: 2")
    with pytest.raises(ValueError) as err:
        api.upload_file(path_or_fileobj=bad_types.encode(), path_in_repo="README.md", repo_id=repo_id)
    assert "value" in str(err.value) and "config" in str(err.value)
    assert "README.md" not in api.list_repo_files(repo_id)


def test_range_requests_and_tree_pagination(hub_server, published, release_folder):
    repo_id, commit_id = published
    client = httpx.Client(trust_env=False, headers={"authorization": f"Bearer {hub_server.token}"})
    url = f"{hub_server.endpoint}/{repo_id}/resolve/main/openvino_model.bin"
    head = client.head(url)
    assert head.headers["x-repo-commit"] == commit_id
    assert head.headers["x-linked-etag"].strip('"') == sha256(release_folder / "openvino_model.bin")
    assert int(head.headers["x-linked-size"]) == BIG
    part = client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == (release_folder / "openvino_model.bin").read_bytes()[100:200]
    tail = client.get(url, headers={"Range": f"bytes={BIG - 10}-"})
    assert tail.status_code == 206 and len(tail.content) == 10
    assert client.get(url, headers={"Range": f"bytes={BIG}-"}).status_code == 416
    paths, next_url = [], f"{hub_server.endpoint}/api/models/{repo_id}/tree/main?recursive=true&limit=2"
    while next_url:
        page = client.get(next_url)
        assert len(page.json()) <= 2
        paths += [item["path"] for item in page.json()]
        next_url = page.links.get("next", {}).get("url")
    assert len(paths) == 6 and "tokenizer" in paths and "tokenizer/vocab.txt" in paths
    encoded = client.get(f"{hub_server.endpoint}/api/models/{repo_id}/tree/v1/tokenizer")
    assert [item["path"] for item in encoded.json()] == ["tokenizer/vocab.txt"]
    miss = client.get(f"{hub_server.endpoint}/api/models/{repo_id}/xet-write-token/main")
    assert miss.status_code == 404 and miss.headers["x-error-code"]


def test_dataset_repositories(api, hub_server, cache_dir):
    repo_id = f"tester/data-{uuid.uuid4().hex[:6]}"
    api.create_repo(repo_id, repo_type="dataset")
    api.upload_file(path_or_fileobj=b"a,b\n1,2\n", path_in_repo="train.csv", repo_id=repo_id,
                    repo_type="dataset")
    path = hf_hub_download(repo_id, "train.csv", repo_type="dataset", endpoint=hub_server.endpoint,
                           token=hub_server.token, cache_dir=cache_dir)
    assert Path(path).read_bytes() == b"a,b\n1,2\n"
    assert api.dataset_info(repo_id).id == repo_id
    with pytest.raises(RepositoryNotFoundError):
        api.model_info(repo_id)


def test_web_page_renders_the_card_sanitised(hub_server, published):
    repo_id, commit_id = published
    index = httpx.get(f"{hub_server.endpoint}/", trust_env=False)
    assert index.status_code == 200 and repo_id in index.text
    page = httpx.get(f"{hub_server.endpoint}/{repo_id}", trust_env=False)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<h1>Tiny model</h1>" in page.text
    # As on the Hub: raw HTML is sanitised, so the script is dropped rather than shown.
    assert "<script>" not in page.text and 'alert("x")' not in page.text
    assert "A card with" in page.text
    assert "openvino_model.bin" in page.text and "tokenizer/vocab.txt" in page.text
    assert commit_id[:10] in page.text and "Release" in page.text


def test_restart_keeps_everything(hub_server, published, release_folder, cache_dir):
    repo_id, commit_id = published
    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.token)
    refs_before = api.list_repo_refs(repo_id, include_pull_requests=True)
    hub_server.restart(kill=True)  # SIGKILL: no graceful shutdown to rely on
    assert api.model_info(repo_id).sha == commit_id
    assert api.list_repo_refs(repo_id, include_pull_requests=True) == refs_before
    path = hf_hub_download(repo_id, "openvino_model.bin", revision="v1",
                           endpoint=hub_server.endpoint, token=hub_server.token, cache_dir=cache_dir)
    assert sha256(path) == sha256(release_folder / "openvino_model.bin")
    other = f"tester/after-restart-{uuid.uuid4().hex[:6]}"
    api.create_repo(other)
    api.upload_file(path_or_fileobj=b"after restart", path_in_repo="after.txt", repo_id=other)
    assert [c.title for c in api.list_repo_commits(other)][1:] == ["initial commit"]


def test_tokens_never_reach_the_log(hub_server):
    log = hub_server.log_text()
    assert "/api/" in log  # the log is there and it did record requests
    assert hub_server.token not in log and hub_server.read_token not in log
    assert "signature=" not in log
