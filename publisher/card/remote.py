"""Reading a published card and its stored report from a Hub repo (never the weights)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from publisher.errors import BadInputError
from publisher.results import SCHEMA_VERSION, Report

README = "README.md"
# Where a release keeps the measurements its card was rendered from (uploaded by `publish`).
REPORT_FILENAME = "report.json"

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class RemoteCard:
    repo_id: str
    revision: str  # the commit both files were read at
    readme: str | None
    report: Report | None


def fetch_card(client: Any, repo_id: str, revision: str = "main", *, need_report: bool = True) -> RemoteCard:
    """README.md and the stored report of ``repo_id`` at one commit of ``revision``."""
    sha = client.revision_sha(repo_id, revision)
    readme = _text(client, repo_id, README, sha)
    report_text = _text(client, repo_id, REPORT_FILENAME, sha) if need_report else None
    report = parse_report(report_text, f"{repo_id}/{REPORT_FILENAME}") if report_text else None
    return RemoteCard(repo_id, sha, readme, report)


def _text(client: Any, repo_id: str, filename: str, sha: str) -> str | None:
    """A card file of the repo as text; whoever can push may have pushed bytes that are not UTF-8."""
    try:
        return client.download_text(repo_id, filename, revision=sha)
    except UnicodeDecodeError as exc:
        raise BadInputError(
            f"{filename} of {repo_id} (commit {sha[:12]}) is not UTF-8 text (byte {exc.start}: {exc.reason})",
            f"Re-publish the release, or push a UTF-8 {filename}",
        ) from exc


def parse_report(text: str, where: str) -> Report:
    """A ``Report`` from JSON text, refusing newer schemas and unreadable data."""
    try:
        data = json.loads(text)
        version = int(data.get("schema_version", 0))
    except (ValueError, AttributeError, TypeError, OverflowError, RecursionError) as exc:
        raise BadInputError(
            f"The report {where} is not a JSON object ({exc})",
            "Point at a report.json written by publisher",
        ) from exc
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:  # "\ud800" in the JSON: text no output can print
        raise BadInputError(
            f"The report {where} holds text with no UTF-8 form (an escaped lone surrogate, "
            f"{exc.object[exc.start:exc.end]!r})",
            "Re-create it with `publisher publish`",
        ) from None
    except (ValueError, RecursionError):
        pass  # NaN and the like: the fields' types are checked below
    if version > SCHEMA_VERSION:
        raise BadInputError(
            f"The report {where} has schema version {version}, newer than this publisher "
            f"understands ({SCHEMA_VERSION})",
            "Upgrade publisher",
        )
    try:
        return Report.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError) as exc:
        raise BadInputError(
            f"The report {where} is missing fields or has wrong types ({type(exc).__name__}: {exc})",
            "Re-create it with `publisher publish` (or `publisher card render` from a fresh report)",
        ) from exc


def load_report(path: str | Path) -> Report:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInputError(f"Cannot read the report {path} ({exc.strerror})", "Check the path") from exc
    return parse_report(text, str(path))


def is_repo_id(text: str) -> bool:
    return bool(REPO_ID.match(text)) and ".." not in text


def open_client(endpoint: str | None, token_file: str | Path | None = None) -> tuple[Any, str | None]:
    """A ``HubClient`` for ``endpoint`` ("local", a URL or None), with the token from a file if given.

    Returns (client, notice): the notice is what the hub resolution wants said to the user (e.g.
    that a local hub was started), or None.
    """
    from publisher.hub.client import HubClient, resolve_target

    token = None
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise BadInputError(
                f"The token file {token_file} cannot be read ({exc.strerror})", "Check --token-file"
            ) from exc
    target = resolve_target(endpoint, token)
    return HubClient(target), target.notice
