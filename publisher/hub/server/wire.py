"""What every handler shares: the parsed request, the server state, JSON and error answers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from publisher.hub.server.auth import Caller, LfsSigner, TokenRegistry
from publisher.hub.server.errors import BadRequest, HubApiError, RepoMoved, RepoNotFound
from publisher.hub.server.limits import (
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_MAX_UPLOADS,
    MAX_HEADER_VALUE_CHARS,
    MAX_LOGGED_PATH_CHARS,
)
from publisher.hub.server.storage import REPO_NOT_FOUND, HubStorage, RepoKey, Repository


@dataclass
class HubState:
    """Everything the handlers need; one per server process."""

    storage: HubStorage
    tokens: TokenRegistry
    signer: LfsSigner
    page_size: int = 1000
    commits_page_size: int = 50
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    max_uploads: int = DEFAULT_MAX_UPLOADS
    root_info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Call:
    """One request, already routed: path segments are percent-decoded one by one."""

    request: Request
    state: HubState
    params: dict[str, str]
    caller: Caller | None
    body: bytes = b""

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def endpoint(self) -> str:
        return str(self.request.base_url).rstrip("/")

    def query(self, name: str, default: str | None = None) -> str | None:
        return self.request.query_params.get(name, default)

    def flag(self, name: str) -> bool:
        """Booleans arrive as ``true``/``false`` (or ``1``); a present key is not enough."""
        return (self.query(name) or "").lower() in ("1", "true", "yes")

    def json(self) -> dict[str, Any]:
        """The body as a JSON object (every JSON route takes one); 400 for anything else."""
        if not self.body:
            return {}
        try:
            value = json.loads(self.body)
        except (ValueError, RecursionError) as exc:
            raise BadRequest(f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise BadRequest("The request body must be a JSON object")
        return value

    def form(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for key, value in parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True):
            found.setdefault(key, []).append(value)
        return found

    def readable(self, key: RepoKey) -> Repository:
        """The repository, hidden (404 RepoNotFound) when private and the caller is anonymous."""
        try:
            repo = self.state.storage.get(key)
        except RepoMoved as moved:
            # Where a private repository went is no business of anonymous callers.
            if self.caller is None and self.state.storage.get(moved.new).meta().private:
                raise RepoNotFound(REPO_NOT_FOUND) from None
            raise
        if repo.meta().private and self.caller is None:
            raise RepoNotFound(REPO_NOT_FOUND)
        return repo

    def accessible(self, key: RepoKey) -> Repository:
        """``readable``, and for a gated repository only its owner passes (403 GatedRepo).

        The local hub has no access requests to approve, so a gated repository's files are for
        the user whose namespace holds it.
        """
        repo = self.readable(key)
        if not repo.meta().gated or (self.caller and self.caller.user == repo.key.namespace):
            return repo
        what = f"Access to {repo.key.type} {repo.key.id} is restricted"
        if self.caller is None:
            raise HubApiError(f"{what}. You must have access to it and be authenticated to access "
                              "it. Please log in.", status=401, code="GatedRepo")
        raise HubApiError(f"{what} and you are not in the authorized list. Only its owner "
                          f"({repo.key.namespace}) may read its files on this local hub.",
                          status=403, code="GatedRepo")

    def writable(self, key: RepoKey) -> tuple[Repository, Caller]:
        caller = self.state.tokens.require_writer(self.caller)
        return self.state.storage.get(key), caller

    def page_link(self, **params: Any) -> str:
        """An absolute ``Link`` header to the same URL with ``params`` replaced."""
        query = dict(self.request.query_params)
        query.update({k: str(v) for k, v in params.items()})
        url = self.request.url.replace(query=urlencode(query))
        return f'<{url}>; rel="next"'


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(payload, status_code=status, headers=headers)


def header_value(text: str) -> str:
    """``text`` as a valid HTTP header value: printable ASCII only, one line, bounded.

    Error texts quote what the client sent (a repo name, a path) and h11 refuses to send a header
    holding a NUL or a newline: the connection would be dropped with no answer at all. Anything
    outside printable ASCII becomes ``?``, whitespace runs become one space.
    """
    flat = " ".join(text.split())
    safe = "".join(c if " " <= c <= "~" else "?" for c in flat)
    return safe[:MAX_HEADER_VALUE_CHARS]


def header_bytes(value: bytes) -> bytes:
    """The byte form of :func:`header_value`, for headers already encoded (the ASGI guard)."""
    if all(0x20 <= b <= 0x7E for b in value) and len(value) <= MAX_HEADER_VALUE_CHARS * 8:
        return value
    return header_value(value.decode("latin-1")).encode("ascii")


def printable(text: str, limit: int = MAX_LOGGED_PATH_CHARS) -> str:
    """``text`` for a log line: non-printable characters and backslashes escaped, bounded.

    A request path is attacker-chosen; written as is, a ``%0A`` in it forges a second log line
    and a NUL turns the log into a binary file for grep.
    """
    escaped = "".join(c if " " <= c <= "~" and c != "\\" else
                      ("\\\\" if c == "\\" else c.encode("unicode_escape").decode("ascii"))
                      for c in text)
    if len(escaped) > limit:
        escaped = escaped[:limit] + f"...(+{len(escaped) - limit} chars)"
    return escaped


_STATUS_CODES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
                 408: "RequestTimeout", 409: "Conflict", 412: "PreconditionFailed",
                 413: "PayloadTooLarge", 416: "RangeNotSatisfiable", 422: "UnprocessableEntity",
                 500: "InternalError", 503: "ServiceUnavailable"}


def error_response(error: HubApiError, extra: dict[str, Any] | None = None) -> Response:
    # Every error names a code, so a client (or a test) can tell them apart without parsing
    # text; the Hub's own codes (RepoNotFound, ...) are the ones huggingface_hub maps to types.
    code = error.code or _STATUS_CODES.get(error.status, "Error")
    headers = {**error.headers, "X-Error-Message": header_value(error.message),
               "X-Error-Code": code}
    payload = {"error": error.message, **(extra or {})}
    return JSONResponse(payload, status_code=error.status, headers=headers)
