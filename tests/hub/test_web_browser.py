"""What a reader sees on the card page, read from a real headless Chromium (slow suite).

Chromium is Debian's ``chromium`` package. When it is missing, the fixture installs it with
apt-get (as root, as on the project's machines and CI); elsewhere the test is skipped with the
command to run. The test drives Chromium over the DevTools protocol with a small WebSocket client
of its own (no extra Python dependency): it loads the page, waits for it (images included), and
reads the rendered text, the evaluation table, the file list and the card's image as the browser
laid them out, and listens for any JavaScript dialog the card might have smuggled in.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from urllib.parse import urlsplit

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from tests.hub.test_web import CARD, PNG

pytestmark = pytest.mark.slow


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
                       env=env, capture_output=True, timeout=900)
        found = shutil.which("chromium")
    if not found:
        pytest.skip("needs Debian's chromium: apt-get install chromium")
    return found


class WebSocket:
    """Just enough of RFC 6455 for the DevTools protocol: text frames, client-side masking."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {parts.path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert b" 101 " in head.split(b"\r\n")[0], head

    def _recv(self) -> bytes:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EOFError("DevTools closed the connection")
        return chunk

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self.buffer += self._recv()
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def send(self, text: str) -> None:
        data = text.encode()
        n = len(data)
        if n < 126:
            header = bytes([0x81, 0x80 | n])
        elif n < 1 << 16:
            header = bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
        else:
            header = bytes([0x81, 0x80 | 127]) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self) -> str:
        message = b""
        while True:
            first, second = self._read(2)
            n = second & 0x7F
            if n == 126:
                n = int.from_bytes(self._read(2), "big")
            elif n == 127:
                n = int.from_bytes(self._read(8), "big")
            payload = self._read(n)
            opcode = first & 0x0F
            if opcode == 8:
                raise EOFError("DevTools sent close")
            if opcode in (9, 10):
                continue
            message += payload
            if first & 0x80:
                return message.decode()


class Browser:
    def __init__(self, binary: str, profile) -> None:
        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-proxy-server",
             "--no-first-run", "--remote-debugging-port=0", f"--user-data-dir={profile}",
             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        port = None
        while port is None and time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line and self.process.poll() is not None:
                raise RuntimeError("chromium exited at start")
            if "DevTools listening on ws://" in line:
                port = urlsplit(line.split()[-1]).port
        assert port, "chromium did not open its DevTools port"
        pages = httpx.get(f"http://127.0.0.1:{port}/json/list", trust_env=False).json()
        target = next(p for p in pages if p.get("type") == "page")
        self.ws = WebSocket(target["webSocketDebuggerUrl"])
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.call("Page.enable")
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + 60
        while self.evaluate("document.readyState") != "complete":
            assert time.monotonic() < deadline, "the page did not finish loading"
            time.sleep(0.1)

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    instance = Browser(_chromium(), tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield instance
    finally:
        instance.close()


READ_PAGE = """JSON.stringify({
  text: document.body.innerText,
  scripts: document.scripts.length,
  results: [...document.querySelectorAll('#evaluation-results tr')]
           .map(r => [...r.cells].map(c => c.innerText.trim())),
  files: [...document.querySelectorAll('#files td:first-child a')].map(a => a.innerText.trim()),
  image: (() => { const i = document.querySelector('#model-card img');
                  return i ? {complete: i.complete, width: i.naturalWidth} : null; })(),
  license: (document.querySelector('#license') || {}).innerText,
  tags: [...document.querySelectorAll('#tags .tag')].map(t => t.innerText.trim()),
  base: [...document.querySelectorAll('#base-model a')].map(a => a.innerText.trim()),
  table: [...document.querySelectorAll('#model-card table td')].map(c => c.innerText.trim()),
  handlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes])
            .filter(a => a.name.startsWith('on')).length,
  links: [...document.querySelectorAll('#model-card a')].map(a => a.getAttribute('href')),
})"""


def test_a_reader_sees_the_card_as_the_hub_shows_it(browser, hub_server):
    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.token)
    repo_id = f"tester/browser-{uuid.uuid4().hex[:8]}"
    api.create_repo(repo_id)
    api.create_commit(repo_id, commit_message="Release", operations=[
        CommitOperationAdd("README.md", CARD.encode()), CommitOperationAdd("config.json", b"{}"),
        CommitOperationAdd("plots/curve.png", PNG)])

    browser.open(f"{hub_server.endpoint}/{repo_id}")
    seen = json.loads(browser.evaluate(READ_PAGE))

    assert "publisher:begin" not in seen["text"] and "publisher:end" not in seen["text"]
    assert "MiniLM SST-2 sparse" in seen["text"]  # the <em> is rendered, not shown as a tag
    assert "<b" not in seen["text"] and "alert(" not in seen["text"].replace(
        'print("<script>not run</script>")', "")
    assert 'print("<script>not run</script>")' in seen["text"]  # code is shown as text
    assert seen["scripts"] == 0 and seen["handlers"] == 0
    assert not [e for e in browser.events if e.get("method") == "Page.javascriptDialogOpening"]
    assert not any((link or "").lower().startswith("javascript:") for link in seen["links"])
    assert seen["results"] == [["Task", "Dataset", "Metric", "Value"],
                               ["Text Classification", "GLUE SST-2 (config sst2, split validation)",
                                "Accuracy", "0.8486"]]
    assert "Evaluation results" in seen["text"]
    assert seen["license"] == "apache-2.0"
    assert seen["tags"] == ["openvino", "text-classification"]
    assert seen["base"] == ["sentence-transformers/all-MiniLM-L6-v2"]
    assert seen["table"] == ["accuracy", "0.8830", "0.8486"]
    assert seen["image"] == {"complete": True, "width": 1}  # loaded from the repository
    assert set(seen["files"]) == {".gitattributes", "README.md", "config.json", "plots/curve.png"}
