"""Start the local hub: own the root, choose tokens, run uvicorn, publish ``server.json``."""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import logging
import os
import re
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
from publisher.hub.server.limits import DEFAULT_BODY_TIMEOUT_S, DEFAULT_MAX_UPLOADS
from publisher.hub.server.parser_log import ParserLoggedProtocol
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
    # uvicorn's "Invalid HTTP request received." is replaced by an access line (parser_log.py).
    "filters": {"parser_warning": {"()": "publisher.hub.server.parser_log.DropParserWarning"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain",
                            "stream": "ext://sys.stderr", "filters": ["parser_warning"]}},
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
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S  # a request body that sends nothing this long
    max_uploads: int = DEFAULT_MAX_UPLOADS  # request bodies received at once


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


# Where write and read-only tokens may come from besides files (``--token-file``).
TOKEN_ENV = "PUBLISHER_HUB_TOKEN"
READ_TOKEN_ENV = "PUBLISHER_HUB_READ_TOKEN"
_TOKEN_TEXT = re.compile(r"[\x21-\x7e]{1,1000}")  # what an Authorization header can carry
COMMAND_LINE_TOKEN_REFUSED = (
    "a token on the command line is visible to every user of this machine (ps, "
    "/proc/PID/cmdline) and is kept in shell history")


def refuse_command_line_tokens(tokens, read_tokens, users) -> None:
    """``--token T``, ``--read-token T`` and ``--user NAME=TOKEN`` are refused, loudly, rather
    than removed: an old script then learns why and what to use instead, and its token is not
    silently ignored (which would start a hub the script cannot write to)."""
    if tokens or read_tokens:
        option = "--token" if tokens else "--read-token"
        raise BadInputError(
            f"{option} is refused: {COMMAND_LINE_TOKEN_REFUSED}",
            f"Put the token in a file only you can read (chmod 600) and pass "
            f"{option}-file FILE, or set {TOKEN_ENV if tokens else READ_TOKEN_ENV}")
    if any("=" in value for value in users):
        raise BadInputError(
            f"--user NAME=TOKEN is refused: {COMMAND_LINE_TOKEN_REFUSED}",
            "Write one NAME=TOKEN line per user in a file only you can read (chmod 600) and pass "
            "--users-file FILE; --user NAME (without a token) still names the default user")


def _secret_lines(path: Path, what: str) -> list[str]:
    """The non-empty, non-comment lines of a token file; a file others can read is warned of."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise BadInputError(f"Cannot read {what} {path} ({reason})",
                            f"Pass a readable UTF-8 text file to {what}") from None
    if mode & 0o077:
        log.warning("%s %s can be read by other users (mode %o): chmod 600 it",
                    what, path, mode & 0o777)
    lines = [line.strip() for line in text.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _checked_token(token: str, where: str) -> str:
    if not _TOKEN_TEXT.fullmatch(token):
        # The token itself is never quoted.
        raise BadInputError(f"A token in {where} is not valid: a token is 1 to 1,000 printable "
                            "ASCII characters without spaces",
                            f"Fix {where}: one token per line")
    return token


def read_token_file(path: Path, what: str = "--token-file") -> tuple[str, ...]:
    """The tokens of a token file: one per line (blank lines and ``#`` comments skipped)."""
    tokens = tuple(_checked_token(line, f"{what} {path}") for line in _secret_lines(path, what))
    if not tokens:
        raise BadInputError(f"{what} {path} holds no token",
                            "Write the token on a line of its own")
    return tokens


def read_users_file(path: Path) -> tuple[tuple[str, str], ...]:
    """``NAME=TOKEN`` lines: further users and their write tokens (``--users-file``)."""
    pairs = []
    for number, line in enumerate(_secret_lines(path, "--users-file"), start=1):
        name, sep, token = line.partition("=")
        name = name.strip()
        if not sep or name_problem(name, "x") is not None:
            raise BadInputError(f"Line {number} of --users-file {path} is not NAME=TOKEN with "
                                "a user name the Hub accepts",
                                "Write one NAME=TOKEN per line (letters, digits, '-', '_', '.' "
                                "in the name)")
        pairs.append((name, _checked_token(token.strip(), f"line {number} of {path}")))
    if not pairs:
        raise BadInputError(f"--users-file {path} names no user", "Write NAME=TOKEN lines")
    return tuple(pairs)


def token_sources(token_files=(), read_token_files=(), users_file: Path | None = None,
                  environ=None) -> tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Write tokens, read-only tokens and (user, token) pairs from files and the environment
    (``PUBLISHER_HUB_TOKEN``, ``PUBLISHER_HUB_READ_TOKEN``): never from the command line."""
    environ = os.environ if environ is None else environ
    write = [t for path in token_files for t in read_token_file(Path(path))]
    read = [t for path in read_token_files for t in read_token_file(Path(path), "--read-token-file")]
    for name, into in ((TOKEN_ENV, write), (READ_TOKEN_ENV, read)):
        value = (environ.get(name) or "").strip()
        if value:
            into.append(_checked_token(value, f"${name}"))
    users = read_users_file(Path(users_file)) if users_file else ()
    return tuple(write), tuple(read), users


def parse_users(values: list[str] | tuple[str, ...],
                user_tokens: tuple[tuple[str, str], ...] = ()) -> str:
    """The default user from ``--user NAME`` (at most one; default: the first user of
    ``--users-file``, else ``local``)."""
    refuse_command_line_tokens((), (), values)
    default: str | None = None
    for name in values:
        if name_problem(name, "x") is not None:
            raise BadInputError(f"Invalid --user value {name[:50]!r}",
                                "Pass --user NAME with a user name the Hub accepts (letters, "
                                "digits, '-', '_', '.')")
        if default is not None and default != name:
            raise BadInputError("Two default users given (--user)",
                                "Give one --user NAME; give the others in --users-file")
        default = name
    if default is None:
        default = user_tokens[0][0] if user_tokens else "local"
    return default


def config_from_options(*, root: Path, host: str, port: int, token_files=(), read_token_files=(),
                        users_file: Path | None = None, users=(), allow_remote: bool = False,
                        body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
                        max_uploads: int = DEFAULT_MAX_UPLOADS, tokens=(), read_tokens=(),
                        environ=None) -> ServerConfig:
    """The ServerConfig of ``publisher hub serve`` / ``python -m publisher.hub.server`` options.

    ``tokens`` and ``read_tokens`` are the refused ``--token`` / ``--read-token`` values: any
    one given stops the start with the reason (see :func:`refuse_command_line_tokens`).
    """
    refuse_command_line_tokens(tokens, read_tokens, users)
    if not body_timeout_s > 0 or max_uploads < 1:
        raise BadInputError("--body-timeout must be above 0 and --max-uploads at least 1",
                            f"The defaults are {DEFAULT_BODY_TIMEOUT_S:g} s and {DEFAULT_MAX_UPLOADS}")
    write, read, user_tokens = token_sources(token_files, read_token_files, users_file, environ)
    return ServerConfig(root=root, host=host, port=port, write_tokens=write, read_tokens=read,
                        user=parse_users(users, user_tokens), user_tokens=user_tokens,
                        allow_remote=allow_remote, body_timeout_s=body_timeout_s,
                        max_uploads=max_uploads)


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
                     page_size=config.page_size, commits_page_size=config.commits_page_size,
                     body_timeout_s=config.body_timeout_s, max_uploads=config.max_uploads)
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
                lines.append("  write token: the one(s) from --token-file, --users-file or "
                             f"${TOKEN_ENV}")
            lines.append(f"  web page: {endpoint}/")
            print("\n".join(lines), file=out, flush=True)

        uv_config = uvicorn.Config(app, host=config.host, port=config.port, log_config=LOG_CONFIG,
                                   access_log=False, lifespan="off", timeout_graceful_shutdown=5,
                                   server_header=False, http=ParserLoggedProtocol)
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


__all__ = ["ServerConfig", "config_from_options", "serve", "is_loopback_host", "parse_users",
           "refuse_command_line_tokens", "token_sources"]
