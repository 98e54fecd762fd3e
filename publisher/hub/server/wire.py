"""What every handler shares: the parsed request, the server state, JSON and error answers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from publisher.hub.server.auth import Caller, LfsSigner, TokenRegistry
from publisher.hub.server.errors import BadRequest, HubApiError, RepoNotFound
from publisher.hub.server.storage import HubStorage, RepoKey, Repository


@dataclass
class HubState:
    """Everything the handlers need; one per server process."""

    storage: HubStorage
    tokens: TokenRegistry
    signer: LfsSigner
    page_size: int = 1000
    commits_page_size: int = 50
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

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise BadRequest(f"The request body is not valid JSON: {exc}") from exc

    def form(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for key, value in parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True):
            found.setdefault(key, []).append(value)
        return found

    def readable(self, key: RepoKey) -> Repository:
        """The repository, hidden (404 RepoNotFound) when private and the caller is anonymous."""
        repo = self.state.storage.get(key)
        if repo.meta().private and self.caller is None:
            raise RepoNotFound(f"Repository {key.id} not found. If the repo is private, make sure "
                               "you are authenticated.")
        return repo

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


def _header_safe(text: str) -> str:
    return " ".join(text.split()).encode("ascii", "replace").decode("ascii")[:1000]


def error_response(error: HubApiError, extra: dict[str, Any] | None = None) -> Response:
    headers = {"X-Error-Message": _header_safe(error.message), **error.headers}
    if error.code:
        headers["X-Error-Code"] = error.code
    payload = {"error": error.message, **(extra or {})}
    return JSONResponse(payload, status_code=error.status, headers=headers)
