"""Find or start the local hub for a root, and prepare huggingface_hub to talk to it.

The publish pipeline uses the local hub as its embedded default (like an app falling back to
SQLite): ``ensure_local_hub`` reuses the server named by ``<root>/server.json`` when it answers,
and otherwise starts ``python -m publisher.hub.server`` detached, so the server outlives the
publish run and the user can browse the release afterwards. Nothing here imports torch or the
web stack.
"""

from __future__ import annotations

import atexit
import ipaddress
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from publisher.errors import HubError
from publisher.hub.server.layout import SERVER_LOG, SERVER_STATE, TOKEN_FILE, registry_dir

START_TIMEOUT_S = 20.0
_PACKAGE_PARENT = Path(__file__).resolve().parent.parent.parent
_children: dict[int, subprocess.Popen] = {}


@atexit.register
def _leave_children_running() -> None:
    """A hub started for a publish is meant to outlive it: say nothing when its Popen object is
    collected at exit (Python warns about any child still running then)."""
    if _children:
        warnings.filterwarnings("ignore", category=ResourceWarning,
                                message=r"subprocess \d+ is still running")


@dataclass(frozen=True)
class LocalHub:
    """A running local hub. ``token`` is empty when the server was started with tokens of its
    own (``--token-file``, ``--users-file``, ``$PUBLISHER_HUB_TOKEN``; it then keeps no token
    file): pass one of those instead."""

    endpoint: str
    root: Path
    token: str = field(repr=False)
    pid: int | None
    started_here: bool

    @property
    def stop_command(self) -> str:
        """The command that stops this server cleanly (for notices to the user)."""
        return stop_command(self.root)


@dataclass(frozen=True)
class RunningHub:
    """A local hub that answers for its root: what ``publisher hub status`` lists."""

    endpoint: str
    root: Path
    pid: int
    started_at: float | None = None


def stop_command(root: Path) -> str:
    return f"publisher hub stop --root {shlex.quote(str(root))}"


def is_local_endpoint(endpoint: str) -> bool:
    """True when ``endpoint`` points at this machine (loopback host)."""
    host = urlsplit(endpoint).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_local_token(root: Path) -> str | None:
    """The write token a local hub generated under ``root``, or None."""
    try:
        token = (Path(root) / TOKEN_FILE).read_text().strip()
    except OSError:
        return None
    return token or None


def _pid_alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A server that exited but whose parent has not reaped it yet is a zombie: gone for us.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _status(endpoint: str, timeout: float = 2.0) -> dict | None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{endpoint}/api/local/status", timeout=timeout) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


def _running(root: Path) -> LocalHub | None:
    """The live server that ``<root>/server.json`` names, if it answers for this root."""
    try:
        state = json.loads((root / SERVER_STATE).read_text())
        pid, endpoint = int(state["pid"]), str(state["endpoint"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _pid_alive(pid):
        return None
    status = _status(endpoint)
    if not status or status.get("root") != str(root) or status.get("pid") != pid:
        return None
    return LocalHub(endpoint=endpoint, root=root, token=read_local_token(root) or "", pid=pid,
                    started_here=False)


def _log_tail(root: Path) -> str:
    try:
        text = (root / SERVER_LOG).read_text(errors="replace")
    except OSError:
        return ""
    return " ".join(text.strip().splitlines()[-3:])


def ensure_local_hub(root: Path, *, timeout: float = START_TIMEOUT_S) -> LocalHub:
    """The local hub serving ``root``: the running one, or a new detached server."""
    root = Path(root).resolve()
    hub = _running(root)
    if hub is not None:
        return hub
    root.mkdir(parents=True, exist_ok=True)
    log_path = root / SERVER_LOG
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    # The embedded hub keeps its own token file (read back by ``read_local_token``); a token
    # meant for a hub the user runs by hand must not replace it.
    for name in ("PUBLISHER_HUB_TOKEN", "PUBLISHER_HUB_READ_TOKEN"):
        env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PACKAGE_PARENT), env.get("PYTHONPATH")]))
    with open(log_path, "ab") as log:
        # A new session: Ctrl-C in the publishing terminal must not stop the shared server.
        process = subprocess.Popen(
            [sys.executable, "-m", "publisher.hub.server", "--root", str(root), "--port", "0"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True, close_fds=True,
        )
    _children[process.pid] = process
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hub = _running(root)
        if hub is not None:
            # Another publisher may have won the race to start it; either server will do.
            return LocalHub(endpoint=hub.endpoint, root=root, token=hub.token, pid=hub.pid,
                            started_here=hub.pid == process.pid)
        if process.poll() is not None and _running(root) is None:
            time.sleep(0.2)  # the winner of a start race may still be announcing itself
            if _running(root) is None:
                raise HubError(
                    f"The local hub for {root} exited at start (code {process.returncode}): "
                    f"{_log_tail(root) or 'no log output'}",
                    f"Read {log_path}, or start it yourself with `publisher hub serve --root {root}`",
                )
        time.sleep(0.1)
    _terminate(process.pid, timeout=5)
    raise HubError(
        f"The local hub for {root} did not answer within {timeout:.0f} s",
        f"Read {log_path}, or start it yourself with `publisher hub serve --root {root}`",
    )


def _terminate(pid: int, timeout: float) -> bool:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            _children.pop(pid, None)
            return True
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child = _children.pop(pid, None)
    if child is not None:
        child.wait(timeout=5)
    return False


def stop_local_hub(hub: LocalHub, *, timeout: float = 10.0) -> None:
    """Stop the server process of ``hub`` (graceful first); a no-op when it is already gone."""
    if hub.pid is None:
        return
    _terminate(hub.pid, timeout)


def find_local_hub(root: Path) -> LocalHub | None:
    """The server that serves ``root`` now, or None (a stale ``server.json`` is not a server)."""
    return _running(Path(root).resolve())


def running_hubs(roots: tuple[Path, ...] = ()) -> list[RunningHub]:
    """Every local hub of this user that answers, from the registry plus ``roots``.

    Servers register themselves (``<pid>.json`` in ``registry_dir()``) while they run; entries
    of servers that died without unregistering (kill -9) are removed here.
    """
    candidates: dict[Path, None] = {Path(r).resolve(): None for r in roots}
    folder = registry_dir()
    for entry in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(entry.read_text())
            root, pid = Path(record["root"]), int(record["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            entry.unlink(missing_ok=True)
            continue
        hub = _running(root)
        if hub is None or hub.pid != pid:
            entry.unlink(missing_ok=True)
            continue
        candidates[root] = None
    found = []
    for root in candidates:
        hub = _running(root)
        if hub is not None and hub.pid is not None:
            started = None
            try:
                started = float(json.loads((root / SERVER_STATE).read_text()).get("started_at"))
            except (OSError, ValueError, TypeError):
                pass
            found.append(RunningHub(endpoint=hub.endpoint, root=root, pid=hub.pid,
                                    started_at=started))
    return found


def stop_hub_at(root: Path, *, timeout: float = 10.0) -> LocalHub | None:
    """Stop the server of ``root`` (SIGTERM: it finishes requests in flight, removes its
    ``server.json``); None when none runs there."""
    hub = find_local_hub(root)
    if hub is None:
        return None
    stop_local_hub(hub, timeout=timeout)
    return hub
