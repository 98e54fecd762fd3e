"""Property-based fuzzing of every route of the local hub (slow suite).

A server is started on loopback for the run, with a few repositories to aim at. Hypothesis then
drives every route with generated repo ids, revisions, paths (NUL, control characters, ``..``,
percent-encodings, very long segments), headers and bodies (NDJSON commits, LFS batch and upload
requests, arbitrary JSON). After every request:

- it got an HTTP response, and not a 5xx;
- an error has an ``X-Error-Code`` and (unless HEAD) a JSON body with an ``error`` text;
- every header value is printable ASCII;

and after the run: the server still serves, nothing was written outside its root, and every
line of its log is one line of printable text. Two further properties keep a model of what the
server must hold: branch and tag names (nested, long, differing only in case) and discussions.

The default run is bounded (seed and example count fixed, so CI is reproducible). A longer run:
``FUZZ_EXAMPLES=20000 FUZZ_SEED=random .venv/bin/python -m pytest -m slow tests/hub/test_fuzz.py
-p no:cacheprovider`` (see docs/local-hub.md).
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from publisher.hub.server.limits import MAX_SUMMARY_BYTES
from tests.fixtures_hub import start_hub_server

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "600"))
SEED = os.environ.get("FUZZ_SEED", "20261130")
PRINTABLE = re.compile(r"^[\x20-\x7e]*$")
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ [\w.]+: ")
REPO_FILES = {"README.md": b"---\nlicense: mit\n---\n# Fuzz\n", "dir/a.txt": b"a\n",
              "w.safetensors": b"\x00" * 32}
SERVER_ENTRIES = {"repos", "lfs", "auth", "logs", "server.json", "server.lock"}


class Target:
    """What the generators aim at: the server, its tokens, and repositories that exist."""

    def __init__(self, hub) -> None:
        self.hub = hub
        self.repos = ["tester/fuzz", "tester/Fuzz-Two", "tester/fuzz-private"]
        self.client = httpx.Client(base_url=hub.endpoint, trust_env=False, timeout=60)


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz-hub")
    hub = start_hub_server(base)
    aim = Target(hub)
    auth = {"authorization": f"Bearer {hub.token}"}
    for repo_id in aim.repos:
        namespace, name = repo_id.split("/")
        aim.client.post("/api/repos/create", headers=auth, json={
            "name": name, "organization": namespace,
            "private": repo_id.endswith("private")}).raise_for_status()
    lines = [{"key": "header", "value": {"summary": "seed files"}}]
    lines += [{"key": "file", "value": {"path": path, "encoding": "base64",
                                        "content": base64.b64encode(data).decode()}}
              for path, data in REPO_FILES.items()]
    aim.client.post("/api/models/tester/fuzz/commit/main", headers=auth,
                    content="\n".join(map(json.dumps, lines))).raise_for_status()
    aim.client.post("/api/models/tester/fuzz/tag/main", headers=auth,
                    json={"tag": "v1"}).raise_for_status()
    before = sorted(p.name for p in base.iterdir())
    try:
        yield aim
        assert_server_survived(aim, base, before)
    finally:
        aim.client.close()
        hub.stop()


def assert_server_survived(aim: Target, base: Path, before: list[str]) -> None:
    status = aim.client.get("/api/local/status")
    assert status.status_code == 200 and aim.hub.process.poll() is None
    # Nothing outside the root: the base folder holds what it held, the root only its own.
    assert sorted(p.name for p in base.iterdir()) == before
    assert {p.name for p in aim.hub.root.iterdir()} <= SERVER_ENTRIES
    for kind in (aim.hub.root / "repos").iterdir():
        if kind.is_file():
            assert kind.name.startswith(".redirects-"), kind
            continue
        for namespace in kind.iterdir():
            assert all(repo.name.endswith(".git") for repo in namespace.iterdir()), namespace
    log = aim.hub.log_text()
    for line in log.splitlines():
        assert line.isprintable(), line[:300]
        assert LOG_LINE.match(line) or line.startswith("Local hub") or line.startswith("  "), line[:300]


# -- generators ---------------------------------------------------------------------------------

NASTY = ["..", ".", "%2e%2e", "%2E%2e", "..\\x", "a\\..\\b", "\x00", "a\x00b", "\n", "\r\n",
         "%00", "%0A", "%0D%0AX-Injected: 1", "%252e%252e", "refs%2Fpr%2F1", "refs/pr/1",
         "refs%2Fheads%2Fmain", "x" * 300, "é", "\ud800", "%ff%fe", " ", "~", "*", "?", "#",
         ".git", "a.git", "-", "__DUMMY_HUB_USER__", "main", "v1", "0" * 40, "abcdef1"]

raw_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
segment = st.one_of(st.sampled_from(NASTY), raw_text,
                    st.text(alphabet="abcXYZ019-_.%/\\", min_size=1, max_size=20))


def url_segment(text: str) -> str:
    """Percent-encode whatever is not safe in a URL; keep '%' so that encodings get through."""
    return quote(text, safe="%-._~", errors="surrogatepass")


@st.composite
def repo_ids(draw, aim: Target) -> str:
    if draw(st.booleans()):
        return draw(st.sampled_from(aim.repos + ["tester/FUZZ", "tester/missing"]))
    parts = draw(st.lists(segment, min_size=1, max_size=3))
    return "/".join(url_segment(p) for p in parts)


@st.composite
def revisions(draw) -> str:
    return url_segment(draw(st.one_of(st.sampled_from(["main", "v1", "refs%2Fpr%2F1"]), segment)))


@st.composite
def file_paths(draw) -> str:
    if draw(st.booleans()):
        return draw(st.sampled_from(list(REPO_FILES) + ["dir", "missing.txt"]))
    return "/".join(draw(st.lists(segment, min_size=1, max_size=4)))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | raw_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(raw_text, inner, max_size=4),
    max_leaves=12)


@st.composite
def commit_bodies(draw) -> bytes:
    header = draw(st.dictionaries(
        st.sampled_from(["summary", "description", "parentCommit", "other"]),
        st.one_of(raw_text, json_values, st.just("x" * (MAX_SUMMARY_BYTES + 1)),
                  st.just("0" * 40)), max_size=3))
    lines = [{"key": "header", "value": header}] if draw(st.booleans()) or not header else []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["file", "lfsFile", "deletedFile", "deletedFolder", "bogus"]))
        value = {"path": draw(st.one_of(file_paths(), json_values))}
        if kind == "file":
            value.update(encoding=draw(st.sampled_from(["base64", "utf-8", "rot13"])),
                         content=draw(st.one_of(raw_text, st.just("YWJj"), json_values)))
        elif kind == "lfsFile":
            value.update(algo=draw(st.sampled_from(["sha256", "md5"])),
                         oid=draw(st.one_of(st.just("a" * 64), raw_text)),
                         size=draw(st.one_of(st.integers(-5, 2**40), json_values)))
        lines.append({"key": kind, "value": draw(st.one_of(st.just(value), json_values))})
    text = "\n".join(json.dumps(line) for line in lines)
    if draw(st.integers(0, 9)) == 0:
        text += "\n" + draw(raw_text)  # a broken line
    return text.encode("utf-8", "surrogatepass")


@st.composite
def lfs_bodies(draw) -> bytes:
    objects = draw(st.lists(st.one_of(
        st.fixed_dictionaries({"oid": st.one_of(st.just("b" * 64), raw_text),
                               "size": st.one_of(st.integers(-1, 2**50), json_values)}),
        json_values), max_size=3))
    body = {"operation": draw(st.sampled_from(["upload", "download", "delete"])),
            "transfers": ["basic"], "objects": objects}
    return json.dumps(body).encode()


@st.composite
def requests(draw, aim: Target):
    """(method, path-with-query, headers, body) for one route, filled with generated parts."""
    repo = draw(repo_ids(aim))
    kind = draw(st.sampled_from(["models", "datasets", "spaces", url_segment(draw(segment))]))
    prefix = "" if kind == "models" else f"{kind}/"
    rev, path = draw(revisions()), url_segment(draw(file_paths())).replace("%2F", "/")
    json_body = draw(st.one_of(json_values, st.dictionaries(raw_text, json_values, max_size=3)))
    routes = [
        ("GET", "/api/whoami-v2", None),
        ("POST", "/api/repos/create", {"name": draw(segment), "organization": draw(segment),
                                       "type": draw(st.sampled_from(["model", "dataset", "x"]))}),
        ("DELETE", "/api/repos/delete", {"name": "missing-" + draw(segment), "type": "model"}),
        ("POST", "/api/repos/move", {"fromRepo": draw(repo_ids(aim)), "toRepo": draw(repo_ids(aim)),
                                     "type": draw(st.sampled_from(["model", "dataset", "x"]))}),
        ("POST", "/api/validate-yaml", {"content": draw(raw_text)}),
        ("GET", f"/api/{kind}", None),
        ("GET", f"/api/{kind}/{repo}", None),
        ("GET", f"/api/{kind}/{repo}/revision/{rev}", None),
        ("GET", f"/api/{kind}/{repo}/tree/{rev}/{path}?recursive=true&expand=true", None),
        ("POST", f"/api/{kind}/{repo}/paths-info/{rev}", {"paths": [draw(file_paths())],
                                                          "expand": True}),
        ("GET", f"/api/{kind}/{repo}/refs?include_prs=1", None),
        ("GET", f"/api/{kind}/{repo}/commits/{rev}?p={url_segment(draw(segment))}", None),
        ("POST", f"/api/{kind}/{repo}/branch/{rev}", {"startingPoint": draw(segment)}),
        ("DELETE", f"/api/{kind}/{repo}/branch/{rev}", None),
        ("POST", f"/api/{kind}/{repo}/tag/{rev}", {"tag": draw(segment), "message": draw(raw_text)}),
        ("DELETE", f"/api/{kind}/{repo}/tag/{rev}", None),
        ("PUT", f"/api/{kind}/{repo}/settings", {"private": draw(st.booleans()),
                                                 "gated": draw(json_values)}),
        ("GET", f"/api/{kind}/{repo}/auth-check", None),
        ("POST", f"/api/{kind}/{repo}/preupload/{rev}", {"files": [{"path": draw(file_paths()),
                                                                    "size": draw(json_values),
                                                                    "sample": draw(raw_text)}]}),
        ("POST", f"/api/{kind}/{repo}/commit/{rev}?create_pr={draw(st.booleans())}",
         draw(commit_bodies())),
        ("POST", f"/api/{kind}/{repo}/discussions", {"title": draw(raw_text),
                                                     "pullRequest": draw(json_values)}),
        ("GET", f"/api/{kind}/{repo}/discussions/{url_segment(draw(segment))}", None),
        ("POST", f"/{prefix}{repo}.git/info/lfs/objects/batch", draw(lfs_bodies())),
        ("POST", f"/{prefix}{repo}.git/info/lfs/objects/verify", json_body),
        ("PUT", f"/api/lfs-upload/{url_segment(draw(segment))}?size=3&expires=9999999999&"
                f"signature={url_segment(draw(segment))}", draw(st.binary(max_size=64))),
        ("GET", f"/{prefix}{repo}/resolve/{rev}/{path}", None),
        ("HEAD", f"/{prefix}{repo}/resolve/{rev}/{path}", None),
        ("GET", f"/{prefix}{repo}", None),
        ("GET", f"/{prefix}{repo}/tree/{rev}", None),
        ("GET", "/", None),
        (draw(st.sampled_from(["PATCH", "OPTIONS", "GET"])), "/" + "/".join(
            url_segment(s) for s in draw(st.lists(segment, max_size=5))), None),
    ]
    method, url, body = draw(st.sampled_from(routes))
    if body is None and method in ("POST", "PUT"):
        body = json_body
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 7)) == 0 and method in ("POST", "PUT"):
        body = draw(st.binary(max_size=200))
    token = draw(st.sampled_from([aim.hub.token, aim.hub.read_token, None, "nope", "Bearer"]))
    headers = {}
    if token is not None:
        headers["authorization"] = token if token == "Bearer" else f"Bearer {token}"
    if draw(st.booleans()):
        headers["range"] = draw(st.one_of(st.sampled_from(["bytes=0-0", "bytes=5-", "bytes=-3",
                                                           "bytes=9-1", "bytes=0-1,3-4"]),
                                          st.text(alphabet="bytes=0123456789-,", max_size=20)))
    if draw(st.booleans()):
        headers["content-type"] = draw(st.sampled_from(
            ["application/json", "application/x-ndjson", "application/x-www-form-urlencoded",
             "text/plain"]))
    return method, url, headers, body


# -- the property ---------------------------------------------------------------------------------


def check_answer(method: str, url: str, response: httpx.Response) -> None:
    where = f"{method} {url[:300]} -> {response.status_code}"
    assert response.status_code < 500, f"{where}: {response.text[:500]}"
    for name, value in response.headers.items():
        assert PRINTABLE.match(value), f"{where}: header {name}={value!r}"
    if response.status_code >= 400:
        assert response.headers.get("x-error-code"), where
        if method != "HEAD" and "text/html" not in response.headers.get("content-type", ""):
            payload = response.json()
            assert isinstance(payload, dict) and isinstance(payload.get("error"), str), where


def _seeded(test):
    if SEED == "random":
        return test
    return seed(int(SEED))(test)


def test_every_route_answers_well_formed_errors_and_keeps_serving(target):
    started = time.monotonic()
    seen = {"requests": 0}

    @_seeded
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(request=requests(target))
    def one_request(request) -> None:
        method, url, headers, body = request
        try:
            response = target.client.request(method, url, headers=headers, content=body)
        except httpx.HTTPError as exc:  # no answer at all: the first invariant broken
            pytest.fail(f"{method} {url[:300]}: no HTTP response ({exc!r})")
        seen["requests"] += 1
        check_answer(method, url, response)

    one_request()
    elapsed = time.monotonic() - started
    print(f"fuzz: {seen['requests']} requests in {elapsed:.1f} s (seed {SEED})")
    assert seen["requests"] >= min(EXAMPLES, 100)
    ping = target.client.get("/api/models/tester/fuzz")
    assert ping.status_code == 200 and ping.json()["id"] == "tester/fuzz"


def test_raw_request_lines_get_an_answer(target):
    """Bytes no HTTP client would send (a raw NUL, CR or LF, non-UTF-8) in the request target."""
    host, port = "127.0.0.1", target.hub.port
    sent = {"n": 0}

    @_seeded
    @settings(max_examples=max(EXAMPLES // 4, 50), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(path=st.binary(min_size=1, max_size=300), method=st.sampled_from([b"GET", b"POST", b"HEAD"]))
    def one_line(path: bytes, method: bytes) -> None:
        request = (method + b" /" + path + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                   b"Connection: close\r\n\r\n")
        with socket.create_connection((host, port), timeout=30) as conn:
            conn.sendall(request)
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        sent["n"] += 1
        assert answer.startswith(b"HTTP/1.1 "), (request[:200], answer[:200])
        status = int(answer[9:12])
        assert status < 500, (request[:200], answer[:500])

    one_line()
    assert sent["n"] >= 50
    assert target.client.get("/api/local/status").status_code == 200


def test_a_uuid_marker_proves_the_log_is_read(target):
    # Guards the log invariant against a log that silently stopped being written.
    marker = uuid.uuid4().hex
    target.client.get(f"/api/models/tester/{marker}")
    deadline = time.monotonic() + 10  # the line is written once the answer has been sent
    while marker not in target.hub.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker in target.hub.log_text()


# -- ref names and discussions: a model of what the server must hold ------------------------------

REF_REPO = "tester/fuzz-refs"
# Pieces that make nested names ("a/b" under "a"), names that differ only in case, and names
# at and over the 200-byte limit (in ASCII and in 2-byte UTF-8).
REF_PIECES = ["a", "A", "b", "dev", "Dev", "x.y", "v1", "tt", "u", "é", "x" * 199, "é" * 100,
              "..", ".lock", "HEAD", "@", "-", " ", "\x00", "\ud800", "refs", "heads", "pr", "1"]


@st.composite
def ref_names(draw) -> str:
    if draw(st.integers(0, 5)) == 0:
        return draw(st.one_of(st.sampled_from(NASTY), raw_text))
    return "/".join(draw(st.lists(st.sampled_from(REF_PIECES), min_size=1, max_size=3)))


ref_operations = st.lists(st.tuples(st.sampled_from(["branch", "tag", "delete-branch",
                                                     "delete-tag"]), ref_names()),
                          min_size=1, max_size=8)


def _expected_create(name: str, kind: str, held: set[str]) -> int:
    from publisher.hub.server.refnames import ref_conflict, ref_name_problem

    if ref_name_problem(name, kind):
        return 400
    if name in held or ref_conflict(name, held):
        return 409
    return 200


def test_ref_names_keep_the_refs_consistent(target):
    """Branches and tags created and deleted under generated names: each answer is the one the
    rule predicts (400 invalid, 409 existing or clashing, never a 5xx), and the refs the server
    lists are exactly those a model of the operations holds."""
    auth = {"authorization": f"Bearer {target.hub.token}"}
    namespace, name = REF_REPO.split("/")
    target.client.post("/api/repos/create", headers=auth,
                       json={"name": name, "organization": namespace}).raise_for_status()
    base = f"/api/models/{REF_REPO}"
    counts = {"requests": 0}

    def listed() -> tuple[set[str], set[str]]:
        refs = target.client.get(f"{base}/refs").json()
        return {b["name"] for b in refs["branches"]}, {t["name"] for t in refs["tags"]}

    @_seeded
    @settings(max_examples=max(EXAMPLES // 4, 50), deadline=None, database=None,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(operations=ref_operations)
    def run(operations) -> None:
        branches, tags = listed()
        for held_name in branches - {"main"}:
            target.client.delete(f"{base}/branch/{quote(held_name, safe='')}", headers=auth)
        for held_name in tags:
            target.client.delete(f"{base}/tag/{quote(held_name, safe='')}", headers=auth)
        branches, tags = {"main"}, set()
        assert listed() == (branches, tags)
        for operation, ref in operations:
            # Dots encoded too: a client removes "." and ".." segments from a URL path.
            encoded = quote(ref, safe="", errors="surrogatepass").replace(".", "%2E")
            if operation == "branch":
                url, body = f"{base}/branch/{encoded}", b"{}"
                short = ref.removeprefix("refs/heads/")
                expected = _expected_create(ref, "branch", branches)
                if expected != 400:
                    expected = 409 if short in branches else _expected_create(short, "branch",
                                                                               branches)
                if not ref:
                    expected = None  # no name in the URL: no route (404), nothing created
            elif operation == "tag":
                url = f"{base}/tag/main"
                body = json.dumps({"tag": ref}).encode()
                short, expected = ref, _expected_create(ref, "tag", tags) if ref else 400
            else:
                held = branches if operation == "delete-branch" else tags
                kind = operation.removeprefix("delete-")
                short = ref.removeprefix("refs/heads/") if kind == "branch" else ref
                url, body = f"{base}/{kind}/{encoded}", None
                expected = 200 if short in held else None  # a miss: 404, or 400 if invalid
                if kind == "branch" and short == "main":
                    expected = 403  # the default branch stays
            method = "DELETE" if operation.startswith("delete") else "POST"
            response = target.client.request(method, url, headers=auth, content=body)
            counts["requests"] += 1
            check_answer(method, url, response)
            where = f"{operation} {ref[:80]!r} -> {response.status_code}: {response.text[:300]}"
            if expected is None:
                assert response.status_code in (400, 404), where
            else:
                assert response.status_code == expected, where
            if response.status_code == 200:
                if operation == "branch":
                    branches.add(short)
                elif operation == "tag":
                    tags.add(short)
                else:
                    (branches if operation == "delete-branch" else tags).discard(short)
            assert listed() == (branches, tags), where

    run()
    assert counts["requests"] >= 50


@st.composite
def discussion_bodies(draw) -> bytes:
    text = st.one_of(raw_text, st.text(max_size=20), st.sampled_from(["\ud800", "a\udfffb", ""]),
                     json_values)
    body = draw(st.dictionaries(st.sampled_from(["title", "description", "pullRequest"]), text,
                                max_size=3))
    return json.dumps(body).encode("utf-8", "surrogatepass")


def test_no_discussion_poisons_the_list(target):
    """Whatever a discussion is opened with (lone surrogates, non-strings), it is refused or
    stored, and the list and every stored discussion keep answering."""
    auth = {"authorization": f"Bearer {target.hub.token}"}
    base = "/api/models/tester/fuzz/discussions"

    @_seeded
    @settings(max_examples=max(EXAMPLES // 6, 30), deadline=None, database=None,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(body=discussion_bodies())
    def run(body: bytes) -> None:
        response = target.client.post(base, headers=auth, content=body)
        check_answer("POST", base, response)
        listing = target.client.get(base)
        assert listing.status_code == 200, (body[:200], listing.text[:300])
        if response.status_code == 200:
            num = response.json()["num"]
            details = target.client.get(f"{base}/{num}")
            assert details.status_code == 200, (body[:200], details.text[:300])

    run()
