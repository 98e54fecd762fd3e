"""Release versions, read and compared one way everywhere: "2026.4.1-18000-abc" is release 2026.4.1.

The rule for "X and higher" lives here too: the card (publisher.card.facts), the compatibility
result (publisher.results) and `publisher verify --openvino` (publisher.recheck.release) all ask it.
Plain module: it imports nothing from publisher.
"""

from __future__ import annotations

import re
from typing import Any, Iterable


def release_version(version: str | None) -> str | None:
    """The release part of a recorded version: "2026.4.1-18000-abc" -> "2026.4.1"."""
    if not version:
        return None
    match = re.match(r"\d+(?:\.\d+)*", version.strip())
    return match.group(0) if match else None


def version_key(version: str) -> tuple[int, ...]:
    """Sortable form of a version: its numeric parts."""
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def supported_from(runs: Iterable[Any]) -> str | None:
    """The lowest tested release from which every tested release up passed (runs have ``version``
    and ``passed``): what "X and higher" may say. None when the newest tested release failed."""
    ran = sorted((r for r in runs if r.version), key=lambda r: version_key(r.version))
    lowest = None
    for run in reversed(ran):
        if not run.passed:
            break
        lowest = run.version
    return lowest


def failed_at_or_above(runs: Iterable[Any], version: str) -> list[str]:
    """The tested releases at or above ``version`` that failed: each one forbids "and higher"."""
    return [release_version(r.version) or "" for r in runs
            if r.version and not r.passed and version_key(release_version(r.version) or "") >= version_key(version)]
