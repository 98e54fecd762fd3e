"""Reading a card back: which ledger claim each figure line and each statement of a card makes.

Render (which refuses a card that shows what the ledger does not stand behind), lint and
`publisher verify` all read cards with these functions, so they agree on what a line claims.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator

from publisher.results import Claim, ClaimsLedger
from publisher.tasks import TASKS
from publisher.tasks.contract import EVALUATION_ROWS

# Every figure any task declares, in registry order: what a card label may name.
_FIGURES = [spec for task in TASKS.values() for spec in task.figures]

# A figure on a card: "- Label: **0.9128**", "* group size: **64**", "- INT4 weights: **38.9%**".
FIGURE_LINE = re.compile(
    r"^\s*[-*+]\s+(?P<label>[^:\n]+?):\s*\*\*(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?P<pct>%?)"
    r"(?P<unit> (?:ms|tokens/s|samples/s))?\*\*"
)
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
# A figure in a table cell: "| person | 429 | **0.412** |" under the header "| entity type | support |
# PyTorch F1 |" is labelled by its row's first cell and its column's header: "person PyTorch F1".
_TABLE_ROW = re.compile(r"^\s*\|(?P<cells>.*)\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|(?:\s*:?-{3,}:?\s*\|)+\s*$")
_CELL_FIGURE = re.compile(r"^\*\*(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?P<pct>%?)\*\*$")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")

# Statements about how a model was made and measured, in the bundled templates' words and the usual
# variants of a hand-written card; each names the ledger claim that must stand behind it. How much
# data a card says it was measured on is worded by each task (``Task.rows_phrase``).
_STATEMENTS: list[tuple[str, re.Pattern[str]]] = [
    ("compression.quantization_aware_training", re.compile(r"quantization[- ]aware training|\bQAT\b", re.I)),
    ("compression.distillation", re.compile(r"\bdistill(?:ation|ed)\b", re.I)),
    ("compression.pruning", re.compile(
        r"\b(?:unstructured|structured|magnitude|movement)(?: magnitude)? pruning\b|"
        r"\bregularization-based sparsity\b|\bfixed-mask sparsity\b", re.I)),
    ("compression.weights", re.compile(r"\b(?:compressed|quantized) to (?P<bits>INT8|INT4|8-bit|4-bit)\b", re.I)),
    ("compatibility.openvino", re.compile(r"\bOpenVINO (?:version )?(?P<version>\d+(?:\.\d+)+)(?P<higher> and higher)")),
    ("signature.key", re.compile(r"\bpublic key fingerprint `?sha256:(?P<fingerprint>[0-9a-f]{64})`?")),
    (EVALUATION_ROWS, re.compile(r"\b(?:" + "|".join(f"(?:{t.rows_phrase.replace('(?P<rows>', '(?:')})"
                                                     for t in TASKS.values()) + ")")),
]


@dataclass(frozen=True)
class CardFigure:
    line: int  # 1-based, within the text given
    label: str
    printed: str  # the number as shown, without "%"
    percent: bool

    @property
    def shown(self) -> str:
        return self.printed + ("%" if self.percent else "")


@dataclass(frozen=True)
class CardStatement:
    line: int
    phrase: str  # as the card words it (links reduced to their text)
    claim_id: str  # the ledger claim that must stand behind it
    value: Any  # what the phrase states: a precision ("int8"), a version, a row count, or None


def lines_outside_fences(body: str, first_line: int = 1) -> Iterator[tuple[int, str]]:
    """(line number, line) of a Markdown body, skipping fenced code blocks and their fences."""
    fence: str | None = None
    for offset, line in enumerate(body.split("\n")):
        marker = _FENCE.match(line)
        if marker:
            mark = marker.group(1)
            if fence is None:
                fence = mark
            elif mark[0] == fence[0] and len(mark) >= len(fence):
                fence = None
            continue
        if fence is None:
            yield first_line + offset, line


def _cells(line: str) -> list[str] | None:
    row = _TABLE_ROW.match(line)
    return [c.strip() for c in row.group("cells").split("|")] if row else None


def card_figures(body: str, first_line: int = 1) -> list[CardFigure]:
    """The figures of a card body, outside code fences: each figure line (``- Label: **value**``)
    and each bold number in a table cell (labelled by its row's first cell and its column's header)."""
    out = []
    previous: list[str] | None = None
    header: list[str] | None = None
    for number, line in lines_outside_fences(body, first_line):
        match = FIGURE_LINE.match(line)
        if match:
            out.append(CardFigure(number, match.group("label").strip(), match.group("value"),
                                  bool(match.group("pct"))))
        cells = _cells(line)
        if cells is None:
            previous = header = None
            continue
        if _TABLE_RULE.match(line):
            header = previous
        elif header is not None:
            for column, cell in enumerate(cells[1:len(header)], start=1):
                figure = _CELL_FIGURE.match(cell)
                if figure:
                    out.append(CardFigure(number, f"{cells[0]} {header[column]}", figure.group("value"),
                                          bool(figure.group("pct"))))
        previous = cells
    return out


def card_statements(body: str, first_line: int = 1) -> list[CardStatement]:
    """Each statement about how the model was made or measured, outside code fences."""
    out = []
    for number, line in lines_outside_fences(body, first_line):
        text = _LINK.sub(r"\1", line).replace("OpenVINO™", "OpenVINO")
        if FIGURE_LINE.match(text):
            continue  # a figure line's label ("INT4 weights") is not a statement
        for claim_id, pattern in _STATEMENTS:
            for m in pattern.finditer(text):
                out.append(CardStatement(number, m.group(0), claim_id, _statement_value(claim_id, m)))
    return out


def _statement_value(claim_id: str, match: re.Match[str]) -> Any:
    if claim_id == "compression.weights":
        bits = match.group("bits").upper()
        return {"8-BIT": "int8", "4-BIT": "int4"}.get(bits, bits.lower())
    if claim_id == "compatibility.openvino":
        return match.group("version"), bool(match.group("higher"))
    if claim_id == EVALUATION_ROWS:
        return _rows(match.group(0))
    if claim_id == "signature.key":
        return match.group("fingerprint")
    return None


def _rows(phrase: str) -> int | None:
    """The row count of an evaluation-rows phrase, in the words of whichever task it is."""
    for task in TASKS.values():
        match = re.search(task.rows_phrase, phrase)
        if match:
            return task.rows_value(match)
    return None


def statement_matches(statement: CardStatement, claim: Claim | None) -> bool:
    """Whether ``claim`` (the ledger entry of the statement's kind) says what the card says."""
    if claim is None:
        return False
    if statement.claim_id == "compression.weights":
        return str(claim.value).lower() == statement.value
    if statement.claim_id == "compatibility.openvino":
        version, higher = statement.value
        return str(claim.value) == version and (not higher or claim.printed.endswith("and higher"))
    if statement.claim_id == EVALUATION_ROWS:
        return _int_or_none(claim.value) == statement.value
    if statement.claim_id == "signature.key":
        return str(claim.value) == statement.value
    return True


def claims_for_label(label: str, ledger: ClaimsLedger) -> list[Claim]:
    """The claims a card line with ``label`` may state: those whose declaration (``FigureSpec``
    of a task, publisher.tasks) names the label; empty when the label names none."""
    # A family's label names its member (a table row's first cell): more specific than a table label.
    out: list[Claim] = [c for task in TASKS.values() for c in task.family_claims_for_label(label, ledger)]
    for spec in _FIGURES:
        if spec.names(label):
            claim = ledger.get(spec.id)
            if claim is not None and claim not in out:
                out.append(claim)
    return out


def _number(value: Any) -> float | None:
    """A claim's value as a float; None when a hand-edited ledger holds something else."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _decimals(printed: str) -> int:
    try:
        exponent = Decimal(printed).as_tuple().exponent
    except (InvalidOperation, TypeError, ValueError):  # a hand-edited ledger's "printed" (hostile input)
        return 0
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def printed_matches(printed: str, value: float, percent: bool = False, ledger_printed: str | None = None) -> bool:
    """Whether ``printed`` is ``value`` rounded to the digits shown, and shows enough of them: at
    least as many decimals as the ledger prints, or two (so "1" cannot stand for 0.6)."""
    try:
        shown = Decimal(printed)
    except InvalidOperation:
        return False
    if ledger_printed is not None:
        wanted = _decimals(str(ledger_printed).rstrip("%").lstrip("+"))
        if _decimals(printed) < min(wanted, 2):
            return False
    exponent = shown.as_tuple().exponent
    if not isinstance(exponent, int):
        return False
    tolerance = Decimal(5) * Decimal(10) ** (exponent - 1)
    if not math.isfinite(value):  # a hand-edited ledger's NaN or infinity: no printed number is it
        return False
    target = Decimal(repr(float(value))) * (100 if percent else 1)
    return abs(shown - target) <= tolerance + Decimal("1e-12")


def figure_claim(figure: CardFigure, ledger: ClaimsLedger) -> tuple[Claim | None, bool]:
    """The claim a figure line states, and whether its number is that claim's value."""
    candidates = claims_for_label(figure.label, ledger)
    for claim in candidates:
        value = _number(claim.value)
        if value is not None and printed_matches(figure.printed, value, figure.percent, claim.printed):
            return claim, True
    return (candidates[0] if candidates else None), False


def unledgered(body: str, ledger: ClaimsLedger) -> list[str]:
    """What a rendered card shows that no claim of the ledger stands behind, one line each."""
    out = [f"line {f.line}: {f.label!r} shows {f.shown}" for f in card_figures(body)
           if not figure_claim(f, ledger)[1]]
    out += [f"line {s.line}: {s.phrase!r}" for s in card_statements(body)
            if not statement_matches(s, ledger.get(s.claim_id))]
    return out
