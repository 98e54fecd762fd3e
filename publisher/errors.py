"""Every error the tool raises on purpose, with the exit code it maps to.

Each error carries a one-paragraph message that names the problem and the fix. The CLI
(``publisher.cli.main``) is the one place that turns them into stderr text and exit codes; library
callers catch them as ordinary exceptions.

Exit codes (documented in the README, relied on by release workflows):

====  =========================================================================
0     success (also: a re-publish that found nothing to change)
1     internal error (a bug: please report it with ``PUBLISHER_DEBUG=1`` output)
2     bad input: checkpoint, data, template, config file or command-line usage
3     a quality gate failed: nothing was pushed
4     authentication: no token, an invalid token, or a token without write access
5     the Hub is unreachable or refused the request (network, 5xx, 412 race, 404 repo)
6     ``publisher verify``: a claim of the release does not hold
130   interrupted (Ctrl-C); the output folder holds a resumable state
====  =========================================================================
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_GATE_FAILED = 3
EXIT_AUTH = 4
EXIT_HUB = 5
EXIT_CLAIM_FAILED = 6
EXIT_INTERRUPTED = 130


class PublisherError(Exception):
    """Base class: a failure the tool understands and can explain.

    ``document``: the run's JSON document when the failure has one (a report with its failed gates,
    a verification with its verdicts); ``--json`` prints it with the error.
    """

    exit_code: int = EXIT_INTERNAL
    kind: str = "error"

    def __init__(self, problem: str, fix: str | None = None, document: dict | None = None) -> None:
        self.problem = problem.rstrip()
        self.fix = fix.rstrip() if fix else None
        self.document = document
        super().__init__(self.paragraph())

    def paragraph(self) -> str:
        """The message as one paragraph: what went wrong, then what to do about it."""
        text = self.problem
        if not text.endswith((".", "!", "?", ":")):
            text += "."
        if self.fix:
            fix = self.fix if self.fix.endswith((".", "!", "?")) else self.fix + "."
            text = f"{text} {fix}"
        return " ".join(text.split())


class BadInputError(PublisherError):
    """The checkpoint, data, template, config or a flag is wrong; the user must change it."""

    exit_code = EXIT_BAD_INPUT
    kind = "bad_input"


class GateFailedError(PublisherError):
    """A measured figure is outside its quality gate; nothing was pushed."""

    exit_code = EXIT_GATE_FAILED
    kind = "gate_failed"


class AuthenticationError(PublisherError):
    """No token, an invalid token, or a token without write access."""

    exit_code = EXIT_AUTH
    kind = "authentication"


class HubError(PublisherError):
    """The Hub (real or local) could not be reached or refused the request."""

    exit_code = EXIT_HUB
    kind = "hub"


class ClaimFailedError(PublisherError):
    """``publisher verify`` found a claim of a release that does not hold."""

    exit_code = EXIT_CLAIM_FAILED
    kind = "claim_failed"
