"""token-classification (named entities): load once, one torch pass, export, one IR pass over the same
tokenized sentences; entity-level precision/recall/F1 (seqeval, strict IOB2) of both, overall and per
entity type, the torch/IR parity at the scored word-start tokens, and sparsity. Its claims (the
per-type figures a ``FigureFamily`` over the types the report measured), card variables, summary rows
and re-checks.

The evaluation data is a local file (``--eval-file``, ``publisher.stages.token_data``) or, without
one, the bundled WNUT-17 test split (CC BY 4.0; chosen over CoNLL-2003, whose Reuters text may not be
redistributed), whose tags the model's id2label must name.
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from publisher.errors import BadInputError
from publisher.progress import Progress
from publisher.results import PerformanceResult, Recheck, Report
from publisher.stages.load import CheckpointKind, check_architecture
from publisher.stages.token_data import ALIGNMENT, LAYOUT, SCHEME, TokenDataset
from publisher.tasks import common
from publisher.tasks.contract import (
    BODY,
    BOTH,
    CHECKPOINT,
    FigureFamily,
    DATA,
    EVALUATION_ROWS,
    IR,
    FigureSpec,
    Fixed,
    GateSpec,
    ItsOwnValue,
    OfCount,
    RowsStatement,
    Significant,
)
from publisher.tasks.encoder import EncoderStages, EncoderTask
from publisher.tasks.run import StageTimer

SUFFIX = "ForTokenClassification"
AUTO_CLASS = "AutoModelForTokenClassification"
FLIPS = 2  # entities (or tokens) at a decision boundary that may flip between CPUs and precisions


# --- the task's own section of the report (Report.task_results) ------------------------------------------


@dataclass(frozen=True)
class TypeScores:
    precision: float
    recall: float
    f1: float
    support: int  # gold entities of the type
    predicted: int = 0  # entities of the type the model predicted


@dataclass(frozen=True)
class EntityScores:
    """Entity-level scores of one model (seqeval, strict IOB2), overall (micro) and per type."""

    precision: float
    recall: float
    f1: float
    entities: int  # gold entities
    predicted: int  # entities the model predicted
    per_type: dict[str, TypeScores] = field(default_factory=dict)


@dataclass(frozen=True)
class TokenParity:
    """The IR's logits against torch's at every scored (word-start) token."""

    compiled: bool
    device: str
    sentences: int
    tokens: int
    token_agreement: float  # share of scored tokens whose argmax label agrees
    max_abs_logit_diff: float


@dataclass(frozen=True)
class TokenClassificationResults:
    dataset: TokenDataset
    scheme: str  # "IOB2"
    alignment: str  # the rule, in words
    metric_module: str  # e.g. "seqeval 1.2.2 (strict, IOB2)"
    max_length: int
    labels: list[str]  # the model's id2label, in id order
    torch: EntityScores
    openvino: EntityScores
    parity: TokenParity
    sentences_per_second: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    unscored_words: int = 0  # words tagged O that tokenize to nothing (token_data.align), left out


def _results(report: Report) -> TokenClassificationResults:
    return report.task_results


def _entities(report: Report) -> int:
    return int(_results(report).dataset.num_entities)


def _tokens(report: Report) -> int:
    return int(_results(report).parity.tokens)


def _entity_flips(flips: int, n: int) -> str:
    return (f"{flips} of {n} entities: a prediction at a decision boundary may flip between CPUs and "
            "inference precisions")


def _token_flips(flips: int, n: int) -> str:
    return (f"{flips} of {n} scored tokens: a prediction at a decision boundary may flip between CPUs and "
            "inference precisions")


ENTITY_FLIPS = OfCount(flips=FLIPS, count=_entities, reason_of=_entity_flips)
TOKEN_FLIPS = OfCount(flips=FLIPS, count=_tokens, reason_of=_token_flips)


def _score_figure(metric: str, side: str) -> FigureSpec:
    model = "OpenVINO IR" if side == "openvino" else "PyTorch"
    return FigureSpec(f"{metric}.{side}", f"task_results.{side}.{metric}", f"{model} entity {metric.upper() if metric == 'f1' else metric}",
                      Fixed(4), "entities", Recheck.IR if side == "openvino" else Recheck.CHECKPOINT, ENTITY_FLIPS,
                      BOTH if metric == "f1" else (BODY,), card_label=rf"\bentity {metric}\b",
                      not_label=r"weight|inference", side=side)


# Per entity type: precision, recall and F1 of each model, in the card body's per-type table. A type's
# figures may move by two of its own entities: two of its gold entities (recall, F1) or two of the
# entities of the type the model predicted (precision).
PER_TYPE = "per_type"
METRIC_WORDS = {"precision": "precision", "recall": "recall", "f1": "F1"}


def _type_scores(report: Report, side: str, name: str) -> TypeScores | None:
    return getattr(_results(report), side).per_type.get(name)


def _type_count(side: str, name: str, metric: str):
    def count(report: Report) -> int:
        t = _type_scores(report, side, name)
        return 0 if t is None else int(t.predicted if metric == "precision" else t.support)
    return count


def _type_flips(name: str, metric: str):
    what = "predicted" if metric == "precision" else "gold"
    return lambda flips, n: (f"{flips} of {n} {what} {name} entities: a prediction at a decision boundary may flip "
                             "between CPUs and inference precisions")


def _type_figure(metric: str, side: str, name: str) -> FigureSpec:
    model = "OpenVINO IR" if side == "openvino" else "PyTorch"
    # A type is a label's name: read through the dataclass, not a dotted path, so a dot in it is harmless.
    return FigureSpec(f"{PER_TYPE}.{name}.{metric}.{side}", f"task_results.{side}.per_type.{name}.{metric}",
                      f"{model} entity {METRIC_WORDS[metric]} of the {name} type", Fixed(3), "entities",
                      Recheck.IR if side == "openvino" else Recheck.CHECKPOINT,
                      OfCount(flips=FLIPS, count=_type_count(side, name, metric), reason_of=_type_flips(name, metric)),
                      (BODY,), card_label=rf"^{re.escape(name.lower())}\s.*\b{metric}\b", side=side,
                      read=lambda r: getattr(_type_scores(r, side, name), metric, None))


def _type_family(metric: str, side: str) -> FigureFamily:
    return FigureFamily(PER_TYPE, f"{metric}.{side}",
                        members=lambda r: sorted(getattr(_results(r), side).per_type),
                        spec=lambda name: _type_figure(metric, side, name))


CHECKPOINT_KIND = CheckpointKind(
    AUTO_CLASS, lambda cfg, folder: check_architecture(cfg, folder, (SUFFIX,), "token classifier", AUTO_CLASS))


# --- measuring ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    loaded: Any  # publisher.stages.load.LoadedCheckpoint
    data: Any  # publisher.stages.token_data.TokenData
    aligned: Any  # publisher.stages.token_data.AlignedBatches
    tokenize_seconds: float
    max_length: int


def eval_file_of(settings: Any) -> str | None:
    """The --eval-file, or None for the bundled WNUT-17 test split."""
    spec = settings.eval
    if spec.dataset and not spec.eval_file:
        raise BadInputError("A token-classification release reads its evaluation data from a local file, not a "
                            f"Hub dataset (--dataset {spec.dataset})",
                            f"Leave --dataset out for the bundled WNUT-17 test split, or pass --eval-file in the "
                            f"layout {LAYOUT}")
    return str(spec.eval_file) if spec.eval_file else None


def load_data(path: str | Path | None, id2label: dict[int, str], split: str, max_samples: int | None) -> Any:
    from publisher.stages.token_data import check_label_scheme, load_token_data

    check_label_scheme(id2label)
    return load_token_data(path, id2label, split=split, max_samples=max_samples)


def _max_length(loaded: Any, data: Any, settings: Any) -> int:
    """--max-length; for the bundled WNUT-17 data, the model's own position limit: nothing is truncated
    (batches are padded to their longest sentence), and two of its tweets are longer than 128 sub-tokens."""
    if data.info.bundled:
        limit = getattr(loaded.config, "max_position_embeddings", None)
        if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
            return limit
    return int(settings.eval.max_length)


def prepare(checkpoint: Path, settings: Any, progress: Progress, timer: StageTimer,
            data: Any = None) -> Prepared:
    from publisher.stages.load import load_checkpoint
    from publisher.stages.token_data import align

    with progress.stage(f"Loading {checkpoint}"), timer.timed("load"):
        loaded = load_checkpoint(checkpoint, trust_pickle=settings.trust_pickle, auto_class=CHECKPOINT_KIND)
    start = time.perf_counter()
    spec = settings.eval
    if data is None:
        data = load_data(eval_file_of(settings), loaded.info.id2label, spec.split or TokenClassification.default_split,
                         spec.max_samples)
    else:
        from publisher.stages.token_data import check_label_scheme

        check_label_scheme(loaded.info.id2label)
    max_length = _max_length(loaded, data, settings)
    aligned = align(loaded.tokenizer, data.sentences, max_length=max_length, batch_size=settings.batch_size,
                    tags=data.tags)
    seconds = time.perf_counter() - start
    timer.record("data", seconds)
    return Prepared(loaded, data, aligned, seconds, max_length)


def torch_pass(p: Prepared, progress: Progress, timer: StageTimer) -> Any:
    from publisher.stages.parity import check_finite
    from publisher.stages.token_data import run_torch_words

    with progress.bar("torch    ", p.data.info.num_samples) as advance:
        logits = run_torch_words(p.loaded.model, p.aligned, advance)
    timer.record("eval_torch", logits.seconds)
    for row in logits.values:
        check_finite("torch model", row)
    return logits


def _scores(raw: dict[str, Any]) -> EntityScores:
    return EntityScores(precision=raw["precision"], recall=raw["recall"], f1=raw["f1"], entities=raw["entities"],
                        predicted=raw["predicted"],
                        per_type={k: TypeScores(**v) for k, v in raw["per_type"].items()})


def ir_pass(xml: Path, aligned: Any, sentences: int, progress: Progress, timer: StageTimer | None = None) -> Any:
    from publisher.stages.inference import compile_ir
    from publisher.stages.token_data import run_ir_words

    compiled = compile_ir(xml)
    with progress.bar("OpenVINO ", sentences) as advance:
        logits = run_ir_words(compiled, aligned, advance)
    if timer is not None:
        timer.record("eval_openvino", logits.seconds)
    return logits


def measure_against_ir(p: Prepared, torch_logits: Any, ir_xml: Path, progress: Progress,
                       timer: StageTimer) -> tuple[Any, TokenClassificationResults]:
    from publisher.stages import entities
    from publisher.stages.inference import read_ir
    from publisher.stages.sparsity import measure_sparsity

    ir_logits = ir_pass(ir_xml, p.aligned, p.data.info.num_samples, progress, timer)
    id2label = p.loaded.info.id2label
    gold = p.aligned.scored_tags(p.data.tags)
    torch_scores = entities.score(gold, entities.tags_of(torch_logits.values, id2label))
    ir_scores = entities.score(gold, entities.tags_of(ir_logits.values, id2label))
    par = entities.parity(torch_logits.values, ir_logits.values)
    with timer.timed("sparsity"):
        sparsity = measure_sparsity(p.loaded.model, read_ir(ir_xml))
    results = TokenClassificationResults(
        dataset=p.data.info, scheme=SCHEME, alignment=ALIGNMENT, metric_module=entities.metric_module(),
        max_length=p.max_length, labels=[id2label[i] for i in sorted(id2label)],
        torch=_scores(torch_scores), openvino=_scores(ir_scores),
        parity=TokenParity(compiled=True, device=ir_logits.device, sentences=p.data.info.num_samples,
                           tokens=par["tokens"], token_agreement=par["token_agreement"],
                           max_abs_logit_diff=par["max_abs_logit_diff"]),
        sentences_per_second={"torch": round(torch_logits.sentences_per_second, 3),
                              "openvino": round(ir_logits.sentences_per_second, 3)},
        seconds={"tokenize": round(p.tokenize_seconds, 3), "torch": round(torch_logits.seconds, 3),
                 "openvino": round(ir_logits.seconds, 3)},
        unscored_words=p.aligned.unscored_words,
    )
    return sparsity, results


def _per_type_values(recorded: EntityScores, measured: dict[str, dict[str, Any]], side: str) -> dict[str, float]:
    """Each recorded type's re-measured figures; a type the re-run neither finds in the gold data nor
    predicts scores 0 (seqeval lists only the types it sees)."""
    out = {}
    for name in recorded.per_type:
        again = measured.get(name) or {}
        for metric in ("precision", "recall", "f1"):
            out[f"{PER_TYPE}.{name}.{metric}.{side}"] = float(again.get(metric, 0.0))
    return out


class TokenClassification(EncoderTask):
    name = "token-classification"
    title = "token classifier"
    architecture_suffixes = (SUFFIX,)
    auto_class = AUTO_CLASS
    optimum_task = "token-classification"
    ov_model_class = "OVModelForTokenClassification"
    template = "openvino-token-classification.md.j2"
    evaluation = "tagged sentences (CoNLL-style token/tag lines, or .jsonl with tokens and ner_tags)"
    default_split = "test"  # named-entity benchmarks (CoNLL-2003, WNUT-17) report their test split
    weight_formats = ("int8", "fp16", "fp32")
    weight_format_refusals = {
        "int4": "INT4 weight compression is a large-language-model technique; on an encoder token classifier "
                "it costs accuracy for a size that INT8 already makes small, and its F1 is measured here only "
                "for INT8, FP16 and FP32",
    }
    metric = "f1"
    stages = EncoderStages(prepare, torch_pass, measure_against_ir)
    export_checkpoint_kind = CHECKPOINT_KIND
    performance_result = PerformanceResult
    results_type = TokenClassificationResults
    evaluation_stage = "entities"
    card_variables = ("entities", "performance")
    card_variable_docs = {
        "entities": ("Token classification only (None otherwise): entity-level scores of torch and of the IR on the same sentences: dataset (name, split, format, num_samples (sentences), num_words, num_entities, sha256, bundled (the bundled WNUT-17 test split), types (the model's entity types)), unscored_words (words tagged O that tokenize to nothing, left out of scoring), scheme (IOB2), alignment (the first-sub-token rule, in words), metric_module (seqeval, strict mode), max_length, labels, torch and openvino (f1, precision, recall), predicted (entities predicted by torch, openvino), per_type (each: type, support, torch and openvino: predicted, and precision, recall, f1 from the claims ledger), parity (compiled, device, sentences, tokens (word-start tokens scored), token_agreement, max_abs_logit_diff)."),
    }
    rows_phrase = r"(?P<rows>\d[\d,]*) sentences\b"

    figures = (
        _score_figure("f1", "openvino"),
        _score_figure("f1", "torch"),
        _score_figure("precision", "openvino"),
        _score_figure("precision", "torch"),
        _score_figure("recall", "openvino"),
        _score_figure("recall", "torch"),
        FigureSpec("parity.token_agreement", "task_results.parity.token_agreement",
                   "Token-level label agreement with PyTorch (word-start tokens)", Fixed(4), "parity",
                   Recheck.CHECKPOINT, TOKEN_FLIPS, (BODY,), (IR, CHECKPOINT, DATA),
                   card_label=r"token.*agreement"),
        FigureSpec("parity.max_abs_logit_diff", "task_results.parity.max_abs_logit_diff",
                   "Largest absolute logit difference from PyTorch (word-start tokens)", Significant(3), "parity",
                   Recheck.CHECKPOINT,
                   ItsOwnValue("a worst case over all scored tokens: it moves with the CPU's inference precision"),
                   (BODY,), (IR, CHECKPOINT, DATA), card_label=r"logit", not_label=r"\bmean\b|average"),
        *common.sparsity_figures(),
        *common.ENCODER_PERFORMANCE,
    )
    figure_families = tuple(_type_family(metric, side) for side in ("openvino", "torch")
                            for metric in ("f1", "precision", "recall"))

    gates = (
        GateSpec("min_ir_f1", lambda r: r.task_results.openvino.f1),
        GateSpec("max_f1_drop", lambda r: r.task_results.torch.f1 - r.task_results.openvino.f1),
        GateSpec("min_sparsity", lambda r: r.sparsity.openvino.overall if r.sparsity else None),
    )

    def check_checkpoint(self, config: dict[str, Any], folder: Path, settings: Any) -> None:
        """Also refused before any work: labels that are not IOB2 tags (entity F1 could not be scored),
        --dataset (a Hub dataset is not read), and without --eval-file labels that do not name the
        bundled WNUT-17 tags."""
        from publisher.stages.token_data import check_bundled_labels, check_label_scheme

        super().check_checkpoint(config, folder, settings)
        id2label = {int(k): str(v) for k, v in (config.get("id2label") or {}).items()}
        check_label_scheme(id2label)
        if getattr(settings, "eval", None) is not None and eval_file_of(settings) is None:
            check_bundled_labels(id2label)

    # --- publish -------------------------------------------------------------------------------------

    def evaluation_sample(self, settings: Any) -> tuple[list[str], str]:
        from publisher.stages.token_data import WNUT17_NAME, bundled_wnut17_path, read_sentences

        # The words only: the compatibility runs compare the IR's outputs, not its labels.
        given = eval_file_of(settings)
        path = Path(given) if given else bundled_wnut17_path()
        sentences = read_sentences(path, settings.eval.max_samples)
        name = path.name if given else WNUT17_NAME
        return [" ".join(words) for words in sentences], f"{name} {settings.eval.split or self.default_split}"

    def commit_message(self, report: Report) -> str:
        r = _results(report)
        return (f"Release {report.card.model_name.split('/')[-1]}: IR entity F1 {r.openvino.f1:.4f} "
                f"(torch {r.torch.f1:.4f}), {report.export.weight_format.upper()} weights")

    # --- the report and the card -----------------------------------------------------------------------

    def eval_dataset(self, report: Report) -> Any:
        return _results(report).dataset

    def data_description(self, report: Report) -> str:
        ds = _results(report).dataset
        return f"{ds.name} {ds.split} ({ds.num_samples} sentences, {ds.num_entities} entities)"

    def rows_statement(self, report: Report) -> RowsStatement:
        n = int(_results(report).dataset.num_samples)
        return RowsStatement(n, f"{n} sentences", "entities", "task_results.dataset.num_samples",
                             "the sentences re-run from the evaluation data")

    def ledger_method(self, report: Report) -> dict[str, Any]:
        r = _results(report)
        return {"max_length": r.max_length, "scheme": r.scheme, "mode": "strict", "alignment": r.alignment,
                "labels": list(r.labels)}

    def model_index_values(self, report: Report) -> tuple[float, float]:
        r = _results(report)
        return r.openvino.f1, r.torch.f1

    def model_index_args(self, report: Report) -> dict[str, Any] | None:
        return {"scheme": _results(report).scheme, "mode": "strict"}

    def card_context(self, report: Report, ledger: Any) -> dict[str, Any]:
        from publisher.card.ledger import value
        from publisher.tasks.classification import _performance

        r = _results(report)
        ds, par = r.dataset, r.parity
        types = sorted(set(r.torch.per_type) | set(r.openvino.per_type))
        per_type = []
        for name in types:
            t, o = r.torch.per_type.get(name), r.openvino.per_type.get(name)
            row = {"type": name, "support": (o or t).support}
            for side, scores in (("torch", t), ("openvino", o)):
                row[side] = None if scores is None else {
                    "predicted": scores.predicted,
                    **{m: value(ledger, f"{PER_TYPE}.{name}.{m}.{side}") for m in ("precision", "recall", "f1")}}
            per_type.append(row)
        return {
            "entities": {
                "dataset": {"name": ds.name, "split": ds.split, "format": ds.format, "num_samples": int(ds.num_samples),
                            "num_words": int(ds.num_words), "num_entities": int(ds.num_entities),
                            "sha256": ds.sha256, "bundled": bool(ds.bundled),
                            "types": sorted({t[2:] for t in r.labels if t != "O"})},
                "unscored_words": int(r.unscored_words),
                "scheme": r.scheme, "alignment": r.alignment, "metric_module": r.metric_module,
                "max_length": r.max_length, "labels": list(r.labels),
                "torch": {k: value(ledger, f"{k}.torch") for k in ("f1", "precision", "recall")},
                "openvino": {k: value(ledger, f"{k}.openvino") for k in ("f1", "precision", "recall")},
                "predicted": {"torch": r.torch.predicted, "openvino": r.openvino.predicted},
                "per_type": per_type,
                "parity": {"compiled": bool(par.compiled), "device": par.device, "sentences": int(par.sentences),
                           "tokens": int(par.tokens),
                           "token_agreement": value(ledger, "parity.token_agreement"),
                           "max_abs_logit_diff": value(ledger, "parity.max_abs_logit_diff")},
            },
            "performance": _performance(report, ledger),
        }

    # --- the CLI -----------------------------------------------------------------------------------------

    def summary_rows(self, report: Report) -> list[tuple[str, str, str]]:
        r = _results(report)
        ds = r.dataset
        rows = [
            (f"entity F1 ({ds.name} {ds.split}, n={ds.num_samples} sentences)", f"{r.torch.f1:.4f}",
             f"{r.openvino.f1:.4f}"),
            ("entity precision / recall", f"{r.torch.precision:.4f} / {r.torch.recall:.4f}",
             f"{r.openvino.precision:.4f} / {r.openvino.recall:.4f}"),
        ]
        rows += common.sparsity_rows(report)
        rows.append(common.speed_row("sentences", r.sentences_per_second))
        rows.append(("max |logit diff| / token agreement", "",
                     f"{r.parity.max_abs_logit_diff:.4f} / {r.parity.token_agreement:.4f}"))
        return rows

    def key_figure(self, document: dict[str, Any]) -> str:
        r = document.get("task_results") or {}
        return f"entity F1 {r['openvino']['f1']:.4f} (torch {r['torch']['f1']:.4f})"

    # --- publisher verify -----------------------------------------------------------------------------------

    def remeasure_from_ir(self, report: Report, release_dir: Path, options: Any, progress: Progress,
                          out: Any) -> None:
        from publisher.recheck import ledger_checks, remeasure
        from publisher.stages import entities
        from publisher.stages.token_data import align

        r = _results(report)
        ds = r.dataset
        if not ds.bundled and not options.eval_file:
            # Verify never opens a path the repo's report names: the reader passes the file.
            raise ledger_checks.local_data_refused(ds.source, ds.sha256, "it is needed to re-measure the IR's F1")
        id2label = dict(report.checkpoint.id2label)
        with progress.stage("Loading the evaluation data"):
            # None: the bundled WNUT-17 split (a local file's release was refused above without --eval-file).
            data = load_data(options.eval_file or None, id2label, ds.split, ds.num_samples)
        ledger_checks.check_data_sha(ds.sha256, data.info.sha256, data.info.source, options, out)
        out.eval_input = data
        out.sample = ledger_checks.EvaluationSample([" ".join(w) for w in data.sentences],
                                                    f"{data.info.name} {data.info.split}")
        if options.max_samples:
            out.notes[EVALUATION_ROWS] = "entity-level F1 is re-measured over every sentence (--max-samples is " \
                                         "not applied to a token classifier)"
        try:
            aligned = align(remeasure.tokenizer_of(release_dir), data.sentences, max_length=r.max_length,
                            batch_size=options.batch_size, tags=data.tags)
            logits = ir_pass(remeasure.ir_xml(release_dir), aligned, data.info.num_samples, progress)
            scores = entities.score(aligned.scored_tags(data.tags), entities.tags_of(logits.values, id2label))
        except (ledger_checks.BadInputError, RuntimeError, KeyError) as exc:
            return ledger_checks.ir_failed(report, out, exc)
        for metric in ("f1", "precision", "recall"):
            claim_id = f"{metric}.openvino"
            out.values[claim_id] = ledger_checks.Remeasurement(scores[metric], self.shown(claim_id, scores[metric]))
        for claim_id, measured in _per_type_values(r.openvino, scores["per_type"], "openvino").items():
            out.values[claim_id] = ledger_checks.Remeasurement(measured, self.shown(claim_id, measured))
        rows = data.info.num_samples
        out.values[EVALUATION_ROWS] = ledger_checks.Remeasurement(rows, f"{rows} sentences")

    def remeasure_with_checkpoint(self, report: Report, release_dir: Path, checkpoint: Path, eval_input: Any,
                                  options: Any, progress: Progress) -> dict[str, Any]:
        from publisher.recheck.remeasure import ir_xml
        from publisher.settings import PublishSettings
        from publisher.stages.data import EvalDataSpec

        r = _results(report)
        settings = PublishSettings(checkpoint=checkpoint, repo_id=None,
                                   eval=EvalDataSpec(split=r.dataset.split, max_length=r.max_length),
                                   batch_size=options.batch_size, trust_pickle=options.trust_pickle)
        timer = StageTimer()
        prepared = prepare(checkpoint, settings, progress, timer, data=eval_input)
        torch_logits = torch_pass(prepared, progress, timer)
        sparsity, results = measure_against_ir(prepared, torch_logits, ir_xml(release_dir), progress, timer)
        per_type = {k: dataclasses.asdict(v) for k, v in results.torch.per_type.items()}
        return {**_per_type_values(r.torch, per_type, "torch"),
                "f1.torch": results.torch.f1, "precision.torch": results.torch.precision,
                "recall.torch": results.torch.recall, "sparsity.torch": sparsity.torch.overall,
                "parity.token_agreement": results.parity.token_agreement,
                "parity.max_abs_logit_diff": results.parity.max_abs_logit_diff}
