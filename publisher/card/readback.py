"""Reading a card back: which ledger claim each figure line and each statement of a card makes.

Render (which refuses a card that shows what the ledger does not stand behind), lint and
`publisher verify` all read cards with these functions, so they agree on what a line claims.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator

from publisher.results import Claim, ClaimsLedger

# A figure on a card: "- Label: **0.9128**", "* group size: **64**", "- INT4 weights: **38.9%**".
FIGURE_LINE = re.compile(
    r"^\s*[-*+]\s+(?P<label>[^:\n]+?):\s*\*\*(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?P<pct>%?)"
    r"(?P<unit> (?:ms|tokens/s|samples/s))?\*\*"
)
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")

# Statements about how a model was made and measured, in the bundled templates' words and the usual
# variants of a hand-written card; each names the ledger claim that must stand behind it.
_STATEMENTS: list[tuple[str, re.Pattern[str]]] = [
    ("compression.quantization_aware_training", re.compile(r"quantization[- ]aware training|\bQAT\b", re.I)),
    ("compression.distillation", re.compile(r"\bdistill(?:ation|ed)\b", re.I)),
    ("compression.pruning", re.compile(
        r"\b(?:unstructured|structured|magnitude|movement)(?: magnitude)? pruning\b|"
        r"\bregularization-based sparsity\b|\bfixed-mask sparsity\b", re.I)),
    ("compression.weights", re.compile(r"\b(?:compressed|quantized) to (?P<bits>INT8|INT4|8-bit|4-bit)\b", re.I)),
    ("compatibility.openvino", re.compile(r"\bOpenVINO (?:version )?(?P<version>\d+(?:\.\d+)+)(?P<higher> and higher)")),
    ("evaluation.rows", re.compile(r"\b(?P<rows>\d[\d,]*) (?:samples\b(?!/)|tokens scored in \d+ windows)")),
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


def card_figures(body: str, first_line: int = 1) -> list[CardFigure]:
    """The figure lines of a card body (``- Label: **value**``), outside code fences."""
    out = []
    for number, line in lines_outside_fences(body, first_line):
        match = FIGURE_LINE.match(line)
        if match:
            out.append(CardFigure(number, match.group("label").strip(), match.group("value"),
                                  bool(match.group("pct"))))
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
    if claim_id == "evaluation.rows":
        return int(match.group("rows").replace(",", ""))
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
    if statement.claim_id == "evaluation.rows":
        return int(claim.value) == statement.value
    return True


def _sides(text: str) -> list[str]:
    if "openvino" in text or re.search(r"\bir\b", text):
        return ["openvino"]
    if "torch" in text:
        return ["torch"]
    return ["openvino", "torch"]


def claims_for_label(label: str, ledger: ClaimsLedger) -> list[Claim]:
    """The claims a card line with ``label`` may state (the templates' wording and the obvious
    variants of a hand-edited card); empty when the label names none."""
    text = label.lower()
    ids: list[str] = []
    if "perplexity" in text:
        ids = ["perplexity.increase"] if ("relative" in text or "increase" in text) else \
            [f"perplexity.{side}" for side in _sides(text)]
    elif "agreement" in text:
        ids = ["parity.top1_agreement", "verification.argmax_agreement"]
    elif "logit" in text:
        ids = (["parity.mean_abs_logit_diff"] if ("mean" in text or "average" in text)
               else ["parity.max_abs_logit_diff", "verification.max_abs_logit_diff"])
    elif "sparsity" in text and ("throughput" not in text):
        ids = [f"sparsity.{side}" for side in _sides(text)]
    elif "first token" in text and "after" not in text:
        ids = ["performance.ttft_ms"]
    elif "speed" in text or "tokens/s" in text or "tokens per second" in text:
        ids = ["performance.tokens_per_second"]
    elif "latency" in text:
        ids = ["performance.latency_ms"]
    elif "throughput" in text:
        ids = ["performance.sparse_throughput"] if "sparse" in text else ["performance.throughput"]
    elif "exact" in text or "match" in text:
        ids = ["generation.exact_match_rate"]
    elif "group size" in text:
        ids = ["quantization.group_size"]
    elif re.search(r"\bratio\b", text):
        ids = ["quantization.ratio"]
    else:
        for key in ("int4", "int8", "float"):
            if re.search(rf"\b{key}\b", text) and "weight" in text:
                ids = [f"weight_precision.{key}"]
                break
        else:
            metrics = {c.id.rsplit(".", 1)[0] for c in ledger.claims
                       if c.id.endswith((".openvino", ".torch")) and c.stage == "accuracy"}
            for metric in metrics:
                if metric in text or metric.replace("_", " ") in text:
                    ids = [f"{metric}.{side}" for side in _sides(text)]
    return [c for c in (ledger.get(i) for i in ids) if c is not None]


def _decimals(printed: str) -> int:
    exponent = Decimal(printed).as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def printed_matches(printed: str, value: float, percent: bool = False, ledger_printed: str | None = None) -> bool:
    """Whether ``printed`` is ``value`` rounded to the digits shown, and shows enough of them: at
    least as many decimals as the ledger prints, or two (so "1" cannot stand for 0.6)."""
    try:
        shown = Decimal(printed)
    except InvalidOperation:
        return False
    if ledger_printed is not None:
        wanted = _decimals(ledger_printed.rstrip("%").lstrip("+"))
        if _decimals(printed) < min(wanted, 2):
            return False
    exponent = shown.as_tuple().exponent
    if not isinstance(exponent, int):
        return False
    tolerance = Decimal(5) * Decimal(10) ** (exponent - 1)
    target = Decimal(repr(float(value))) * (100 if percent else 1)
    return abs(shown - target) <= tolerance + Decimal("1e-12")


def figure_claim(figure: CardFigure, ledger: ClaimsLedger) -> tuple[Claim | None, bool]:
    """The claim a figure line states, and whether its number is that claim's value."""
    candidates = claims_for_label(figure.label, ledger)
    for claim in candidates:
        if printed_matches(figure.printed, float(claim.value), figure.percent, claim.printed):
            return claim, True
    return (candidates[0] if candidates else None), False


def unledgered(body: str, ledger: ClaimsLedger) -> list[str]:
    """What a rendered card shows that no claim of the ledger stands behind, one line each."""
    out = [f"line {f.line}: {f.label!r} shows {f.shown}" for f in card_figures(body)
           if not figure_claim(f, ledger)[1]]
    out += [f"line {s.line}: {s.phrase!r}" for s in card_statements(body)
            if not statement_matches(s, ledger.get(s.claim_id))]
    return out
