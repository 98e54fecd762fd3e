"""The Hub's behaviour where huggingface_hub's own test suite found the local hub different.

One test per gap (issue 14); scripts/conformance.sh runs the suite itself, which the default
suite cannot (it needs a checkout of huggingface_hub).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from tests.fixtures_hub import REPO_ROOT


def wait_for_endpoint(root, process, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited at start"
        try:
            return json.loads((root / "server.json").read_text())["endpoint"]
        except (OSError, ValueError, KeyError):
            time.sleep(0.05)
    raise AssertionError("the server did not start")


@pytest.fixture
def api(hub_server) -> HfApi:
    return HfApi(endpoint=hub_server.endpoint, token=hub_server.token)


@pytest.fixture
def repo_id(api) -> str:
    return api.create_repo(f"tester/conf-{uuid.uuid4().hex[:8]}").repo_id


def test_repo_ids_without_a_namespace_are_repository_not_found(api, hub_server, cache_dir):
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("no-namespace")
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("no-namespace", revision="main")
    assert not api.repo_exists("no-namespace")
    assert not api.file_exists("no-namespace", "config.json")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("no-namespace", "config.json", endpoint=hub_server.endpoint,
                        token=hub_server.token, cache_dir=cache_dir)


def test_auth_check_and_gated_repositories(api, repo_id):
    api.auth_check(repo_id)
    api.auth_check(repo_id, write=True)
    with pytest.raises(RepositoryNotFoundError):
        api.auth_check("tester/missing-repo")
    # A gated repo is for its owner: "tester" may write anywhere here, but "someone" owns it.
    gated = api.create_repo(f"someone/gated-{uuid.uuid4().hex[:6]}").repo_id
    api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=gated)
    response = httpx.put(f"{api.endpoint}/api/models/{gated}/settings", json={"gated": "auto"},
                         headers={"authorization": f"Bearer {api.token}"}, trust_env=False)
    assert response.status_code == 200
    assert api.model_info(gated).gated == "auto"
    with pytest.raises(GatedRepoError):
        api.auth_check(gated)
    with pytest.raises(GatedRepoError):
        api.hf_hub_download(gated, "x.txt")
    api.auth_check(repo_id)  # the caller's own repositories are not gated


def test_paths_info_and_tree_expand_give_the_last_commit(api, repo_id):
    api.upload_file(path_or_fileobj=b"1", path_in_repo="a.txt", repo_id=repo_id,
                    commit_message="first")
    api.upload_file(path_or_fileobj=b"2", path_in_repo="dir/b.txt", repo_id=repo_id,
                    commit_message="second")
    info = {item.path: item for item in api.get_paths_info(
        repo_id, ["a.txt", "dir/b.txt", "dir", ".gitattributes"], expand=True)}
    assert info["a.txt"].last_commit.title == "first"
    assert info["dir/b.txt"].last_commit.title == "second"
    assert info["dir"].last_commit.title == "second"
    assert info[".gitattributes"].last_commit.title == "initial commit"
    assert info["a.txt"].security.status == "unscanned"  # nothing is scanned here
    tree = {item.path: item for item in api.list_repo_tree(repo_id, expand=True)}
    assert tree["a.txt"].last_commit.title == "first"


def test_a_stale_parent_gets_the_hubs_412_text(api, repo_id):
    first = api.model_info(repo_id).sha
    api.upload_file(path_or_fileobj=b"1", path_in_repo="one.txt", repo_id=repo_id)
    with pytest.raises(HfHubHTTPError, match="The branch was updated since you opened this page"):
        api.upload_file(path_or_fileobj=b"2", path_in_repo="two.txt", repo_id=repo_id,
                        parent_commit=first)


def test_a_pull_request_against_a_commit_id_is_revision_not_found(api, repo_id):
    head = api.model_info(repo_id).sha
    with pytest.raises(RevisionNotFoundError):
        api.create_commit(repo_id, operations=[CommitOperationAdd("f.txt", b"x")],
                          commit_message="PR against an oid", revision=head, create_pr=True)


def test_deleting_a_folder_by_its_name(api, repo_id):
    api.create_commit(repo_id, commit_message="files", operations=[
        CommitOperationAdd("1/a.txt", b"a"), CommitOperationAdd("1/b.txt", b"b"),
        CommitOperationAdd("2/c.txt", b"c")])
    api.create_commit(repo_id, commit_message="drop 1", operations=[CommitOperationDelete("1")])
    assert sorted(api.list_repo_files(repo_id)) == [".gitattributes", "2/c.txt"]
    with pytest.raises(EntryNotFoundError):
        api.create_commit(repo_id, commit_message="again", operations=[CommitOperationDelete("1")])


def test_repository_ids_are_case_insensitive(api, repo_id):
    api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id.upper())
    assert api.model_info(repo_id.upper()).id == repo_id  # the stored spelling
    assert "x.txt" in api.list_repo_files(repo_id.swapcase())
    with pytest.raises(HfHubHTTPError) as err:
        api.create_repo(repo_id.upper())
    assert err.value.response.status_code == 409


def test_a_missing_repo_error_reads_like_the_hubs(api):
    with pytest.raises(RepositoryNotFoundError) as err:
        api.create_commit("tester/really-not-there", operations=[CommitOperationAdd("c", b"c")],
                          commit_message="x")
    request_id = err.value.response.headers["x-request-id"]
    # The server's text is the Hub's, which the client folds into its own message.
    assert str(err.value).startswith(f"404 Client Error. (Request ID: {request_id})\n\n"
                                     "Repository Not Found for url:")
    assert "\n\nRepository not found" not in str(err.value)


def test_tags_on_short_commit_ids_and_the_revision_is_checked_first(api, repo_id):
    commit = api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    api.create_tag(repo_id, tag="short", revision=commit.oid[:7])
    assert api.model_info(repo_id, revision="short").sha == commit.oid
    with pytest.raises(RevisionNotFoundError):
        api.create_tag(repo_id, tag="invalid tag", revision="foobar")
    with pytest.raises(HfHubHTTPError):
        api.create_tag(repo_id, tag="invalid tag")


def test_branch_conflict_and_main_deletion_texts(api, repo_id):
    api.create_branch(repo_id, branch="cool-branch")
    with pytest.raises(HfHubHTTPError, match="Reference refs/heads/cool-branch already exists"):
        api.create_branch(repo_id, branch="cool-branch")
    with pytest.raises(HfHubHTTPError, match="Reference refs/heads/main already exists"):
        api.create_branch(repo_id, branch="main")
    with pytest.raises(HfHubHTTPError, match="Cannot delete refs/heads/main"):
        api.delete_branch(repo_id, branch="main")


@pytest.mark.parametrize("name", ["__DUMMY_HUB_USER__", "a", "x" * 96, "Foo-BAR_foo.bar123",
                                  "_leading_underscore"])
def test_repo_names_follow_huggingface_hubs_rule(api, name):
    repo_id = f"tester/{name}" if name != "__DUMMY_HUB_USER__" else f"{name}/repo-{uuid.uuid4().hex[:6]}"
    assert api.create_repo(repo_id, exist_ok=True).repo_id == repo_id


def test_users_given_in_a_users_file(tmp_path):
    """``--users-file`` (NAME=TOKEN lines): each token is its user, as on the Hub."""
    root = tmp_path / "root"
    users = tmp_path / "users"
    users.write_text("# the suite's two accounts\n__DUMMY_HUB_USER__=hf_first_token\n\n"
                     "DVUser=hf_other_token\n")
    users.chmod(0o600)
    process = subprocess.Popen(
        [sys.executable, "-m", "publisher.hub.server", "--root", str(root), "--port", "0",
         "--users-file", str(users)],
        cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = wait_for_endpoint(root, process)
        first = HfApi(endpoint=endpoint, token="hf_first_token")
        other = HfApi(endpoint=endpoint, token="hf_other_token")
        assert first.whoami()["name"] == "__DUMMY_HUB_USER__"
        assert other.whoami()["name"] == "DVUser"
        assert first.create_repo("shared").repo_id == "__DUMMY_HUB_USER__/shared"
        with pytest.raises(HfHubHTTPError) as err:
            HfApi(endpoint=endpoint, token="hf_wrong").whoami()
        assert err.value.response.status_code == 401
        assert not (root / "auth" / "token").exists()  # explicit tokens: none generated
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_a_moved_repository_answers_under_its_old_id(api, hub_server, cache_dir):
    old = api.create_repo(f"tester/before-{uuid.uuid4().hex[:6]}", private=True).repo_id
    api.upload_file(path_or_fileobj=b"content", path_in_repo="file.txt", repo_id=old)
    api.move_repo(old, old + "_renamed")
    assert api.model_info(old + "_renamed").id == old + "_renamed"
    path = hf_hub_download(old, "file.txt", endpoint=hub_server.endpoint, token=hub_server.token,
                           cache_dir=cache_dir)  # a 307 to the new id, followed with the token
    assert open(path).read() == "content"
    with pytest.raises(RepositoryNotFoundError):  # private: no redirect for anonymous callers
        HfApi(endpoint=hub_server.endpoint, token=False).model_info(old)
    api.move_repo(old + "_renamed", old)  # and back: the old id is a repository again
    assert api.model_info(old).id == old
    assert api.model_info(old + "_renamed").id == old  # now the new id redirects back
    anonymous = httpx.get(f"{hub_server.endpoint}/{old}_renamed/resolve/main/file.txt",
                          trust_env=False)
    assert anonymous.status_code == 404 and "location" not in anonymous.headers
