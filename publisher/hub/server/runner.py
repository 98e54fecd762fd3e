"""Start the local hub: own the root, choose tokens, run uvicorn, publish ``server.json``."""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import uvicorn

from publisher import __version__
from publisher.errors import BadInputError, HubError
from publisher.hub.server.app import build_app
from publisher.hub.server.auth import LfsSigner, TokenRegistry, ensure_token_file
from publisher.hub.server.errors import HubApiError
from publisher.hub.server.layout import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_ROOT,
    FAULTS_ENV,
    SERVER_LOCK,
    SERVER_STATE,
    registry_dir,
)
from publisher.hub.server.storage import HubStorage, name_problem
from publisher.hub.server.wire import HubState

log = logging.getLogger("publisher.hub.server")

LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain",
                            "stream": "ext://sys.stderr"}},
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        "publisher.hub": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}


@dataclass(frozen=True)
class ServerConfig:
    root: Path = DEFAULT_ROOT
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT  # 0 picks a free port
    write_tokens: tuple[str, ...] = field(default=(), repr=False)
    read_tokens: tuple[str, ...] = field(default=(), repr=False)
    user: str = "local"
    # (name, write token) of further users: ``--user NAME=TOKEN``
    user_tokens: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    allow_remote: bool = False
    page_size: int = 1000
    commits_page_size: int = 50


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_host(config: ServerConfig) -> None:
    if not is_loopback_host(config.host) and not config.allow_remote:
        raise BadInputError(
            f"Refusing to serve on {config.host}: the local hub speaks plain HTTP, so tokens and "
            "model files would cross the network unencrypted, and anyone who can reach the port "
            "can read public repositories",
            "Use the default --host 127.0.0.1, or pass --allow-remote if the network is trusted",
        )


def _lock_root(root: Path) -> int:
    """Hold an exclusive lock on the root for the life of this process (released on death)."""
    fd = os.open(root / SERVER_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        where = ""
        try:
            state = json.loads((root / SERVER_STATE).read_text())
            where = f" (pid {state.get('pid')}, {state.get('endpoint')})"
        except (OSError, ValueError):
            pass
        raise HubError(
            f"Another local hub already serves {root}{where}",
            "Use that server (export HF_ENDPOINT to its endpoint), stop it, or pass another --root",
        ) from None
    return fd


def _write_state(root: Path, payload: dict) -> None:
    tmp = root / f".{SERVER_STATE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(payload, indent=1))
    os.replace(tmp, root / SERVER_STATE)


def _remove_state(root: Path) -> None:
    path = root / SERVER_STATE
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass
    (registry_dir() / f"{os.getpid()}.json").unlink(missing_ok=True)


def _register(payload: dict) -> None:
    """Announce this server in the per-user registry; a failure there must not stop serving."""
    folder = registry_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{os.getpid()}.tmp"
        tmp.write_text(json.dumps({k: payload[k] for k in ("pid", "endpoint", "root", "started_at")}))
        os.replace(tmp, folder / f"{os.getpid()}.json")
    except OSError as exc:
        log.warning("Could not register in %s (publisher hub status will not list this server): %s",
                    folder, exc)


def _tokens(config: ServerConfig) -> tuple[TokenRegistry, Path | None]:
    if config.write_tokens or config.user_tokens:
        return TokenRegistry(config.user, frozenset(config.write_tokens),
                             frozenset(config.read_tokens), config.user_tokens), None
    token, path = ensure_token_file(config.root)
    return TokenRegistry(config.user, frozenset([token]), frozenset(config.read_tokens)), path


def parse_users(values: list[str] | tuple[str, ...]) -> tuple[str, tuple[tuple[str, str], ...]]:
    """``--user`` values: ``NAME`` (the default user, at most one) or ``NAME=TOKEN`` (a user and
    their write token). Returns the default user and the (name, token) pairs."""
    default: str | None = None
    pairs: list[tuple[str, str]] = []
    for value in values:
        name, sep, token = value.partition("=")
        if name_problem(name, "x") is not None or (sep and not token):
            raise BadInputError(f"Invalid --user value for user {name[:50]!r}",
                                "Pass --user NAME or --user NAME=TOKEN, with a user name the Hub "
                                "accepts (letters, digits, '-', '_', '.')")
        if sep:
            pairs.append((name, token))
        elif default is not None and default != name:
            raise BadInputError("Two default users given (--user without a token)",
                                "Give one --user NAME; give the others as NAME=TOKEN")
        else:
            default = name
    if default is None:
        default = pairs[0][0] if pairs else "local"
    return default, tuple(pairs)


class _Server(uvicorn.Server):
    """uvicorn, plus a hook once the socket is bound (the real port is known only then)."""

    def __init__(self, config: uvicorn.Config, on_started) -> None:
        super().__init__(config)
        self._on_started = on_started

    @contextlib.contextmanager
    def capture_signals(self):
        # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown, which would kill the
        # process before ``serve`` removes server.json; a signal here means "stop cleanly".
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        if self.servers and not self.should_exit:
            self._on_started(self.servers[0].sockets[0].getsockname()[1])


def _can_write(state: HubState, authorization: str | None) -> bool:
    try:
        caller = state.tokens.identify(authorization)
    except HubApiError:
        return False
    return caller is not None and caller.can_write


def build_state(config: ServerConfig) -> tuple[HubState, Path | None]:
    tokens, token_file = _tokens(config)
    storage = HubStorage(config.root, recover=True)
    state = HubState(storage=storage, tokens=tokens, signer=LfsSigner(config.root),
                     page_size=config.page_size, commits_page_size=config.commits_page_size)
    return state, token_file


def serve(config: ServerConfig, out: IO[str] | None = None) -> None:
    """Serve ``config.root`` until interrupted (SIGINT / SIGTERM finish in-flight requests)."""
    out = out or sys.stdout
    _check_host(config)
    root = config.root.resolve()
    config = ServerConfig(**{**config.__dict__, "root": root})
    root.mkdir(parents=True, exist_ok=True)
    lock_fd = _lock_root(root)
    try:
        state, token_file = build_state(config)
        app = build_app(state)
        if os.environ.get(FAULTS_ENV) is not None:
            # Tests only: the fault injector is not even imported in normal use.
            from publisher.hub.server.faults import wrap_with_faults

            app = wrap_with_faults(app, lambda header: _can_write(state, header))

        def announce(port: int) -> None:
            url_host = DEFAULT_HOST if config.host in ("0.0.0.0", "::") else config.host
            if ":" in url_host:
                url_host = f"[{url_host}]"
            endpoint = f"http://{url_host}:{port}"
            info = {"pid": os.getpid(), "host": config.host, "port": port, "endpoint": endpoint,
                    "root": str(root), "version": __version__, "started_at": time.time(),
                    "token_file": str(token_file) if token_file else None}
            state.root_info.update(info)
            _write_state(root, info)
            _register(info)
            lines = [f"Local hub serving {root}", f"  endpoint: {endpoint}",
                     "  for huggingface_hub clients:",
                     f"    export HF_ENDPOINT={endpoint}",
                     "    export HF_HUB_DISABLE_XET=1"]
            if token_file:
                lines.append(f"  write token: in {token_file} (export HF_TOKEN=\"$(cat {token_file})\")")
            else:
                lines.append("  write token: the --token value(s) given on the command line")
            lines.append(f"  web page: {endpoint}/")
            print("\n".join(lines), file=out, flush=True)

        uv_config = uvicorn.Config(app, host=config.host, port=config.port, log_config=LOG_CONFIG,
                                   access_log=False, lifespan="off", timeout_graceful_shutdown=5,
                                   server_header=False)
        server = _Server(uv_config, announce)
        try:
            server.run()
        except SystemExit:
            if state.root_info:  # uvicorn exits this way only when startup failed
                raise
        if not state.root_info:
            raise HubError(f"The local hub could not listen on {config.host}:{config.port}",
                           "Pick another --port (0 chooses a free one) or stop what uses it")
    finally:
        _remove_state(root)
        os.close(lock_fd)


__all__ = ["ServerConfig", "serve", "is_loopback_host", "parse_users"]
