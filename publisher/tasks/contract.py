"""The task contract: every decision that differs by the kind of model a release holds.

A task is one subclass of ``Task`` in one module of this package, registered in
``publisher.tasks.TASKS``. The runner, the card, the claims ledger, `publisher verify` and the CLI
ask the report's task (``task_of``) instead of branching on its name, so adding a task means
writing its module, its stage code and its card template, registering it, and naming its gates in
the options table (docs/adding-a-task.md).

The task's claims are declared once, as data (``FigureSpec``): the ledger entries, the card's
figure values, the read-back of a rendered card and verify's printing all come from that table.

This module is plain declarations: it imports no stage, no library that loads models.
"""

from __future__ import annotations

import abc
import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from publisher.errors import BadInputError
from publisher.results import Claim, Kind, Recheck, Where

if TYPE_CHECKING:
    from publisher.progress import Progress
    from publisher.results import ClaimsLedger, ExportResult, GateResult, Measurements, Report
    from publisher.tasks.run import MeasureRequest

# Keys of ClaimsLedger.inputs: what a claim was measured from.
IR, DATA, CHECKPOINT = "ir", "evaluation_data", "checkpoint"

# Ids of the claims every task makes, named once.
EVALUATION_ROWS = "evaluation.rows"
SPARSITY_OPENVINO, SPARSITY_TORCH = "sparsity.openvino", "sparsity.torch"

EXACT = 1e-9
IR_XML_NAME = "openvino_model.xml"  # publisher.stages.export.IR_XML, named here without importing a stage
MODEL_INDEX, BODY = Where.MODEL_INDEX, Where.BODY
BOTH = (Where.MODEL_INDEX, Where.BODY)


# --- how a figure is printed ------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixed:
    """``digits`` decimals: 0.9128."""

    digits: int

    def __call__(self, value: float) -> str:
        return f"{float(value):.{self.digits}f}"


@dataclass(frozen=True)
class Significant:
    """``digits`` significant digits: 0.0123."""

    digits: int

    def __call__(self, value: float) -> str:
        return f"{float(value):.{self.digits}g}"


@dataclass(frozen=True)
class Percent:
    """A share printed as a percentage: 38.9%; ``signed``: +1.55%."""

    digits: int
    signed: bool = False

    def __call__(self, value: float) -> str:
        sign = "+" if self.signed else ""
        return f"{float(value) * 100:{sign}.{self.digits}f}%"


@dataclass(frozen=True)
class AsIs:
    """The value as recorded (a group size, a ratio)."""

    def __call__(self, value: Any) -> str:
        return str(value)


Format = Fixed | Significant | Percent | AsIs


# --- how close a re-measurement must be --------------------------------------------------------------


@dataclass(frozen=True)
class Tolerance:
    """A re-check rule: the absolute tolerance of a re-measurement of ``value``, and why."""

    reason: str = ""

    def amount(self, report: "Report", value: float) -> float | None:
        return None

    def why(self, report: "Report") -> str:
        return self.reason


@dataclass(frozen=True)
class Exact(Tolerance):
    def amount(self, report: "Report", value: float) -> float | None:
        return EXACT


@dataclass(frozen=True)
class Unbounded(Tolerance):
    """No tolerance is stated: the figure is re-measured, and judged by other claims."""


@dataclass(frozen=True)
class Absolute(Tolerance):
    limit: float = 0.0

    def amount(self, report: "Report", value: float) -> float | None:
        return self.limit


@dataclass(frozen=True)
class Relative(Tolerance):
    share: float = 0.0

    def amount(self, report: "Report", value: float) -> float | None:
        return self.share * float(value)


@dataclass(frozen=True)
class ItsOwnValue(Tolerance):
    """A worst case over every sample: it may move by as much as it is."""

    def amount(self, report: "Report", value: float) -> float | None:
        return float(value)


@dataclass(frozen=True)
class OfCount(Tolerance):
    """``flips`` of the ``count(report)`` items measured (at least ``floor``), with a reason that
    names them: a prediction at a decision boundary may flip between CPUs."""

    flips: int = 2
    count: Callable[["Report"], int] = lambda report: 1
    floor: float = 0.0
    reason_of: Callable[[int, int], str] | None = None

    def amount(self, report: "Report", value: float) -> float | None:
        return max(self.floor, self.flips / max(int(self.count(report)), 1))

    def why(self, report: "Report") -> str:
        if self.reason_of is None:
            return self.reason
        return self.reason_of(self.flips, max(int(self.count(report)), 1))


# --- a claim the card makes, declared once -------------------------------------------------------------


@dataclass(frozen=True)
class FigureSpec:
    """One figure: its ledger entry, the card line that shows it and how verify re-checks it.

    ``field`` is where report.json holds the measurement (dots; ``read`` computes a derived value);
    ``label`` is the claim in words (the ledger's ``text``); ``card_label`` is a regular expression
    that a card line's label matches when it states this figure (the bundled template's wording and
    the obvious variants of a hand-edited card), lower case, with ``not_label`` excluding look-alikes;
    ``side`` says which model a label must name, when the figure exists for both.
    """

    id: str
    field: str
    label: str | Callable[["Report"], str]
    printed: Format
    stage: str
    recheck: Recheck
    tolerance: Tolerance
    where: tuple[Where, ...] = (Where.BODY,)
    inputs: tuple[str, ...] | None = None  # default: by who can re-check it
    card_label: str = ""
    not_label: str = ""
    side: str | None = None  # "openvino" | "torch"
    read: Callable[["Report"], Any] | None = None
    when: Callable[["Report"], bool] | None = None

    def applies(self, report: "Report") -> bool:
        return self.when is None or bool(self.when(report))

    def value(self, report: "Report") -> Any:
        return self.read(report) if self.read is not None else read_field(report, self.field)

    def claim(self, report: "Report") -> Claim | None:
        """The ledger entry for ``report``, or None when the report does not give this figure."""
        if not self.applies(report):
            return None
        value = self.value(report)
        if value is None:
            return None
        inputs = self.inputs
        if inputs is None:
            inputs = {Recheck.IR: (IR, DATA), Recheck.CHECKPOINT: (CHECKPOINT, DATA)}.get(self.recheck, (IR,))
        text = self.label(report) if callable(self.label) else self.label
        return Claim(id=self.id, kind=Kind.FIGURE, text=text, value=float(value),
                     printed=self.printed(value), stage=self.stage, field=self.field, inputs=list(inputs),
                     recheck=self.recheck, tolerance=self.tolerance.amount(report, float(value)),
                     tolerance_reason=self.tolerance.why(report), where=list(self.where))

    def names(self, label: str) -> bool:
        """Whether a card line labelled ``label`` states this figure."""
        text = label.lower()
        if not self.card_label or not re.search(self.card_label, text):
            return False
        if self.not_label and re.search(self.not_label, text):
            return False
        return self.side is None or self.side in label_sides(text)


@dataclass(frozen=True)
class FigureFamily:
    """Figures declared once for every member of a set that only the report knows (each entity type
    of a token classifier): ``spec(member)`` is the member's ``FigureSpec``, whose id is
    ``{prefix}.{member}.{suffix}``; ``members(report)`` are those the report measured."""

    prefix: str
    suffix: str
    members: Callable[["Report"], list[str]]
    spec: Callable[[str], FigureSpec]

    def specs(self, report: "Report") -> list[FigureSpec]:
        return [self.spec(m) for m in self.members(report)]

    def member_of(self, claim_id: str) -> str | None:
        """The member a ledger id names, or None when the id is not of this family."""
        head, tail = f"{self.prefix}.", f".{self.suffix}"
        if claim_id.startswith(head) and claim_id.endswith(tail) and len(claim_id) > len(head) + len(tail):
            return claim_id[len(head):-len(tail)]
        return None


def label_sides(text: str) -> tuple[str, ...]:
    """Which model a label names: the IR, torch, or (naming neither) either."""
    if "openvino" in text or re.search(r"\bir\b", text):
        return ("openvino",)
    if "torch" in text:
        return ("torch",)
    return ("openvino", "torch")


def read_field(report: "Report", path: str) -> Any:
    """The value at a dotted path of the report (attributes, then mapping keys)."""
    node: Any = report
    for part in path.split("."):
        if node is None:
            return None
        node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
    return node


@dataclass(frozen=True)
class GateSpec:
    """A quality gate the task applies: the option that holds its threshold (its default, help
    and direction are in publisher.options), and how to read the measured figure it judges."""

    option: str  # e.g. "min_ir_accuracy"
    measured: Callable[["Report"], float | None]


@dataclass(frozen=True)
class RowsStatement:
    """How much data the figures were measured on, as the card words it ("872 samples")."""

    value: int
    printed: str
    stage: str
    field: str
    reason: str


# --- the contract ---------------------------------------------------------------------------------------


class Task(abc.ABC):
    """What one kind of release does differently. Subclasses set the class attributes and fill
    the abstract methods; everything else has a default that fits most tasks."""

    name: ClassVar[str]  # the Hub's pipeline tag and model-index task type, e.g. "text-classification"
    title: ClassVar[str]  # for messages, e.g. "text classifier"
    architecture_suffixes: ClassVar[tuple[str, ...]]  # config.json architectures[0] ends with one
    auto_class: ClassVar[str]  # transformers class that loads the checkpoint
    optimum_task: ClassVar[str]  # optimum-intel's export task
    ov_model_class: ClassVar[str]  # optimum-intel class that loads the IR
    template: ClassVar[str]  # bundled card template
    evaluation: ClassVar[str]  # what the evaluation data looks like (help and errors)
    default_split: ClassVar[str]  # the evaluation split when --split is not given
    weight_formats: ClassVar[tuple[str, ...]]
    weight_format_refusals: ClassVar[dict[str, str]] = {}  # format -> why it is not offered
    metric: ClassVar[str]  # the metric of the model-index results
    performance_result: ClassVar[type]  # what --bench measures
    results_type: ClassVar[type | None] = None  # the task's own Report.task_results dataclass
    evaluation_stage: ClassVar[str]  # the stage whose figures need the IR to run
    figures: ClassVar[tuple[FigureSpec, ...]]  # every figure the card may state, in ledger order
    figure_families: ClassVar[tuple[FigureFamily, ...]] = ()  # figures of each member (after ``figures``)
    gates: ClassVar[tuple[GateSpec, ...]]
    card_variables: ClassVar[tuple[str, ...]]  # template variables only this task fills
    # What each of this task's own variables holds, for `publisher card variables` (the catalogue of
    # publisher.card.variables adds these to the variables every card has).
    card_variable_docs: ClassVar[dict[str, str]] = {}
    rows_phrase: ClassVar[str]  # regex of the evaluation-rows statement, group "rows"
    lists_eval_dataset: ClassVar[bool] = False  # the card's `datasets` names the evaluation set
    offers_static_int8: ClassVar[bool] = False  # --static-int8: activations calibrated too
    adds_to_repos: ClassVar[bool] = False  # --add-to: its IR can be added to the model's own repo

    # --- which checkpoints ---------------------------------------------------------------------------

    def accepts(self, architecture: str | None) -> bool:
        return bool(architecture) and architecture.endswith(self.architecture_suffixes)

    def accepts_checkpoint(self, config: dict[str, Any]) -> bool:
        """Whether a checkpoint with this config.json is this task's (inferred, not forced with --task)."""
        archs = config.get("architectures") or []
        return self.accepts(archs[0] if archs else None)

    # --- publish --------------------------------------------------------------------------------------

    @abc.abstractmethod
    def measure(self, request: "MeasureRequest") -> tuple["Measurements", "ExportResult"]:
        """Load, export (unless the request carries a valid cached export), measure."""

    @abc.abstractmethod
    def export_only(self, settings: Any, output: Path, staging_dir: Path) -> "ExportResult":
        """Export as a release of this task does (``publisher export``)."""

    @abc.abstractmethod
    def measure_existing_ir(self, checkpoint: Path, ir_dir: Path, settings: Any,
                            progress: "Progress") -> "Measurements":
        """The measurements of an IR exported before, against its checkpoint (stage commands)."""

    @abc.abstractmethod
    def stage_result(self, stage: str, measurements: "Measurements") -> tuple[Any, bool]:
        """What ``publisher parity`` (stage "parity") or ``publisher accuracy`` (stage "accuracy")
        prints from ``measure_existing_ir``, and whether it passed."""

    @abc.abstractmethod
    def benchmark(self, ir_dir: Path) -> Any:
        """``--bench``: the IR's performance on this CPU (a ``performance_result``)."""

    def rejudged(self, measurements: "Measurements", gates: Any) -> "Measurements":
        """Thresholds are settings, not measurements: a cached result judged with ``gates``."""
        return measurements

    @abc.abstractmethod
    def evaluation_sample(self, settings: Any) -> tuple[list[str] | str, str]:
        """The evaluation data the run measured on, for the compatibility runs, and its name."""

    @abc.abstractmethod
    def commit_message(self, report: "Report") -> str: ...

    def evaluate_gates(self, gates: Any, report: "Report") -> list["GateResult"]:
        from publisher.options import BY_KEY
        from publisher.tasks.run import check_gates

        return check_gates([(g.option, g.measured(report), getattr(gates, g.option), BY_KEY[g.option].gate)
                            for g in self.gates])

    # --- the report and the card -------------------------------------------------------------------------

    @abc.abstractmethod
    def eval_dataset(self, report: "Report") -> Any:
        """What the figures were measured on (a DatasetInfo or TextDatasetInfo)."""

    @abc.abstractmethod
    def data_description(self, report: "Report") -> str:
        """The evaluation data in the ledger's words: "GLUE SST2 validation (872 rows)"."""

    @abc.abstractmethod
    def rows_statement(self, report: "Report") -> RowsStatement: ...

    def rows_value(self, match: re.Match[str]) -> int:
        return int(match.group("rows").replace(",", ""))

    @abc.abstractmethod
    def ledger_method(self, report: "Report") -> dict[str, Any]:
        """How to re-measure: what a re-check must set as publish did (max length, windows...)."""

    @abc.abstractmethod
    def model_index_values(self, report: "Report") -> tuple[float, float]:
        """(IR, torch) values of ``metric`` on the evaluation data: the model-index results."""

    def model_index_args(self, report: "Report") -> dict[str, Any] | None:
        """model-index metric.args: how the figure was measured, when it depends on it."""
        return None

    def model_index_metrics(self, report: "Report") -> list[tuple[str, str | None, str, float]]:
        """The model-index results, IR first: (metric type, metric name, config, value); the ledger
        holds each as the claim ``{type}.{config}``. By default ``metric`` for the IR and torch; a name
        of None is the metric's own title (publisher.card.facts.metric_title)."""
        ir_value, torch_value = self.model_index_values(report)
        return [(self.metric, None, "openvino", float(ir_value)), (self.metric, None, "torch", float(torch_value))]

    def model_index_task(self, report: "Report") -> tuple[str, str] | None:
        """model-index task (type, name), when it is not the pipeline tag (MTEB's "STS")."""
        return None

    # --- the release's layout and Hub metadata -----------------------------------------------------------

    def ir_relpath(self, settings: Any) -> str:
        """Where the IR's .xml lies in a release of this task made with ``settings`` (its .bin beside it)."""
        return IR_XML_NAME

    def pipeline_tag(self, checkpoint: Path) -> str:
        """The Hub pipeline tag of a release of ``checkpoint``."""
        return self.name

    def library_name(self, checkpoint: Path) -> str | None:
        """The Hub library that loads the release as pushed (None: publisher's default, openvino)."""
        return None

    @abc.abstractmethod
    def card_context(self, report: "Report", ledger: "ClaimsLedger") -> dict[str, Any]:
        """The template variables only this task fills (``card_variables``, ``performance``)."""

    # --- the CLI ------------------------------------------------------------------------------------------

    @abc.abstractmethod
    def summary_rows(self, report: "Report") -> list[tuple[str, str, str]]:
        """(measure, torch, OpenVINO IR) rows of the summary table."""

    @abc.abstractmethod
    def key_figure(self, document: dict[str, Any]) -> str:
        """The one figure a batch summary shows, from the release's JSON document."""

    # --- publisher verify -----------------------------------------------------------------------------------

    @abc.abstractmethod
    def remeasure_from_ir(self, report: "Report", release_dir: Path, options: Any, progress: "Progress",
                          out: Any) -> None:
        """Re-measure the evaluation figures from the downloaded IR into ``out`` (a
        ``publisher.recheck.ledger_checks.Remeasured``)."""

    @abc.abstractmethod
    def remeasure_with_checkpoint(self, report: "Report", release_dir: Path, checkpoint: Path, eval_input: Any,
                                  options: Any, progress: "Progress") -> dict[str, Any]:
        """The torch-side figures re-measured from the checkpoint: claim id -> value."""

    # --- derived from the declarations ---------------------------------------------------------------

    def figure(self, claim_id: str) -> FigureSpec | None:
        found = next((f for f in self.figures if f.id == claim_id), None)
        if found is None:
            for family in self.figure_families:
                member = family.member_of(claim_id)
                if member is not None:
                    return family.spec(member)
        return found

    def figure_specs(self, report: "Report") -> list[FigureSpec]:
        """Every figure declared for ``report``: the table, then each family's members."""
        return list(self.figures) + [s for family in self.figure_families for s in family.specs(report)]

    def figure_claims(self, report: "Report") -> list[Claim]:
        return [c for c in (f.claim(report) for f in self.figure_specs(report)) if c is not None]

    def family_claims_for_label(self, label: str, ledger: "ClaimsLedger") -> list[Claim]:
        """The ledger's claims of this task's families that a card line labelled ``label`` states."""
        out = []
        for claim in ledger.claims:
            for family in self.figure_families:
                member = family.member_of(claim.id)
                if member is not None and family.spec(member).names(label):
                    out.append(claim)
        return out

    def shown(self, claim_id: str, value: Any) -> str:
        """A re-measured value as the card prints the claim."""
        spec = self.figure(claim_id)
        return spec.printed(value) if spec is not None else str(value)

    def section_types(self) -> dict[str, Any]:
        """Report fields typed ``Any`` that this task fills, with their types."""
        return {"performance": self.performance_result, "task_results": self.results_type}

    def retyped(self, measurements: "Measurements") -> "Measurements":
        """Cached measurements with the task's own section typed again."""
        from publisher.results import from_dict

        raw = measurements.task_results
        if isinstance(raw, dict) and self.results_type is not None:
            return dataclasses.replace(measurements, task_results=from_dict(self.results_type, raw))
        return measurements

    def check_checkpoint(self, config: dict[str, Any], folder: Path, settings: Any) -> None:
        """Refuse, before any work, what this task cannot release with ``settings``: an architecture
        the installed optimum-intel does not export for ``optimum_task``, a weight format the task does
        not offer; a task adds its own (evaluation data it needs, labels it can score)."""
        weight_format = settings.weight_format
        from publisher.stages.exportability import check_exportable
        from publisher.stages.load import build_config

        self.refuse_weight_format(weight_format)
        if getattr(settings, "compression", None) is not None and settings.compression.static_int8 \
                and not self.offers_static_int8:
            raise BadInputError(f"--static-int8 is not offered for a {self.title}: publisher calibrates static "
                                "INT8 only for sentence-embedding models",
                                "Leave --static-int8 out (INT8 weight compression is the default)")
        archs = config.get("architectures") or [None]
        build_config(folder, archs[0])  # a config.json transformers refuses is refused now, not after loading
        check_exportable(config, self.optimum_task, folder)

    def refuse_weight_format(self, weight_format: str) -> None:
        if weight_format in self.weight_formats:
            return
        reason = self.weight_format_refusals.get(weight_format, "")
        raise BadInputError(
            f"--weight-format {weight_format} is not offered for a {self.title}: {reason}".rstrip(": "),
            f"Use one of {', '.join(self.weight_formats)}",
        )
