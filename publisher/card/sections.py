"""Managed sections: the parts of a card publisher owns, fenced by HTML comments.

Everything between ``<!-- publisher:begin NAME -->`` and ``<!-- publisher:end NAME -->`` is
re-rendered on regeneration; everything outside the markers is the user's and is kept as written.
The comments are invisible on the Hub.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from publisher.errors import BadInputError

SECTION_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_MARKER = re.compile(r"^<!-- publisher:(begin|end) ([a-z0-9][a-z0-9_-]*) -->\s*$")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


def begin_marker(name: str) -> str:
    return f"<!-- publisher:begin {name} -->"


def end_marker(name: str) -> str:
    return f"<!-- publisher:end {name} -->"


def wrap(name: str, content: str) -> str:
    """A managed section, or "" when ``content`` is blank (a missing input drops its section)."""
    if not SECTION_NAME.match(name):
        raise BadInputError(
            f"Card section name {name!r} is not allowed",
            "Use lower-case letters, digits, '-' and '_' (for example 'limitations' or 'my-notes')",
        )
    body = content.strip("\n")
    if not body.strip():
        return ""
    return f"\n\n{begin_marker(name)}\n{body}\n{end_marker(name)}\n\n"


@dataclass(frozen=True)
class Segment:
    kind: str  # "managed" | "text"
    text: str  # the lines, markers included for a managed segment
    name: str | None = None


@dataclass(frozen=True)
class MarkerProblem:
    line: int  # 1-based, within the text given
    message: str


def marker_problems(body: str) -> list[MarkerProblem]:
    """Unbalanced, nested or duplicated markers (what ``segments`` would refuse)."""
    problems: list[MarkerProblem] = []
    open_name: str | None = None
    open_line = 0
    seen: set[str] = set()
    for number, line in enumerate(body.split("\n"), start=1):
        match = _MARKER.match(line)
        if not match:
            continue
        kind, name = match.groups()
        if kind == "begin":
            if open_name is not None:
                problems.append(MarkerProblem(number, f"section {name!r} begins inside section {open_name!r}"))
            if name in seen:
                problems.append(MarkerProblem(number, f"section {name!r} appears more than once"))
            open_name, open_line = name, number
            seen.add(name)
        else:
            if open_name != name:
                problems.append(MarkerProblem(number, f"end of section {name!r} without its begin"))
            else:
                open_name = None
    if open_name is not None:
        problems.append(MarkerProblem(open_line, f"section {open_name!r} is never closed"))
    return problems


def segments(body: str) -> list[Segment]:
    """Split a card body into managed sections and the user's text around them."""
    problems = marker_problems(body)
    if problems:
        first = problems[0]
        raise BadInputError(
            f"The card's managed-section markers are broken (line {first.line}: {first.message})",
            "Restore the <!-- publisher:begin/end NAME --> comment pairs, or run `publisher card lint`",
        )
    out: list[Segment] = []
    buffer: list[str] = []
    current: str | None = None
    for line in body.split("\n"):
        match = _MARKER.match(line)
        if match and match.group(1) == "begin":
            if buffer:
                out.append(Segment("text", "\n".join(buffer)))
            buffer, current = [line], match.group(2)
        elif match and match.group(1) == "end":
            buffer.append(line)
            out.append(Segment("managed", "\n".join(buffer), current))
            buffer, current = [], None
        else:
            buffer.append(line)
    if buffer:
        out.append(Segment("text", "\n".join(buffer)))
    return out


def managed_names(body: str) -> list[str]:
    return [s.name for s in segments(body) if s.kind == "managed" and s.name]


def merge(old_body: str, new_body: str) -> str:
    """``old_body`` with its managed sections replaced by ``new_body``'s; user text is kept.

    Sections the new render no longer has are removed; new ones go right after the section that
    precedes them in the new render (or before the first managed section).
    """
    old = segments(old_body)
    if not any(s.kind == "managed" for s in old):
        raise BadInputError(
            "The card has no publisher-managed sections, so regenerating it would overwrite text "
            "publisher did not write",
            "Re-publish the model with `publisher publish` (which writes a managed card), or add "
            "<!-- publisher:begin NAME --> / <!-- publisher:end NAME --> markers around the parts "
            "publisher may rewrite",
        )
    fresh = {s.name: s for s in segments(new_body) if s.kind == "managed"}
    order = list(fresh)
    out: list[Segment] = []
    for seg in old:
        if seg.kind == "text":
            out.append(seg)
        elif seg.name in fresh:
            out.append(fresh[seg.name])
    present = {s.name for s in out if s.kind == "managed"}
    for index, name in enumerate(order):
        if name in present:
            continue
        position = _insert_position(out, order[:index])
        out.insert(position, fresh[name])
        present.add(name)
    # User text is kept byte for byte; only the blank lines around segments are made uniform.
    parts = [s.text.strip("\n") for s in out]
    return "\n\n".join(p for p in parts if p.strip()) + "\n"


def _insert_position(out: list[Segment], before_names: list[str]) -> int:
    for name in reversed(before_names):
        for i, seg in enumerate(out):
            if seg.kind == "managed" and seg.name == name:
                return i + 1
    for i, seg in enumerate(out):
        if seg.kind == "managed":
            return i
    return len(out)


def _hard_break(line: str) -> bool:
    # Two trailing spaces are a Markdown line break, not noise.
    return line.endswith("  ") and bool(line.strip())


def normalize_blank_lines(text: str) -> str:
    """At most one blank line in a row outside code fences; no stray trailing spaces; one final
    newline.

    Templates can then be written for readability without their whitespace reaching the card.
    """
    lines: list[str] = []
    fence: str | None = None
    blank_run = 0
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw if fence or _hard_break(raw) else raw.rstrip()
        match = _FENCE.match(line)
        if match:
            marker = match.group(1)
            if fence is None:
                fence = marker[0] * len(marker)
            elif marker[0] == fence[0] and len(marker) >= len(fence) and not line.strip()[len(marker):].strip():
                fence = None
        if not line.strip() and fence is None:
            blank_run += 1
            if blank_run > 1:
                continue
        else:
            blank_run = 0
        lines.append(line)
    return "\n".join(lines).strip("\n") + "\n"
