"""Pytest fixtures for tests that talk to the local hub (registered in ``tests/conftest.py``).

``hub_server`` (session scope) runs ``python -m publisher.hub.server`` as a subprocess on a free
loopback port, with a fresh temporary root and known tokens. In-process clients should use
``HfApi(endpoint=hub.endpoint, token=hub.token)`` (``HF_ENDPOINT`` is read when huggingface_hub is
imported, too early to set it here) and pass ``endpoint=`` to ``hf_hub_download``; subprocess
clients get everything from ``hub_env(hub)``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
WRITE_TOKEN = "hf_test_write_0123456789abcdef"
READ_TOKEN = "hf_test_read_0123456789abcdef"
USER = "tester"
START_TIMEOUT_S = 20.0


@dataclass
class HubServer:
    """A local hub subprocess. ``restart()`` keeps root, port and tokens."""

    root: Path
    token: str = field(repr=False)
    read_token: str = field(repr=False)
    hf_home: Path
    log_path: Path
    user: str = USER
    port: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)
    extra_args: tuple[str, ...] = ()  # further server options, e.g. ("--body-timeout", "1")
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "HubServer":
        env = {**os.environ, **self.extra_env}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        # Tokens travel in files (mode 0600), never on the command line, where ps shows them.
        secrets = self.log_path.parent / "secrets"
        secrets.mkdir(mode=0o700, exist_ok=True)
        for name, value in (("write-token", self.token), ("read-token", self.read_token)):
            path = secrets / name
            path.touch(mode=0o600)
            path.write_text(value + "\n")
        command = [sys.executable, "-m", "publisher.hub.server", "--root", str(self.root),
                   "--port", str(self.port), "--token-file", str(secrets / "write-token"),
                   "--read-token-file", str(secrets / "read-token"), "--user", self.user]
        command += list(self.extra_args)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env, cwd=str(REPO_ROOT))
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        state_file = self.root / "server.json"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"The local hub exited with {self.process.returncode}:\n"
                                   f"{self.log_text()[-3000:]}")
            try:
                state = json.loads(state_file.read_text())
            except (OSError, ValueError):
                state = {}
            if state.get("pid") == self.process.pid:
                self.port = int(state["port"])
                if _answers(self.endpoint):
                    return
            time.sleep(0.05)
        self.stop(kill=True)
        raise RuntimeError(f"The local hub did not start in {START_TIMEOUT_S} s:\n"
                           f"{self.log_text()[-3000:]}")

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (graceful) or SIGKILL (a crash, as far as storage can tell)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def restart(self, *, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.start()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def _answers(endpoint: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{endpoint}/api/local/status", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def start_hub_server(base: Path, *, extra_env: dict[str, str] | None = None,
                     token: str = WRITE_TOKEN, read_token: str = READ_TOKEN,
                     extra_args: tuple[str, ...] = ()) -> HubServer:
    """A fresh hub under ``base`` (root, HF_HOME and log inside it); stop it when done."""
    hub = HubServer(root=base / "root", token=token, read_token=read_token,
                    hf_home=base / "hf_home", log_path=base / "server.log",
                    extra_env=dict(extra_env or {}), extra_args=tuple(extra_args))
    hub.hf_home.mkdir(parents=True, exist_ok=True)
    return hub.start()


def hub_env(hub: HubServer) -> dict[str, str]:
    """Environment for a subprocess client of ``hub`` (huggingface_hub, transformers, publisher)."""
    env = dict(os.environ)
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE",
                 "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        env.pop(name, None)
    env.update({
        "HF_ENDPOINT": hub.endpoint,
        "HF_TOKEN": hub.token,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HOME": str(hub.hf_home),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
    })
    return env


@pytest.fixture(scope="session")
def hub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    """One local hub for the whole session; repo names must be unique per test."""
    import huggingface_hub.constants

    # Plain LFS instead of Xet for every in-process client of this server.
    huggingface_hub.constants.HF_HUB_DISABLE_XET = True
    hub = start_hub_server(tmp_path_factory.mktemp("local-hub"))
    try:
        yield hub
    finally:
        hub.stop()
