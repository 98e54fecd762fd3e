"""JSON Lines evaluation files: each line one JSON object, blank lines skipped."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator


def json_objects(text: str, bad: Callable[[str], Exception]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-blank line; ``bad(problem)`` is the error the file's loader
    raises for a line that is not a JSON object (it names the file and its layout)."""
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise bad(f"has a line that is not JSON (line {n}: {str(exc)[:120]})") from None
        if not isinstance(row, dict):
            raise bad(f"has a line that is not a JSON object (line {n})")
        yield n, row
