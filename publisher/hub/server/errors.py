"""Failures the local hub answers with, each carrying the HTTP status and Hub error code.

``huggingface_hub`` turns the ``X-Error-Code`` header into typed exceptions
(``RepositoryNotFoundError``, ``RevisionNotFoundError``, ``EntryNotFoundError``), so every miss
names its code; the storage layer raises these directly to keep one vocabulary end to end.
"""

from __future__ import annotations


class HubApiError(Exception):
    """An answer other than success: ``status``, a message, and optionally a Hub error code."""

    status: int = 400
    code: str | None = None

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.headers = dict(headers or {})


class BadRequest(HubApiError):
    status = 400


class Unauthorized(HubApiError):
    status = 401


class Forbidden(HubApiError):
    status = 403


class RepoNotFound(HubApiError):
    status = 404
    code = "RepoNotFound"


class RevisionNotFound(HubApiError):
    status = 404
    code = "RevisionNotFound"


class EntryNotFound(HubApiError):
    status = 404
    code = "EntryNotFound"


class RouteNotFound(HubApiError):
    status = 404
    code = "NotFound"


class Conflict(HubApiError):
    status = 409


class PreconditionFailed(HubApiError):
    status = 412


class PayloadTooLarge(HubApiError):
    status = 413


class PayloadError(HubApiError):
    """The request body is malformed or names content the server does not hold."""

    status = 422


class RepoMoved(HubApiError):
    """The repository was renamed: answered with a redirect to the same path under its new id."""

    status = 307

    def __init__(self, old, new) -> None:
        super().__init__(f"Repository {old.id} was moved to {new.id}")
        self.old = old
        self.new = new
