"""Hostile requests get a well-formed answer: valid headers, a JSON error, one log line each.

One test per fault found by attacking the local hub by hand (issue 16); the property-based
fuzzer (test_fuzz.py, slow suite) looks for more of the same kind.
"""

from __future__ import annotations

import base64
import json
import re
import uuid

import httpx
import pytest
from huggingface_hub import HfApi

from publisher.hub.server.limits import (
    MAX_BODY_BYTES,
    MAX_DESCRIPTION_BYTES,
    MAX_NDJSON_LINE_BYTES,
    MAX_SUMMARY_BYTES,
)

PRINTABLE_HEADER = re.compile(r"^[\x20-\x7e]*$")


@pytest.fixture
def client(hub_server):
    with httpx.Client(base_url=hub_server.endpoint, trust_env=False, timeout=30,
                      headers={"authorization": f"Bearer {hub_server.token}"}) as http:
        yield http


@pytest.fixture
def repo_id(hub_server) -> str:
    repo_id = f"tester/hardening-{uuid.uuid4().hex[:8]}"
    HfApi(endpoint=hub_server.endpoint, token=hub_server.token).create_repo(repo_id)
    return repo_id


def assert_json_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text[:500]
    assert response.headers["x-error-code"] or response.headers["x-error-message"]
    assert isinstance(response.json()["error"], str)
    for name, value in response.headers.items():
        assert PRINTABLE_HEADER.match(value), (name, value)


def ndjson(*lines: dict) -> bytes:
    return b"\n".join(json.dumps(line).encode() for line in lines)


def commit(client, repo_id: str, body: bytes) -> httpx.Response:
    return client.post(f"/api/models/{repo_id}/commit/main", content=body,
                       headers={"content-type": "application/x-ndjson"})


def files_of(client, repo_id: str) -> list[str]:
    tree = client.get(f"/api/models/{repo_id}/tree/main", params={"recursive": "true"})
    return sorted(item["path"] for item in tree.json())


@pytest.mark.parametrize("method,path", [
    ("POST", "/api/models/chaos/a%00b/preupload/main"),
    ("POST", "/api/models/chaos/a%00b/commit/main"),
    ("POST", "/api/models/chaos/a%00b/paths-info/main"),
    ("GET", "/api/models/chaos/a%00b/tree/main"),
    ("GET", "/chaos/a%00b/resolve/main/x"),
    ("GET", "/api/models/tester/{repo}/revision/%00"),
    ("GET", "/api/models/tester/{repo}/tree/ma%0Ain"),
    ("HEAD", "/tester/{repo}/resolve/main/a%00%0D%0AX-Evil:%201"),
])
def test_a_nul_or_newline_in_the_url_gets_a_json_error_with_valid_headers(client, repo_id, method, path):
    # The error text quotes the request; h11 refused the NUL in X-Error-Message and dropped
    # the connection without any answer.
    response = client.request(method, path.format(repo=repo_id.split("/")[1]))
    assert 400 <= response.status_code < 500
    assert "x-evil" not in response.headers
    for name, value in response.headers.items():
        assert PRINTABLE_HEADER.match(value), (name, value)
    if method != "HEAD":
        assert_json_error(response, response.status_code)


def test_a_nul_in_a_new_repo_name_is_a_400(client):
    response = client.post("/api/repos/create", json={"name": "a\u0000b"})
    assert_json_error(response, 400)


@pytest.mark.parametrize("name", ["x" * 200, "a b", "..", "a..b", "a--b", "name.git", "-lead",
                                  "trail.", "caf\u00e9 au lait", ""])
def test_invalid_names_on_create_are_a_400_as_on_the_hub(client, name):
    assert_json_error(client.post("/api/repos/create", json={"name": name}), 400)


def test_every_answer_carries_a_request_id(client, repo_id):
    ok = client.get(f"/api/models/{repo_id}")
    miss = client.get("/api/models/tester/does-not-exist")
    assert re.fullmatch(r"[0-9a-f]{32}", ok.headers["x-request-id"])
    assert miss.headers["x-request-id"] != ok.headers["x-request-id"]


def test_the_access_log_writes_one_printable_line_per_request(hub_server, client):
    marker = uuid.uuid4().hex
    forged = f"/chaos/xss/resolve/main/{marker}%0A2026-11-30%20FAKE%20publisher.hub.access:%20forged%20line"
    client.get(forged)
    client.get(f"/chaos/xss/resolve/main/{marker}-nul%00end")
    lines = [line for line in hub_server.log_text().splitlines() if marker in line]
    assert len(lines) == 2, lines
    assert not any(line.startswith("2026-11-30 FAKE") for line in hub_server.log_text().splitlines())
    assert "\\n2026-11-30 FAKE" in lines[0] and "\\x00end" in lines[1]
    assert all(line.isprintable() for line in lines)


@pytest.mark.parametrize("field,limit", [("summary", MAX_SUMMARY_BYTES),
                                         ("description", MAX_DESCRIPTION_BYTES)])
def test_a_commit_header_over_its_limit_is_a_413_and_commits_nothing(client, repo_id, field, limit):
    add = {"key": "file", "value": {"path": "a.txt", "content": "YQ==", "encoding": "base64"}}
    over = commit(client, repo_id, ndjson({"key": "header", "value": {field: "x" * (limit + 1)}}, add))
    assert_json_error(over, 413)
    assert files_of(client, repo_id) == [".gitattributes"]
    at_limit = commit(client, repo_id, ndjson({"key": "header", "value": {field: "x" * limit}}, add))
    assert at_limit.status_code == 200, at_limit.text


def test_an_ndjson_line_over_its_limit_is_a_413(client, repo_id):
    content = base64.b64encode(b"\x01" * (MAX_NDJSON_LINE_BYTES // 4 * 3 + 3)).decode()
    body = ndjson({"key": "header", "value": {"summary": "big"}},
                  {"key": "file", "value": {"path": "big.txt", "content": content,
                                            "encoding": "base64"}})
    assert_json_error(commit(client, repo_id, body), 413)
    assert files_of(client, repo_id) == [".gitattributes"]


def test_a_json_body_over_its_limit_is_a_413(client, repo_id):
    body = b'{"files": [' + b" " * MAX_BODY_BYTES + b"]}"
    assert_json_error(client.post(f"/api/models/{repo_id}/preupload/main", content=body,
                                  headers={"content-type": "application/json"}), 413)


@pytest.mark.parametrize("path", ["%2e%2e/escape.txt", "a/%2E%2e/b.txt", "..\\ddd", "%2e%2e\\x",
                                  "%252e%252e/x", "a//b", "a/./b", ".git/config", "tab\there"])
def test_commit_paths_are_validated_as_the_hub_does(client, repo_id, path):
    body = ndjson({"key": "header", "value": {"summary": "escape"}},
                  {"key": "file", "value": {"path": path, "content": "eA==", "encoding": "base64"}})
    assert_json_error(commit(client, repo_id, body), 422)
    assert files_of(client, repo_id) == [".gitattributes"]


def test_backslashes_inside_a_path_are_stored_as_the_hub_stores_them(client, repo_id):
    # huggingface_hub's own download tests upload "folder/..\\..\\..\\file" to the Hub.
    body = ndjson({"key": "header", "value": {"summary": "backslashes"}},
                  {"key": "file", "value": {"path": "folder/..\\..\\file", "content": "eA==",
                                            "encoding": "base64"}})
    assert commit(client, repo_id, body).status_code == 200
    assert files_of(client, repo_id) == [".gitattributes", "folder", "folder/..\\..\\file"]


def test_malformed_json_shapes_are_400s_not_crashes(client, repo_id):
    cases = [
        ("POST", "/api/repos/create", b"[1, 2]"),
        ("POST", f"/api/models/{repo_id}/preupload/main", b'{"files": [1, "x", null]}'),
        ("POST", f"/api/models/{repo_id}/commit/main", b'{"key": "header", "value": []}'),
        ("POST", f"/api/models/{repo_id}/commit/main",
         b'{"key": "header", "value": {"summary": "\\ud800"}}\n'
         b'{"key": "file", "value": {"path": "s.txt", "content": "\\ud800"}}'),
        ("POST", f"/api/models/{repo_id}/tag/main", b'{"tag": "t", "message": ["no"]}'),
        ("POST", f"/api/models/{repo_id}/branch/b", b'{"startingPoint": {"x": 1}}'),
        ("GET", "/api/models?limit=many", b""),
        ("POST", "/api/repos/create", b"[" * 100_000),
    ]
    for method, path, body in cases:
        response = client.request(method, path, content=body)
        assert 400 <= response.status_code < 500, (path, body[:80], response.text[:300])
        assert response.json()["error"]
    # The LFS batch API answers per object: the request is fine, the object is not.
    batch = client.post(f"/{repo_id}.git/info/lfs/objects/batch",
                        content=b'{"operation": "upload", "objects": [7]}')
    assert batch.status_code == 200 and batch.json()["objects"][0]["error"]["code"] == 422


def test_an_lfs_upload_with_a_non_ascii_signature_is_a_403(client):
    # Found by the fuzzer: hmac.compare_digest raised TypeError on non-ASCII text (a 500).
    response = client.put(f"/api/lfs-upload/{'a' * 64}?size=3&expires=9999999999&signature=%C2%80",
                          content=b"abc")
    assert_json_error(response, 403)
