"""Fault injection for tests: fail, cut or slow down chosen requests of the local hub.

Off unless the server starts with ``PUBLISHER_HUB_FAULTS`` set to a JSON list of rules (``[]``
enables the machinery with no rule); only then does the runner import this module, so it is not
on the product path. Requests are classified by the router itself (``app.route_name``). While enabled, ``PUT /api/local/faults`` (write token)
replaces the rules and resets their counters, so one server can serve many test scenarios, and
``GET /api/local/faults`` (write token) reports how often each rule matched and fired.

A rule::

    {"route": "commit",        # route name (see ROUTES) or "*"; "path": a regex on the raw path
     "method": "POST",         # optional
     "nth": 1, "times": 1,     # fail matching requests nth .. nth+times-1 (times 0: all from nth)
     "action": "status",       # "status" | "drop" | "delay"
     "status": 503,            # for "status"; 429 also sends RateLimit: "api";r=0;t=<reset>
     "reset": 1,               # seconds announced in the 429 RateLimit header
     "phase": "request",       # "request": before the handler runs (nothing happens);
                               # "response": after it ran (the work is done, the answer is lost)
     "seconds": 0.5}           # for "delay"

``drop`` closes the TCP connection mid-body: in the ``request`` phase after half of the request
body reached the handler (the handler sees a disconnect), in the ``response`` phase after half
of the response body was sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from publisher.errors import BadInputError
from publisher.hub.server.app import ROUTE_VOCABULARY, route_name
from publisher.hub.server.layout import FAULTS_ENV
from publisher.hub.server.wire import printable

ENV_VAR = FAULTS_ENV
ACTIONS = ("status", "drop", "delay")
PHASES = ("request", "response")
# The router's own route names (app.ROUTE_NAMES), plus this module's control route.
ROUTES = (*ROUTE_VOCABULARY, "faults")

log = logging.getLogger("publisher.hub.faults")


@dataclass
class FaultRule:
    action: str
    route: str = "*"
    path: str | None = None
    method: str | None = None
    nth: int = 1
    times: int = 1
    status: int = 500
    reset: int = 1
    phase: str = "request"
    seconds: float = 0.0
    seen: int = field(default=0, repr=False)
    fired: int = field(default=0, repr=False)

    @classmethod
    def parse(cls, raw: Any) -> "FaultRule":
        if not isinstance(raw, dict):
            raise ValueError(f"a rule must be a JSON object, got {raw!r}")
        known = {k for k in cls.__dataclass_fields__ if k not in ("seen", "fired")}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown rule keys {sorted(unknown)} (known: {sorted(known)})")
        rule = cls(**raw)
        if rule.action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, got {rule.action!r}")
        if rule.phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {rule.phase!r}")
        if rule.route != "*" and rule.route not in ROUTES:
            raise ValueError(f"route must be '*' or one of {ROUTES}, got {rule.route!r}")
        if rule.nth < 1 or rule.times < 0:
            raise ValueError("nth must be >= 1 and times >= 0")
        if rule.path is not None:
            re.compile(rule.path)
        return rule

    def matches(self, method: str, raw_path: str, route: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        if self.route != "*" and self.route != route:
            return False
        return self.path is None or re.search(self.path, raw_path) is not None

    def fires(self) -> bool:
        """Count one matching request; True when this one is to fail."""
        self.seen += 1
        fire = self.seen >= self.nth and (self.times == 0 or self.seen < self.nth + self.times)
        self.fired += fire
        return fire


def parse_rules(text: str) -> list[FaultRule]:
    try:
        raw = json.loads(text)
        if not isinstance(raw, list):
            raise ValueError("expected a JSON list of rules")
        return [FaultRule.parse(item) for item in raw]
    except (ValueError, TypeError) as exc:
        raise BadInputError(f"{ENV_VAR} is not a valid list of fault rules: {exc}",
                            "See docs/local-hub.md, section 'Fault injection'") from exc


def _transport_of(send):
    # uvicorn's ASGI ``send`` is a bound method of the request cycle that owns the transport;
    # aborting it is the only way to make the client see a dropped connection, not a 500.
    return getattr(getattr(send, "__self__", None), "transport", None)


class FaultInjector:
    """ASGI middleware applying the first matching rule to each request."""

    def __init__(self, app, rules: list[FaultRule], tokens_check) -> None:
        self.app = app
        self.rules = rules
        self._lock = threading.Lock()
        self._tokens_check = tokens_check

    def _pick(self, method: str, raw_path: str) -> FaultRule | None:
        route = "faults" if raw_path.rstrip("/") == "/api/local/faults" else route_name(method, raw_path)
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, raw_path, route) and rule.fires():
                    return rule
        return None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if raw_path.rstrip("/") == "/api/local/faults" and scope["method"] in ("GET", "PUT"):
            await self._configure(scope, receive, send)
            return
        rule = self._pick(scope["method"], raw_path)
        if rule is None:
            await self.app(scope, receive, send)
            return
        log.warning("fault injected on %s %s: %s", printable(scope["method"]),
                    printable(scope["path"]), rule)
        if rule.action == "delay":
            await asyncio.sleep(rule.seconds)
            await self.app(scope, receive, send)
        elif rule.action == "status":
            if rule.phase == "response":
                await self.app(scope, receive, _swallow)
            await _send_status(send, rule)
        elif rule.phase == "request":
            await self.app(scope, _cut_request(scope, receive, send), _after_drop(send))
        else:
            await self.app(scope, receive, _cut_response(send))

    async def _configure(self, scope, receive, send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if not self._tokens_check(headers.get("authorization")):
            await _send_json(send, 401, {"error": "A write token is required"})
            return
        if scope["method"] == "GET":
            with self._lock:
                report = [{**{k: v for k, v in vars(r).items() if k not in ("seen", "fired")},
                           "seen": r.seen, "fired": r.fired} for r in self.rules]
            await _send_json(send, 200, {"rules": report})
            return
        try:
            rules = parse_rules(body.decode() or "[]")
        except BadInputError as exc:
            await _send_json(send, 400, {"error": exc.paragraph()})
            return
        with self._lock:
            self.rules = rules
        await _send_json(send, 200, {"rules": len(rules)})


async def _swallow(message) -> None:
    return None


async def _send_json(send, status: int, payload: dict, headers: list | None = None) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


async def _send_status(send, rule: FaultRule) -> None:
    message = f"Injected fault: HTTP {rule.status}"
    headers = [(b"x-error-message", message.encode())]
    if rule.status == 429:
        headers.append((b"ratelimit", f'"api";r=0;t={rule.reset}'.encode()))
        headers.append((b"ratelimit-policy", b'"fixed window";"api";q=500;w=300'))
    await _send_json(send, rule.status, {"error": message}, headers)


async def _abort(send) -> None:
    transport = _transport_of(send)
    if transport is not None:
        transport.abort()
        await asyncio.sleep(0)  # let the server notice the disconnect before anyone sends
    else:  # not uvicorn: an unfinished response is the closest thing to a drop
        raise ConnectionAbortedError("fault injection: connection dropped")


def _cut_request(scope, receive, send):
    """Deliver about half of the request body, then drop the connection."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    budget = {"left": max(int(headers.get("content-length") or 2) // 2, 1), "dropped": False}

    async def cut_receive():
        if budget["dropped"]:
            return {"type": "http.disconnect"}
        message = await receive()
        if message["type"] != "http.request":
            return message
        chunk = message.get("body", b"")
        if len(chunk) < budget["left"] and message.get("more_body"):
            budget["left"] -= len(chunk)
            return message
        budget["dropped"] = True
        await _abort(send)
        return {"type": "http.request", "body": chunk[: budget["left"]], "more_body": True}

    return cut_receive


def _after_drop(send):
    async def guarded(message) -> None:
        transport = _transport_of(send)
        if transport is not None and transport.is_closing():
            return
        await send(message)

    return guarded


def _cut_response(send):
    """Forward the status line and half of the first body chunk, then drop the connection."""
    state = {"dropped": False}

    async def cut_send(message) -> None:
        if state["dropped"]:
            return
        if message["type"] == "http.response.body":
            body = message.get("body", b"")
            state["dropped"] = True
            if len(body) > 1:
                await send({"type": "http.response.body", "body": body[: len(body) // 2],
                            "more_body": True})
            await _abort(send)
            return
        await send(message)

    return cut_send


def wrap_with_faults(app, tokens_check=None):
    """``app`` itself unless ``PUBLISHER_HUB_FAULTS`` is set (never in normal use)."""
    text = os.environ.get(ENV_VAR)
    if text is None:
        return app
    rules = parse_rules(text)
    log.warning("FAULT INJECTION ENABLED (%s): %d rule(s); this server is for tests only",
                ENV_VAR, len(rules))
    return FaultInjector(app, rules, tokens_check or (lambda header: False))
