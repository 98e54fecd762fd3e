"""An access-log line for requests that uvicorn's HTTP parser refuses before the app sees them.

A raw NUL, CR or LF in the request line, a conflicting or non-numeric ``Content-Length`` or an
oversized header block is answered 400 by uvicorn itself, and the app (whose ``AccessLog``
writes one line per request) never runs. uvicorn only logs ``Invalid HTTP request received.``
to ``uvicorn.error``, without the client or what was sent, so those requests were missing from
the access log. :class:`ParserLoggedProtocol` is uvicorn's own HTTP protocol (httptools or h11,
as uvicorn's ``auto`` picks) that also writes the access line, in the same shape as every other
and escaped the same way: ``CLIENT "REQUEST LINE" 400 Nms refused by the HTTP parser``.
:class:`DropParserWarning` removes uvicorn's own now-redundant warning.
"""

from __future__ import annotations

import logging
import time

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from publisher.hub.server.wire import printable

access_log = logging.getLogger("publisher.hub.access")

PARSER_WARNING = "Invalid HTTP request received."
# How much of a request's first bytes is kept to quote its request line in the log.
_HEAD_KEPT = 512


class ParserLoggedProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP protocol, plus an access line for the requests its parser refuses."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._head = b""
        self._head_started: float | None = None

    def data_received(self, data: bytes) -> None:
        if self._head_started is None:
            self._head_started = time.perf_counter()
        if len(self._head) < _HEAD_KEPT:
            self._head += data[:_HEAD_KEPT - len(self._head)]
        super().data_received(data)

    def on_response_complete(self) -> None:
        # The next bytes on this connection start the next request.
        self._head, self._head_started = b"", None
        super().on_response_complete()

    def send_400_response(self, msg: str) -> None:
        cycle = getattr(self, "cycle", None)
        if cycle is None or getattr(cycle, "response_complete", True):
            # No request in progress: the app never saw this one and wrote no line for it.
            # Up to the first CRLF, so that a raw CR or LF inside the line is shown, escaped.
            line = self._head.split(b"\r\n", 1)[0]
            host = self.client[0] if self.client else "-"
            started = self._head_started or time.perf_counter()
            access_log.info('%s "%s" 400 %.0fms refused by the HTTP parser',
                            printable(str(host)), printable(line.decode("latin-1")) or "-",
                            (time.perf_counter() - started) * 1000)
        super().send_400_response(msg)


class DropParserWarning(logging.Filter):
    """Drops uvicorn's ``Invalid HTTP request received.``: the access line says more."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != PARSER_WARNING


__all__ = ["DropParserWarning", "ParserLoggedProtocol"]
