"""The ASGI application: routing on the raw path, auth, error answers and the access log.

Routing splits the *raw* path on ``/`` before percent-decoding each segment: the client sends
revisions fully encoded (``refs%2Fpr%2F1``) while file paths keep literal slashes, and the decoded
ASGI ``path`` can no longer tell the two apart.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from typing import Awaitable, Callable, Union
from urllib.parse import quote, unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from publisher.hub.server import api, git_routes, web
from publisher.hub.server.errors import (
    BadRequest,
    HubApiError,
    PayloadTooLarge,
    RepoMoved,
    RepoNotFound,
    RouteNotFound,
)
from publisher.hub.server.storage import REPO_NOT_FOUND
from publisher.hub.server.limits import (
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_MAX_UPLOADS,
    MAX_BODY_BYTES,
    MAX_COMMIT_BODY_BYTES,
)
from publisher.hub.server.wire import Call, HubState, error_response, header_bytes, printable

Handler = Callable[[Call], Union[Response, Awaitable[Response]]]
REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_REF_PREFIXES = ("pr", "heads", "tags", "convert")

log = logging.getLogger("publisher.hub.server")
access_log = logging.getLogger("publisher.hub.access")


def _split_revision(rest: list[str]) -> tuple[str, list[str]]:
    """A revision at the head of ``rest``: one encoded segment, or ``refs/x/y`` sent unencoded."""
    if not rest or not rest[0]:
        raise RouteNotFound("A revision is required in this URL")
    if rest[0] == "refs" and len(rest) >= 3 and rest[1] in _REF_PREFIXES:
        return "/".join(rest[:3]), rest[3:]
    return rest[0], rest[1:]


def _joined(rest: list[str]) -> str:
    if not rest or not all(rest):
        raise RouteNotFound("A revision or name is required in this URL")
    return "/".join(rest)


def _repo_api_route(method: str, rest: list[str], params: dict[str, str]) -> Handler:
    head = rest[0] if rest else ""
    if not rest:
        return {"GET": api.repo_info}.get(method) or _no_route(method)
    if head == "revision" and method == "GET":
        params["rev"] = _joined(rest[1:])
        return api.repo_info
    if head == "tree" and method == "GET":
        params["rev"], path = _split_revision(rest[1:])
        params["path"] = "/".join(path)
        return api.list_tree
    if head == "refs" and len(rest) == 1 and method == "GET":
        return api.list_refs
    if head in ("commits", "paths-info", "preupload", "commit"):
        params["rev"] = _joined(rest[1:])
        handler = {("commits", "GET"): api.list_commits, ("paths-info", "POST"): api.paths_info,
                   ("preupload", "POST"): api.preupload, ("commit", "POST"): api.commit}
        return handler.get((head, method)) or _no_route(method)
    if head in ("branch", "tag"):
        params["rev"] = _joined(rest[1:])
        handler = {("branch", "POST"): api.create_branch, ("branch", "DELETE"): api.delete_branch,
                   ("tag", "POST"): api.create_tag, ("tag", "DELETE"): api.delete_tag}
        return handler.get((head, method)) or _no_route(method)
    if head == "settings" and method == "PUT":
        return api.update_settings
    if head == "auth-check" and method == "GET" and rest[1:] in ([], ["write"]):
        params["write"] = "1" if rest[1:] else ""
        return api.auth_check
    if head == "discussions":
        if len(rest) == 1:
            return {"GET": api.list_discussions, "POST": api.create_discussion}.get(method) \
                or _no_route(method)
        if len(rest) == 2 and method == "GET":
            params["num"] = rest[1]
            return api.discussion_details
    if head.startswith("xet-"):
        return api.xet_token
    return _no_route(method)


def _api_route(method: str, rest: list[str], params: dict[str, str]) -> Handler:
    fixed = {
        ("GET", "whoami-v2"): api.whoami,
        ("GET", "agent-harnesses"): api.agent_harnesses,
        ("POST", "validate-yaml"): api.validate_yaml,
        ("GET", "local/status"): api.local_status,
        ("POST", "repos/create"): api.create_repo,
        ("DELETE", "repos/delete"): api.delete_repo,
        ("POST", "repos/move"): api.move_repo,
    }
    handler = fixed.get((method, "/".join(rest)))
    if handler:
        return handler
    if len(rest) == 2 and rest[0] == "lfs-upload" and method == "PUT":
        params["oid"] = rest[1]
        return git_routes.lfs_upload
    if rest and rest[0] in REPO_TYPES:
        params["type"] = REPO_TYPES[rest[0]]
        if len(rest) == 1 and method == "GET":
            return api.list_repos
        if len(rest) == 2:
            # A repo id without a namespace ("gpt2"): the Hub's legacy ids, none of them here.
            return _repo_not_found
        if len(rest) >= 3:
            params["namespace"], params["name"] = rest[1], rest[2]
            try:
                return _repo_api_route(method, rest[3:], params)
            except RouteNotFound:
                return _repo_first(method)
    return _no_route(method)


def _git_route(method: str, segments: list[str], params: dict[str, str]) -> Handler:
    params["type"] = "model"
    if segments[0] in REPO_TYPES:
        params["type"] = REPO_TYPES[segments[0]]
        segments = segments[1:]
    if len(segments) < 2:
        return _no_route(method)
    params["namespace"], name, rest = segments[0], segments[1], segments[2:]
    if name.endswith(".git"):
        params["name"] = name[: -len(".git")]
        handler = {("POST", "info/lfs/objects/batch"): git_routes.lfs_batch,
                   ("POST", "info/lfs/objects/verify"): git_routes.lfs_verify}
        return handler.get((method, "/".join(rest))) or _no_route(method)
    params["name"] = name
    try:
        return _repo_git_route(method, rest, params)
    except RouteNotFound:
        return _repo_first(method)


def _repo_git_route(method: str, rest: list[str], params: dict[str, str]) -> Handler:
    if rest and rest[0] == "resolve" and method in ("GET", "HEAD"):
        params["rev"], path = _split_revision(rest[1:])
        params["path"] = "/".join(path)
        return git_routes.resolve
    if method in ("GET", "HEAD"):
        if not rest:
            return web.repo_page
        if rest[0] in ("commit", "tree", "blob") and len(rest) >= 2:
            params["revision"], _ = _split_revision(rest[1:])
            return web.repo_page
        if rest[0] == "discussions" and len(rest) == 2:
            params["revision"] = f"refs/pr/{rest[1]}"
            return web.repo_page
    return _no_route(method)


def _no_route(method: str) -> Handler:
    raise RouteNotFound(f"No route for {method} on this path")


def _repo_not_found(call: Call) -> Response:
    raise RepoNotFound(REPO_NOT_FOUND)


def _repo_first(method: str) -> Handler:
    """A path under a repository that matches no route: 404 RepoNotFound when that repository
    does not exist (or is hidden), as on the Hub, else the route error.

    ``/api/models/gpt2/revision/main`` and ``/gpt2/resolve/main/x`` name no namespace; split as
    namespace/name they name a repository that does not exist, and the client then raises
    RepositoryNotFoundError rather than a bare HTTP error.
    """
    def handler(call: Call) -> Response:
        try:
            call.readable(api.repo_key(call))
        except (RepoNotFound, BadRequest):
            raise RepoNotFound(REPO_NOT_FOUND) from None
        raise RouteNotFound(f"No route for {method} on this path")

    return handler


def route(method: str, raw_path: str, params: dict[str, str]) -> Handler:
    try:
        # Strict: "%ff" decoded with replacement became U+FFFD, so a branch created as
        # "%ff" was stored as "\ufffd", a name the client never sent.
        segments = [unquote(part, errors="strict") for part in raw_path.split("/")[1:]]
    except UnicodeDecodeError:
        raise BadRequest("The URL holds percent-encoded bytes that are not UTF-8 text "
                         "(such as %ff): encode names and paths as UTF-8") from None
    if segments and segments[-1] == "" and len(segments) > 1:
        segments = segments[:-1]
    if not segments or segments == [""]:
        if method in ("GET", "HEAD"):
            return web.index
        return _no_route(method)
    if segments[0] == "api":
        return _api_route(method, segments[1:], params)
    return _git_route(method, segments, params)


# Every handler's name in the vocabulary of fault rules (faults.py): the router is the one
# table of routes, and the fault injector classifies a request by asking it.
ROUTE_NAMES: dict[Handler, str] = {
    api.whoami: "whoami", api.create_repo: "create-repo", api.delete_repo: "delete-repo",
    api.validate_yaml: "validate-yaml", api.repo_info: "repo-info", api.list_repos: "list-repos",
    api.list_tree: "tree", api.paths_info: "paths-info", api.list_refs: "refs",
    api.list_commits: "commits", api.create_branch: "branch", api.delete_branch: "branch",
    api.create_tag: "tag", api.delete_tag: "tag", api.preupload: "preupload",
    api.commit: "commit", api.list_discussions: "discussions",
    api.create_discussion: "discussions", api.discussion_details: "discussions",
    api.update_settings: "settings", api.auth_check: "auth-check", api.move_repo: "move-repo",
    git_routes.lfs_batch: "lfs-batch", git_routes.lfs_verify: "lfs-verify",
    git_routes.lfs_upload: "lfs-upload", git_routes.resolve: "resolve",
    web.index: "web", web.repo_page: "web",
}
ROUTE_VOCABULARY = tuple(sorted({*ROUTE_NAMES.values(), "revision", "other"}))


def route_name(method: str, raw_path: str) -> str:
    """The name of the route that serves ``method raw_path`` (``other`` for the rest)."""
    params: dict[str, str] = {}
    try:
        handler = route(method, raw_path, params)
    except HubApiError:
        return "other"
    name = ROUTE_NAMES.get(handler, "other")
    return "revision" if name == "repo-info" and params.get("rev") else name


def _raw_path(request: Request) -> str:
    raw = request.scope.get("raw_path")
    if raw:
        return raw.decode("latin-1")
    return quote(request.scope["path"])


def _redirect(request: Request, params: dict[str, str], moved: RepoMoved) -> Response:
    """307 to the same URL under the repository's new id (relative, which the client follows
    itself for HEAD and keeps its token for)."""
    raw = _raw_path(request)
    old = f"/{quote(params.get('namespace', ''), safe='')}/{quote(params.get('name', ''), safe='')}"
    new = f"/{quote(moved.new.namespace, safe='')}/{quote(moved.new.name, safe='')}"
    location = raw.replace(old, new, 1) if old in raw else raw
    query = request.scope.get("query_string", b"").decode("latin-1")
    return Response(status_code=307, headers={"Location": location + (f"?{query}" if query else "")})


async def read_body(request: Request, limit: int) -> bytes:
    """The whole request body, refused with 413 once it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body ({int(declared)} bytes) exceeds the local hub's "
                              f"limit of {limit} bytes for this route")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body exceeds the local hub's limit of {limit} "
                                  "bytes for this route")
        chunks.append(chunk)
    return b"".join(chunks)


def build_app(state: HubState) -> "AccessLog":
    async def dispatch(request: Request) -> Response:
        params: dict[str, str] = {}
        try:
            handler = route(request.method, _raw_path(request), params)
            call = Call(request=request, state=state, params=params,
                        caller=state.tokens.identify(request.headers.get("authorization")))
            if inspect.iscoroutinefunction(handler):
                return await handler(call)
            if request.method not in ("GET", "HEAD"):
                limit = MAX_COMMIT_BODY_BYTES if handler is api.commit else MAX_BODY_BYTES
                call.body = await read_body(request, limit)
            return await run_in_threadpool(handler, call)
        except RepoMoved as exc:
            return _redirect(request, params, exc)
        except HubApiError as exc:
            return error_response(exc)
        except UnicodeEncodeError:
            # JSON allows lone surrogates ("\ud800"), which no name, path or message can hold.
            return error_response(HubApiError("The request holds text that is not valid Unicode "
                                              "(a lone surrogate)", status=400))
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is listening any more
        except Exception:  # a bug: log it, answer 500, keep serving
            log.exception("Internal error on %s %s", request.method, printable(request.url.path))
            return error_response(HubApiError("Internal error in the local hub (see its log)",
                                              status=500))

    async def app(scope, receive, send) -> None:
        # No starlette Router: its path pattern stops at a newline, so "%0A" in a URL got its
        # plain-text 404 instead of this server's JSON errors. ``route`` sees every path.
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await dispatch(request)
        await response(scope, receive, send)

    return AccessLog(app, BodyGate(state.body_timeout_s, state.max_uploads))


class BodyTimeout(HubApiError):
    """The client stopped sending a request body it had announced."""

    status = 408
    code = "RequestTimeout"


class TooManyUploads(HubApiError):
    """Every slot for request bodies in progress is taken."""

    status = 503
    code = "ServiceUnavailable"


class BodyGate:
    """Bounds how request bodies are received: a time limit per wait, and a number in progress.

    A client that announces a body and then sends nothing (a 200 MB ``Content-Length``, 15
    bytes, then silence) held its connection, a temp file and a worker for as long as it liked.
    Now each wait for the next piece of a body is limited to ``timeout_s`` (408 and the
    connection closed when it runs out), and at most ``slots`` bodies that did not arrive in one
    piece are received at once: one more is answered 503 with ``Retry-After`` (huggingface_hub
    retries 503 on LFS uploads and preupload) instead of queueing behind stalled ones.
    """

    def __init__(self, timeout_s: float, slots: int) -> None:
        self.timeout_s = timeout_s
        self.slots = slots
        self.in_progress = 0

    def receiver(self, receive) -> "_BodyReceiver":
        return _BodyReceiver(self, receive)


class _BodyReceiver:
    """One request's ``receive``, bounded by its gate until the body is complete."""

    def __init__(self, gate: BodyGate, receive) -> None:
        self._gate = gate
        self._receive = receive
        self._done = False  # the body is complete (or gone): later waits are not bounded
        self._holding = False

    async def receive(self):
        if self._done:
            # After the body, starlette may wait for the disconnect while a download streams:
            # that wait is as long as the download and must not time out.
            return await self._receive()
        try:
            message = await asyncio.wait_for(self._receive(), self._gate.timeout_s)
        except asyncio.TimeoutError:
            self._finish()
            raise BodyTimeout(f"The request body stalled: no data for {self._gate.timeout_s:g} s. "
                              "The local hub closes such connections; send the body again",
                              headers={"Connection": "close"}) from None
        if message["type"] == "http.request" and message.get("more_body"):
            if not self._holding:
                if self._gate.in_progress >= self._gate.slots:
                    self._finish()
                    raise TooManyUploads(
                        f"The local hub is already receiving {self._gate.slots} request bodies "
                        "(its limit); retry in a moment",
                        headers={"Retry-After": "1", "Connection": "close"})
                self._gate.in_progress += 1
                self._holding = True
        else:
            self._finish()
        return message

    def _finish(self) -> None:
        self._done = True
        if self._holding:
            self._holding = False
            self._gate.in_progress -= 1


class AccessLog:
    """The last word on every answer: valid header values, an ``X-Request-Id``, one log line.

    Header values are sanitised here, once, for every route: an answer whose header holds a NUL
    or a newline is refused by h11 and the client sees a dropped connection instead of an error.
    The log line holds method, path without query (signed hrefs stay out), status and time, with
    the path escaped so that it stays one line of printable text whatever was requested. Headers
    are never logged, so tokens cannot reach the log.
    """

    def __init__(self, app, gate: BodyGate | None = None) -> None:
        self.app = app
        self.gate = gate or BodyGate(DEFAULT_BODY_TIMEOUT_S, DEFAULT_MAX_UPLOADS)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 0}
        request_id = uuid.uuid4().hex

        async def guard(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = [(name, header_bytes(value)) for name, value in message.get("headers", [])]
                if not any(name.lower() == b"x-request-id" for name, _ in headers):
                    headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        body = self.gate.receiver(receive)
        try:
            await self.app(scope, body.receive, send=guard)
        finally:
            body._finish()  # a handler that failed mid-body gives its slot back
            client = (scope.get("client") or ("-",))[0]
            access_log.info('%s "%s %s" %s %.0fms', printable(str(client)),
                            printable(scope["method"]), printable(scope["path"]),
                            status["code"] or "-", (time.perf_counter() - started) * 1000)
