"""Tokens of the local hub: who is calling, and may they write.

Tokens are compared in constant time and never stored in logs, error messages or ``repr``.
When no write token is configured, one is generated once and kept in ``<root>/auth/token``
(mode 0600) so that the publisher tool, which starts the hub itself, can authenticate.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from publisher.hub.server.errors import Forbidden, Unauthorized
from publisher.hub.server.layout import LFS_SECRET_FILE, TOKEN_FILE
INVALID_TOKEN = "Invalid credentials in Authorization header"
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Caller:
    user: str
    can_write: bool


@dataclass(frozen=True)
class TokenRegistry:
    """Who each token is. ``write_tokens`` and ``read_tokens`` belong to ``user``;
    ``user_tokens`` adds write tokens of other users (``--user NAME=TOKEN``), so that tests
    written for the Hub, which need two accounts, can run against the local hub."""

    user: str
    write_tokens: frozenset[str] = field(repr=False)
    read_tokens: frozenset[str] = field(default=frozenset(), repr=False)
    user_tokens: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def identify(self, authorization: str | None) -> Caller | None:
        """The caller named by an ``Authorization`` header; None when anonymous.

        A header that names no known token is refused outright (401) rather than treated as
        anonymous, so a mistyped token fails loudly instead of silently hiding private repos.
        """
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized(INVALID_TOKEN)
        # Every candidate is compared, in constant time, whichever matches.
        found: Caller | None = None
        for name, known in self.user_tokens:
            if _contains(frozenset([known]), token):
                found = found or Caller(name, can_write=True)
        if _contains(self.write_tokens, token):
            found = found or Caller(self.user, can_write=True)
        if _contains(self.read_tokens, token):
            found = found or Caller(self.user, can_write=False)
        if found is None:
            raise Unauthorized(INVALID_TOKEN)
        return found

    def require_writer(self, caller: Caller | None) -> Caller:
        if caller is None:
            raise Unauthorized("You must be authenticated to write: send a write token "
                               "(Authorization: Bearer ...)")
        if not caller.can_write:
            raise Forbidden("This token is read-only; use a write token for this operation")
        return caller


def _contains(tokens: frozenset[str], candidate: str) -> bool:
    found = False
    for token in tokens:
        found |= hmac.compare_digest(token.encode(), candidate.encode())
    return found


def _read_or_create_secret(path: Path, nbytes: int) -> str:
    """Create the secret file once with mode 0600; later calls read it back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(f"hf_local_{secrets.token_urlsafe(nbytes)}\n")
    return path.read_text().strip()


def ensure_token_file(root: Path) -> tuple[str, Path]:
    """The generated write token of a hub started without ``--token``, and its file."""
    path = root / TOKEN_FILE
    return _read_or_create_secret(path, 32), path


class LfsSigner:
    """Signs LFS upload hrefs: the client PUTs to them without an Authorization header.

    The secret is kept under ``auth/`` so that an href handed out before a restart still works
    after it (the client may retry an upload across a server restart).
    """

    def __init__(self, root: Path, ttl_s: int = 24 * 3600) -> None:
        self._secret = _read_or_create_secret(root / LFS_SECRET_FILE, 32).encode()
        self._ttl_s = ttl_s

    def _mac(self, oid: str, size: int, expires: int) -> str:
        return hmac.new(self._secret, f"{oid}:{size}:{expires}".encode(), hashlib.sha256).hexdigest()

    def sign(self, oid: str, size: int) -> dict[str, str]:
        expires = int(time.time()) + self._ttl_s
        return {"size": str(size), "expires": str(expires), "signature": self._mac(oid, size, expires)}

    def check(self, oid: str, params: dict[str, str]) -> int:
        """The signed size of ``oid``; raises Forbidden for a bad or expired signature."""
        try:
            size, expires = int(params["size"]), int(params["expires"])
            signature = params["signature"]
        except (KeyError, ValueError) as exc:
            raise Forbidden("Unsigned LFS upload URL: ask the LFS batch API for one") from exc
        if expires < time.time():
            raise Forbidden("Expired LFS upload URL: ask the LFS batch API for a new one")
        # compare_digest refuses non-ASCII text with a TypeError: check the form first.
        if not _HEX64.fullmatch(signature) or not hmac.compare_digest(
                signature, self._mac(oid, size, expires)):
            raise Forbidden("Invalid LFS upload URL signature")
        return size
