"""Request bodies are bounded in time and in number (app.py's BodyGate), over raw sockets.

A client that announced a 200 MB body and sent 15 bytes held its connection for as long as it
stayed connected. The server here runs with a 1 s body timeout and two upload slots, so every
case takes about a second.
"""

from __future__ import annotations

import hashlib
import socket
import time
import uuid
from urllib.parse import urlsplit

import httpx
import pytest
from huggingface_hub import HfApi

from tests.fixtures_hub import start_hub_server

TIMEOUT_S = 1.0
SLOTS = 2


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    server = start_hub_server(tmp_path_factory.mktemp("body-limits"),
                              extra_args=("--body-timeout", str(TIMEOUT_S),
                                          "--max-uploads", str(SLOTS)))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def repo_id(hub) -> str:
    return HfApi(endpoint=hub.endpoint, token=hub.token).create_repo(
        f"tester/slow-{uuid.uuid4().hex[:6]}").repo_id


def _open(hub, method: str, path: str, *, declared: int, sent: bytes, token: bool = True,
          rcvbuf: int | None = None) -> socket.socket:
    """A connection that sent the request head and ``sent`` of a ``declared``-byte body."""
    port = urlsplit(hub.endpoint).port
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(15)
    sock.connect(("127.0.0.1", port))
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {declared}",
            "Content-Type: application/octet-stream"]
    if token:
        head.append(f"Authorization: Bearer {hub.token}")
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + sent)
    return sock


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes, bool]:
    """Status, headers and body of the answer, and whether the server then closed the socket."""
    data = b""
    closed = False
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            closed = True
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    headers = {k.lower(): v for k, v in headers.items()}
    length = int(headers.get("content-length", "0"))
    while len(body) < length and not closed:
        chunk = sock.recv(65536)
        closed = not chunk
        body += chunk
    if not closed:
        try:
            closed = sock.recv(1) == b""
        except socket.timeout:
            closed = False
    return int(lines[0].split()[1]), headers, body, closed


def test_a_commit_body_that_stalls_is_answered_408_and_closed(hub, repo_id):
    started = time.monotonic()
    sock = _open(hub, "POST", f"/api/models/{repo_id}/commit/main", declared=200_000_000,
                 sent=b'{"key": "head')
    try:
        status, headers, body, closed = _answer(sock)
    finally:
        sock.close()
    elapsed = time.monotonic() - started
    assert status == 408 and headers["x-error-code"] == "RequestTimeout", body
    assert b"no data for 1 s" in body
    assert closed, "the connection must be closed after a stalled body"
    assert TIMEOUT_S <= elapsed < TIMEOUT_S + 5, elapsed


def test_a_stalled_lfs_upload_is_a_408_and_leaves_no_temp_file(hub, repo_id):
    content = uuid.uuid4().bytes * 4
    oid = hashlib.sha256(content).hexdigest()
    api = httpx.post(f"{hub.endpoint}/{repo_id}.git/info/lfs/objects/batch", trust_env=False,
                     headers={"authorization": f"Bearer {hub.token}"},
                     json={"operation": "upload", "objects": [{"oid": oid, "size": len(content)}]})
    href = urlsplit(api.json()["objects"][0]["actions"]["upload"]["href"])
    sock = _open(hub, "PUT", f"{href.path}?{href.query}", declared=len(content), sent=content[:5],
                 token=False)
    try:
        status, headers, _, closed = _answer(sock)
    finally:
        sock.close()
    assert status == 408 and closed
    assert list((hub.root / "lfs" / "tmp").iterdir()) == []
    assert not (hub.root / "lfs" / "objects" / oid[:2] / oid[2:4] / oid).exists()


def test_uploads_beyond_the_slots_get_a_503_and_small_bodies_are_still_served(hub, repo_id):
    path = f"/api/models/{repo_id}/commit/main"
    stalled = [_open(hub, "POST", path, declared=1_000_000, sent=b"x" * 10) for _ in range(SLOTS)]
    try:
        time.sleep(0.2)  # both hold a slot
        extra = _open(hub, "POST", path, declared=1_000_000, sent=b"y" * 10)
        started = time.monotonic()
        status, headers, body, closed = _answer(extra)
        extra.close()
        assert status == 503 and headers["retry-after"] == "1", body
        assert headers["x-error-code"] == "ServiceUnavailable" and closed
        assert time.monotonic() - started < TIMEOUT_S  # refused at once, not queued
        # A body that arrives whole needs no slot: the API keeps answering.
        client = HfApi(endpoint=hub.endpoint, token=hub.token)
        assert client.list_repo_files(repo_id) == [".gitattributes"]
        client.create_branch(repo_id, branch=f"b-{uuid.uuid4().hex[:6]}")
        for sock in stalled:
            assert _answer(sock)[0] == 408
    finally:
        for sock in stalled:
            sock.close()
    # The slots were given back: a new slow body is timed out, not refused.
    again = _open(hub, "POST", path, declared=1_000_000, sent=b"z" * 10)
    try:
        assert _answer(again)[0] == 408
    finally:
        again.close()


def test_a_download_slower_than_the_body_timeout_completes(hub, repo_id):
    # After the request body, starlette waits on receive() for a disconnect while a download
    # streams: that wait is not a body and must not time out.
    api = HfApi(endpoint=hub.endpoint, token=hub.token)
    content = b"\x00" + uuid.uuid4().bytes * 250_000  # binary: stored in LFS, streamed
    api.upload_file(path_or_fileobj=content, path_in_repo="weights.bin", repo_id=repo_id)
    sock = _open(hub, "GET", f"/{repo_id}/resolve/main/weights.bin", declared=0, sent=b"",
                 rcvbuf=4096)
    try:
        first = sock.recv(4096)
        assert first.startswith(b"HTTP/1.1 200")
        time.sleep(TIMEOUT_S * 2)
        data = first
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            data += chunk
            if len(data.partition(b"\r\n\r\n")[2]) >= len(content):
                break
    finally:
        sock.close()
    assert data.partition(b"\r\n\r\n")[2] == content
    assert "Internal error" not in hub.log_text()


@pytest.mark.parametrize("path", ["/api/models/{repo}/branch/%ff",
                                  "/api/models/{repo}/branch/a%ED%A0%80"])
def test_percent_encoded_bytes_that_are_not_utf8_are_a_400(hub_server, path):
    # Found by the ref-name fuzzer: "%ff" was decoded with replacement and a branch named
    # "\ufffd" (a name the client never sent) was created.
    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.token)
    repo = api.create_repo(f"tester/utf8-{uuid.uuid4().hex[:6]}").repo_id
    response = httpx.post(hub_server.endpoint + path.format(repo=repo), json={}, trust_env=False,
                          headers={"authorization": f"Bearer {hub_server.token}"})
    assert response.status_code == 400 and response.headers["x-error-code"] == "BadRequest"
    assert "not UTF-8" in response.json()["error"]
    assert [b.name for b in api.list_repo_refs(repo).branches] == ["main"]
    assert httpx.get(f"{hub_server.endpoint}/{repo}/resolve/main/caf%e9.txt",
                     trust_env=False).status_code == 400
    assert httpx.get(f"{hub_server.endpoint}/{repo}/resolve/main/caf%C3%A9.txt",
                     trust_env=False).status_code == 404  # UTF-8: an ordinary miss
