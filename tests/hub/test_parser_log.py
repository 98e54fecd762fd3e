"""Requests refused by the HTTP parser get one escaped access line, like every other request.

uvicorn answers them 400 itself, before the app (and its access log) runs; they used to leave
only ``uvicorn.error: Invalid HTTP request received.`` in the log.
"""

from __future__ import annotations

import socket
import time
import uuid
from urllib.parse import urlsplit

import pytest


def _send_raw(endpoint: str, data: bytes) -> bytes:
    sock = socket.create_connection(("127.0.0.1", urlsplit(endpoint).port), timeout=10)
    try:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer
    finally:
        sock.close()


def _lines_with(hub, marker: str) -> list[str]:
    deadline = time.monotonic() + 5
    while True:
        lines = [line for line in hub.log_text().splitlines() if marker in line]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


CASES = {
    "nul": (b"GET /{m}/a\x00b HTTP/1.1\r\nHost: x\r\n\r\n", "/a\\x00b HTTP/1.1"),
    "cr": (b"GET /{m}/a\rb HTTP/1.1\r\nHost: x\r\n\r\n", "/a\\rb HTTP/1.1"),
    "lf": (b"GET /{m}/a\nb HTTP/1.1\r\nHost: x\r\n\r\n", "/a\\nb HTTP/1.1"),
    "two-lengths": (b"POST /{m}/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                    b"Content-Length: 6\r\n\r\nabcdef", "POST /"),
    "bad-length": (b"POST /{m}/x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", "POST /"),
    # A head over h11's 16 KiB limit that is still incomplete (no blank line yet).
    "huge-headers": (b"GET /{m}/x HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000, "GET /"),
    "non-ascii": (b"GET /{m}/caf\xe9 HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", "caf\\xe9"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_request_the_parser_refuses_gets_one_escaped_access_line(hub_server, case):
    raw, shown = CASES[case]
    marker = uuid.uuid4().hex
    answer = _send_raw(hub_server.endpoint, raw.replace(b"{m}", marker.encode()))
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    lines = _lines_with(hub_server, marker)
    assert len(lines) == 1, lines
    (line,) = lines
    assert "publisher.hub.access" in line and line.endswith("refused by the HTTP parser")
    assert shown in line and '" 400 ' in line and "127.0.0.1" in line
    assert line.isprintable() and len(line) < 2200
    assert "Invalid HTTP request received." not in hub_server.log_text()


def test_a_valid_request_after_a_refused_one_is_logged_as_usual(hub_server):
    marker = uuid.uuid4().hex
    _send_raw(hub_server.endpoint, f"GET /{marker}\x00 HTTP/1.1\r\n\r\n".encode())
    answer = _send_raw(hub_server.endpoint, f"GET /api/models/t/{marker} HTTP/1.1\r\nHost: x\r\n"
                                            "Connection: close\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 404")
    lines = _lines_with(hub_server, marker)
    assert len(lines) == 2 and lines[1].endswith("ms"), lines
    assert f'"GET /api/models/t/{marker}" 404' in lines[1]
