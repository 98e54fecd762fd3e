"""The /api routes of the local hub against hostile input: ref names and discussion text.

Driven by the real huggingface_hub client where it can send the input, by httpx where it
cannot (the client refuses a lone surrogate before sending).
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import BadRequestError, HfHubHTTPError

from publisher.hub.server.limits import MAX_SUMMARY_BYTES


@pytest.fixture
def api(hub_server) -> HfApi:
    return HfApi(endpoint=hub_server.endpoint, token=hub_server.token)


@pytest.fixture
def repo_id(api) -> str:
    return api.create_repo(f"tester/api-{uuid.uuid4().hex[:8]}").repo_id


@pytest.fixture
def client(hub_server):
    with httpx.Client(base_url=hub_server.endpoint, trust_env=False, timeout=30,
                      headers={"authorization": f"Bearer {hub_server.token}"}) as http:
        yield http


def _refs(api: HfApi, repo_id: str) -> tuple[list[str], list[str]]:
    refs = api.list_repo_refs(repo_id)
    return sorted(b.name for b in refs.branches), sorted(t.name for t in refs.tags)


def _status(error: HfHubHTTPError) -> tuple[int, str]:
    return error.response.status_code, error.response.headers.get("x-error-code", "")


def _no_internal_errors(hub_server) -> None:
    assert "Internal error" not in hub_server.log_text()


@pytest.mark.parametrize("first,second", [("dev", "dev/x"), ("p/q", "p"), ("a", "a/b/c"),
                                          ("a/b/c", "a/b")])
def test_a_branch_nested_under_or_holding_another_is_a_409(api, repo_id, hub_server, first, second):
    # dev then dev/x was a 500 (NotADirectoryError on refs/heads/dev/x.lock).
    api.create_branch(repo_id, branch=first)
    before = _refs(api, repo_id)
    with pytest.raises(HfHubHTTPError) as error:
        api.create_branch(repo_id, branch=second)
    assert _status(error.value) == (409, "Conflict")
    assert repr(first) in error.value.response.json()["error"]
    assert _refs(api, repo_id) == before
    _no_internal_errors(hub_server)


@pytest.mark.parametrize("first,second", [("tt", "tt/u"), ("r/s", "r")])
def test_a_tag_nested_under_or_holding_another_is_a_409(api, repo_id, hub_server, first, second):
    api.create_tag(repo_id, tag=first)
    before = _refs(api, repo_id)
    with pytest.raises(HfHubHTTPError) as error:
        api.create_tag(repo_id, tag=second)
    assert _status(error.value) == (409, "Conflict")
    assert _refs(api, repo_id) == before
    _no_internal_errors(hub_server)


def test_a_branch_and_a_tag_do_not_clash(api, repo_id):
    # Branches and tags live in different folders: dev (branch) and dev/x (tag) may coexist.
    api.create_branch(repo_id, branch="dev")
    api.create_tag(repo_id, tag="dev/x")
    assert _refs(api, repo_id) == (["dev", "main"], ["dev/x"])


def test_a_nested_branch_can_be_made_once_its_parent_is_deleted(api, repo_id):
    api.create_branch(repo_id, branch="dev")
    api.delete_branch(repo_id, branch="dev")
    api.create_branch(repo_id, branch="dev/x")
    api.delete_branch(repo_id, branch="dev/x")
    api.create_branch(repo_id, branch="dev")  # refs/heads/dev/ was removed with its last ref
    assert _refs(api, repo_id)[0] == ["dev", "main"]


@pytest.mark.parametrize("name", ["x" * 300, "a" * 201, "a..b", "a b", "x.lock", "-x", "a:b",
                                  "refs/pr/1", "0" * 40])
def test_an_invalid_or_too_long_name_is_a_400_before_any_write(api, repo_id, hub_server, name):
    # A 300-character name was a 500 (OSError: File name too long).
    before = _refs(api, repo_id)
    with pytest.raises(BadRequestError) as branch:
        api.create_branch(repo_id, branch=name)
    with pytest.raises(BadRequestError) as tag:
        api.create_tag(repo_id, tag=name)
    for error in (branch.value, tag.value):
        assert _status(error) == (400, "BadRequest")
    assert branch.value.response.json()["error"].startswith("Invalid reference for a branch: ")
    assert "Invalid tag name" in tag.value.response.json()["error"]
    assert _refs(api, repo_id) == before
    _no_internal_errors(hub_server)


def test_a_name_at_the_limit_is_created(api, repo_id):
    name = "b" * 200
    api.create_branch(repo_id, branch=name)
    api.create_tag(repo_id, tag=name)
    assert _refs(api, repo_id) == (sorted([name, "main"]), [name])


def test_revisions_no_ref_can_have_are_a_404_not_a_500(api, repo_id, client):
    api.create_branch(repo_id, branch="dev")
    for revision in ("dev%2Fx", "z" * 300):
        response = client.get(f"/api/models/{repo_id}/revision/{revision}")
        assert response.status_code == 404 and response.headers["x-error-code"] == "RevisionNotFound"


def _discuss(client, repo_id: str, body: bytes) -> httpx.Response:
    return client.post(f"/api/models/{repo_id}/discussions", content=body,
                       headers={"content-type": "application/json"})


@pytest.mark.parametrize("body", [
    b'{"title": "\\ud800"}', b'{"title": "ok", "description": "x\\udfffy"}',
    b'{"title": "ok", "description": "\\ud83d"}',
])
def test_discussion_text_with_a_lone_surrogate_is_a_400_and_stores_nothing(api, client, repo_id, body):
    # It was answered 200 and stored; every later list of discussions then answered 400.
    response = _discuss(client, repo_id, body)
    assert response.status_code == 400 and response.headers["x-error-code"] == "BadRequest"
    assert "lone surrogate" in response.json()["error"]
    assert list(api.get_repo_discussions(repo_id)) == []


def test_discussion_fields_must_be_strings_within_limits(client, repo_id):
    assert _discuss(client, repo_id, b'{"title": {"x": 1}}').status_code == 400
    assert _discuss(client, repo_id, b'{"title": "t", "description": 7}').status_code == 400
    long_title = json.dumps({"title": "x" * (MAX_SUMMARY_BYTES + 1)}).encode()
    assert _discuss(client, repo_id, long_title).status_code == 413


def test_a_pr_commit_with_a_lone_surrogate_is_a_400(api, client, repo_id):
    body = (b'{"key": "header", "value": {"summary": "\\ud800"}}\n'
            b'{"key": "file", "value": {"path": "a.txt", "content": "YQ==", "encoding": "base64"}}')
    response = client.post(f"/api/models/{repo_id}/commit/main?create_pr=1", content=body,
                           headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 400 and "lone surrogate" in response.json()["error"]
    assert list(api.get_repo_discussions(repo_id)) == []


def test_a_record_an_older_version_stored_is_served_with_replacement_characters(
        api, repo_id, hub_server):
    num = api.create_discussion(repo_id, title="placeholder", description="body").num
    path = hub_server.root / "repos" / "models" / f"{repo_id}.git" / "hub" / "discussions" / f"{num}.json"
    assert path.is_file()
    data = json.loads(path.read_text())
    data.update(title="bad \ud800 title", description="bad \udfff body")
    path.write_text(json.dumps(data))  # as json.dump wrote it before: "\ud800" escaped
    (listed,) = api.get_repo_discussions(repo_id)
    assert listed.title == "bad \ufffd title"
    details = api.get_discussion_details(repo_id, num)
    assert details.events[0].content == "bad \ufffd body"
