"""text-classification: load once, one torch pass, export, one IR pass; parity, sparsity and
accuracy all come from those passes. Its claims, card variables, summary rows and re-checks."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from publisher.progress import Progress
from publisher.results import (
    AccuracyResult,
    Measurements,
    PerformanceResult,
    Recheck,
    Report,
    SparsityResult,
    VerificationResult,
)
from publisher.tasks import common
from publisher.tasks.contract import (
    BODY,
    BOTH,
    CHECKPOINT,
    DATA,
    IR,
    FigureSpec,
    Fixed,
    GateSpec,
    ItsOwnValue,
    SPARSITY_TORCH,
    RowsStatement,
    Significant,
    Task,
)
from publisher.tasks.run import MeasureRequest, StageTimer, now_utc, without_tokens

HUB = "https://huggingface.co"


def _samples(report: Report) -> int:
    return int(report.accuracy.dataset.num_samples)


FLIPS = common.sample_flips(_samples)
ACCURACY = "accuracy"


@dataclass(frozen=True)
class Prepared:
    """The model loaded once, and the evaluation data tokenized once, shared by every pass."""

    loaded: Any  # publisher.stages.load.LoadedCheckpoint
    data: Any  # publisher.stages.data.EvalData
    mapping: dict[int, int]  # model class id -> dataset label id
    tokenized: Any  # publisher.stages.data.TokenizedBatches
    tokenize_seconds: float
    max_length: int | None = None


def prepare(checkpoint: Path, settings: Any, progress: Progress, timer: StageTimer) -> Prepared:
    from publisher.stages import data as data_stage
    from publisher.stages.load import load_checkpoint

    with progress.stage(f"Loading {checkpoint}"), timer.timed("load"):
        loaded = load_checkpoint(checkpoint, trust_pickle=settings.trust_pickle, auto_class=TextClassification.auto_class)
    start = time.perf_counter()
    data = data_stage.load_eval_data(eval_spec_of(settings))
    refuse_single_texts_for_a_pair_model(loaded, data)
    mapping = data_stage.map_labels(loaded.info.id2label, data)
    tokenized = data_stage.tokenize(loaded.tokenizer, data.texts, pairs=data.pairs,
                                    max_length=settings.eval.max_length, batch_size=settings.batch_size)
    seconds = time.perf_counter() - start
    timer.record("data", seconds)
    return Prepared(loaded, data, mapping, tokenized, seconds, settings.eval.max_length)


def training_task_record(loaded: Any, names: Any) -> str | None:
    """Where the checkpoint's own records name a task that ``names`` (a pattern) matches, in words.

    config.json's architecture cannot say whether a classifier takes sentence pairs (a pair classifier
    is a ``*ForSequenceClassification`` like any other); what can: ``finetuning_task`` in config.json
    (transformers' run_glue.py wrote its task name there) and the dataset training_metadata.json names.
    """
    import json

    config_file = Path(loaded.info.path) / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}  # the loader has read it already; an unreadable copy here says nothing more
    task = config.get("finetuning_task") if isinstance(config, dict) else None
    if isinstance(task, str) and names.search(task.lower()):
        return f"config.json has finetuning_task {task!r}"
    dataset = loaded.info.training.training_dataset
    if dataset and names.search(dataset.lower()):
        source = loaded.info.training.sources.get("training_dataset", "its training record")
        return f"{source} names the training dataset {dataset!r}"
    return None


def refuse_single_texts_for_a_pair_model(loaded: Any, data: Any) -> None:
    """The rule: a checkpoint whose records name a sentence-pair task (``data.PAIR_TASK_NAME``: MNLI,
    QNLI, QQP, RTE, MRPC, WNLI, STS-B, SNLI, XNLI) is not scored on single texts, and one whose
    records name a single-sentence task (SST-2, CoLA) is not scored on pairs. Records that name
    neither leave it to the data (``data.text_columns``)."""
    from publisher.errors import BadInputError
    from publisher.stages.data import PAIR_TASK_NAME, SINGLE_TEXT_TASK_NAME

    if data.pairs is None and (record := training_task_record(loaded, PAIR_TASK_NAME)):
        raise BadInputError(
            f"The checkpoint {loaded.info.path} was trained on sentence pairs ({record}), and the evaluation "
            f"data {data.info.source} is read as single texts (column {data.info.text_column!r}): the accuracy "
            "would be of half of each input",
            "Evaluate on the pairs: pass --eval-file with both text columns and --text-pair-column (config "
            "text_pair_column) naming the second; a known pair layout (sentence1/sentence2, question/sentence, "
            "question1/question2, premise/hypothesis) is read as pairs by itself")
    if data.pairs is not None and (record := training_task_record(loaded, SINGLE_TEXT_TASK_NAME)):
        raise BadInputError(
            f"The checkpoint {loaded.info.path} was trained on single sentences ({record}), and the evaluation "
            f"data {data.info.source} is read as pairs ({data.info.text_column!r}, "
            f"{data.info.text_pair_column!r})",
            "Evaluate on single-sentence data of the model's task (--eval-file with one text column)")


def torch_pass(p: Prepared, progress: Progress, timer: StageTimer) -> Any:
    from publisher.stages.inference import run_torch
    from publisher.stages.parity import check_finite

    with progress.bar("torch    ", p.data.info.num_samples) as advance:
        logits = run_torch(p.loaded.model, p.tokenized, advance)
    timer.record("eval_torch", logits.seconds)
    check_finite("torch model", logits.values)
    return logits


def measure_against_ir(p: Prepared, torch_logits: Any, ir_xml: Path, gates: Any, progress: Progress,
                       timer: StageTimer) -> tuple[VerificationResult, SparsityResult, AccuracyResult]:
    """One IR pass; parity re-uses both passes' logits, sparsity reads the IR's weights."""
    from publisher.stages import accuracy as acc
    from publisher.stages.inference import compile_ir, read_ir, run_openvino
    from publisher.stages.parity import thresholds_from, verify
    from publisher.stages.sparsity import measure_sparsity

    with timer.timed("compile"):
        compiled = compile_ir(ir_xml)
    with progress.bar("OpenVINO ", p.data.info.num_samples) as advance:
        ir_logits = run_openvino(compiled, p.tokenized, advance)
    timer.record("eval_openvino", ir_logits.seconds)
    verification = verify(torch_logits, ir_logits, thresholds_from(gates))
    with timer.timed("sparsity"):
        sparsity = measure_sparsity(p.loaded.model, read_ir(ir_xml))
    accuracy = acc.measure_accuracy(p.data, p.mapping, torch_logits, ir_logits, p.tokenize_seconds,
                                   p.max_length)
    return verification, sparsity, accuracy


def _measurements(loaded: Any, verification: Any, sparsity: Any, accuracy: Any) -> Measurements:
    return Measurements(created=now_utc(), checkpoint=loaded.info, training_args=without_tokens(loaded.training_args),
                        verification=verification, sparsity=sparsity, accuracy=accuracy)


class TextClassification(Task):
    name = "text-classification"
    title = "text classifier"
    architecture_suffixes = ("ForSequenceClassification",)
    auto_class = "AutoModelForSequenceClassification"
    optimum_task = "text-classification"
    ov_model_class = "OVModelForSequenceClassification"
    template = "openvino.md.j2"
    evaluation = "labelled sentences (.tsv/.csv/.jsonl with a text and a label column)"
    default_split = "validation"  # GLUE's test labels are hidden: fine-tuned classifiers report validation
    weight_formats = ("int8", "fp16", "fp32")
    weight_format_refusals = {
        "int4": "INT4 weight compression is a large-language-model technique (NNCF's data-free INT4 groups "
                "assume large matrices); on an encoder classifier it costs accuracy for a size that INT8 "
                "already makes small, and its accuracy is measured here only for INT8, FP16 and FP32",
    }
    metric = ACCURACY
    performance_result = PerformanceResult
    evaluation_stage = "accuracy"
    lists_eval_dataset = True  # a classifier's evaluation set is its fine-tuning set's validation split
    card_variables = ("dataset", "accuracy", "verification", "performance")
    rows_phrase = r"(?P<rows>\d[\d,]*) samples\b(?!/)"

    figures = (
        FigureSpec("accuracy.openvino", "accuracy.openvino", "OpenVINO IR accuracy", Fixed(4), "accuracy",
                   Recheck.IR, FLIPS, BOTH, card_label=r"\baccuracy\b", side="openvino"),
        FigureSpec("accuracy.torch", "accuracy.torch", "PyTorch accuracy", Fixed(4), "accuracy",
                   Recheck.CHECKPOINT, FLIPS, BOTH, card_label=r"\baccuracy\b", side="torch"),
        FigureSpec("verification.argmax_agreement", "verification.argmax_agreement", "Top-1 agreement with PyTorch",
                   Fixed(4), "verify", Recheck.CHECKPOINT, FLIPS, (BODY,), (IR, CHECKPOINT, DATA),
                   card_label=r"agreement"),
        FigureSpec("verification.max_abs_logit_diff", "verification.max_abs_logit_diff",
                   "Largest absolute logit difference from PyTorch", Significant(3), "verify", Recheck.CHECKPOINT,
                   ItsOwnValue("a worst case over all samples: it moves with the CPU's inference precision"),
                   (BODY,), (IR, CHECKPOINT, DATA), card_label=r"logit", not_label=r"\bmean\b|average"),
        *common.sparsity_figures(),
        *common.ENCODER_PERFORMANCE,
    )

    gates = (
        GateSpec("min_ir_accuracy", lambda r: r.accuracy.openvino),
        GateSpec("max_accuracy_drop", lambda r: r.accuracy.torch - r.accuracy.openvino),
        GateSpec("min_sparsity", lambda r: r.sparsity.openvino.overall),
        GateSpec("min_argmax_agreement", lambda r: r.verification.argmax_agreement),
        GateSpec("max_logit_diff", lambda r: r.verification.max_abs_logit_diff),
    )

    # --- publish -------------------------------------------------------------------------------------

    def measure(self, req: MeasureRequest) -> tuple[Measurements, Any]:
        from publisher.stages.export import IR_XML

        s = req.settings
        # Bad evaluation data, and a model whose logits are NaN, are found before the (slow) export.
        prepared = prepare(s.checkpoint, s, req.progress, req.timer)
        torch_logits = torch_pass(prepared, req.progress, req.timer)
        loaded = prepared.loaded
        export = req.export
        if export is None:
            with req.progress.stage(f"Exporting to OpenVINO IR ({s.weight_format} weights)"), \
                    req.timer.timed("export"):
                export = common.export_encoder(self, loaded, req.output, s.weight_format, req.staging_dir)
            req.on_export(export)
        measured = measure_against_ir(prepared, torch_logits, req.output / IR_XML, s.gates, req.progress, req.timer)
        return _measurements(loaded, *measured), export

    def export_only(self, settings: Any, output: Path, staging_dir: Path) -> Any:
        from publisher.stages.load import load_checkpoint

        loaded = load_checkpoint(settings.checkpoint, trust_pickle=settings.trust_pickle, auto_class=self.auto_class)
        return common.export_encoder(self, loaded, output, settings.weight_format, staging_dir)

    def measure_existing_ir(self, checkpoint: Path, ir_dir: Path, settings: Any, progress: Progress) -> Measurements:
        from publisher.stages.export import IR_XML

        timer = StageTimer()
        prepared = prepare(Path(checkpoint), settings, progress, timer)
        torch_logits = torch_pass(prepared, progress, timer)
        measured = measure_against_ir(prepared, torch_logits, Path(ir_dir) / IR_XML, settings.gates, progress, timer)
        return _measurements(prepared.loaded, *measured)

    def stage_result(self, stage: str, m: Measurements) -> tuple[Any, bool]:
        """(what ``publisher parity`` / ``publisher accuracy`` print, whether it passed)."""
        if stage == "parity":
            return m.verification, bool(m.verification.passed)
        return m.accuracy, True

    def benchmark(self, ir_dir: Path) -> PerformanceResult:
        from publisher.bench import benchmark_ir

        return benchmark_ir(ir_dir)

    def rejudged(self, m: Measurements, gates: Any) -> Measurements:
        from publisher.stages.parity import rejudge, thresholds_from

        return dataclasses.replace(m, verification=rejudge(m.verification, thresholds_from(gates)))

    def evaluation_sample(self, settings: Any) -> tuple[list[str], str]:
        from publisher.stages.data import load_eval_data

        data = load_eval_data(eval_spec_of(settings))
        return _sample_texts(data), f"{data.info.name} {data.info.split}"

    def commit_message(self, report: Report) -> str:
        a, s = report.accuracy, report.sparsity
        return (f"Release {report.card.model_name.split('/')[-1]}: IR accuracy {a.openvino:.4f} "
                f"(torch {a.torch:.4f}), sparsity {s.openvino.overall:.2f}, "
                f"{report.export.weight_format.upper()} weights")

    # --- the report and the card -----------------------------------------------------------------------

    def eval_dataset(self, report: Report) -> Any:
        return report.accuracy.dataset

    def data_description(self, report: Report) -> str:
        ds = report.accuracy.dataset
        if ds.text_pair_column:
            return f"{ds.name} {ds.split} ({ds.num_samples} rows; text pairs {ds.text_column} + {ds.text_pair_column})"
        return f"{ds.name} {ds.split} ({ds.num_samples} rows)"

    def rows_statement(self, report: Report) -> RowsStatement:
        n = _samples(report)
        return RowsStatement(n, f"{n} samples", "accuracy", "accuracy.dataset.num_samples",
                             "the rows re-run from the evaluation data")

    def ledger_method(self, report: Report) -> dict[str, Any]:
        method = {"max_length": report.accuracy.max_length, "label_mapping": report.accuracy.label_mapping}
        ds = report.accuracy.dataset
        if ds.text_pair_column:  # tokenized as pairs: what a re-check must feed the IR
            method["text_columns"] = [ds.text_column, ds.text_pair_column]
        return method

    def model_index_values(self, report: Report) -> tuple[float, float]:
        return report.accuracy.openvino, report.accuracy.torch

    def card_context(self, report: Report, ledger: Any) -> dict[str, Any]:
        from publisher.card import facts
        from publisher.card.ledger import value

        ds = report.accuracy.dataset
        hub_ds = facts.hub_dataset(report)
        v = report.verification
        return {
            "dataset": {"name": ds.name, "type": ds.type, "config": ds.config, "split": ds.split, "args": ds.args,
                        "num_samples": int(ds.num_samples), "url": f"{HUB}/datasets/{hub_ds}" if hub_ds else None,
                        "text_column": ds.text_column, "text_pair_column": ds.text_pair_column},
            "accuracy": {"torch": value(ledger, "accuracy.torch"), "openvino": value(ledger, "accuracy.openvino")},
            "verification": {
                "compiled": bool(v.compiled), "device": v.device, "samples": int(v.samples),
                "max_abs_logit_diff": value(ledger, "verification.max_abs_logit_diff"),
                "argmax_agreement": value(ledger, "verification.argmax_agreement"),
                "passed": bool(v.passed),
            },
            "performance": _performance(report, ledger),
        }

    # --- the CLI -----------------------------------------------------------------------------------------

    def summary_rows(self, report: Report) -> list[tuple[str, str, str]]:
        a, s, v = report.accuracy, report.sparsity, report.verification
        return [
            (f"{a.metric} ({a.dataset.name} {a.dataset.split}, n={a.dataset.num_samples})",
             f"{a.torch:.4f}", f"{a.openvino:.4f}"),
            (f"sparsity ({s.scope})", f"{s.torch.overall:.4f}", f"{s.openvino.overall:.4f}"),
            ("samples/s", f"{a.samples_per_second['torch']:.1f}", f"{a.samples_per_second['openvino']:.1f}"),
            ("max |logit diff| / argmax agreement", "", f"{v.max_abs_logit_diff:.4f} / {v.argmax_agreement:.4f}"),
        ]

    def key_figure(self, document: dict[str, Any]) -> str:
        acc = document.get("accuracy") or {}
        return f"accuracy {acc['openvino']:.4f}, sparsity {document['sparsity']['openvino']['overall']:.4f}"

    # --- publisher verify -----------------------------------------------------------------------------------

    def remeasure_from_ir(self, report: Report, release_dir: Path, options: Any, progress: Progress,
                          out: Any) -> None:
        from publisher.recheck import ledger_checks, remeasure
        from publisher.stages.accuracy import score_predictions
        from publisher.stages.data import load_eval_data
        from publisher.tasks.contract import EVALUATION_ROWS

        acc = report.accuracy
        spec = eval_spec(report, options)
        with progress.stage("Loading the evaluation data"):
            data = load_eval_data(spec)
        ledger_checks.check_data_sha(acc.dataset.sha256, data.info.sha256, data.info.source, options, out)
        out.eval_input = spec
        out.sample = ledger_checks.EvaluationSample(_sample_texts(data), f"{data.info.name} {data.info.split}")
        rows = len(data.texts)
        limit = min(options.max_samples, rows) if options.max_samples else rows
        try:
            run = remeasure.classifier_accuracy(
                release_dir, data.texts[:limit], data.labels[:limit], dict(acc.label_mapping),
                pairs=data.pairs[:limit] if data.pairs is not None else None,
                max_length=acc.max_length or 128, batch_size=options.batch_size, progress=progress)
        except (ledger_checks.BadInputError, RuntimeError) as exc:
            return ledger_checks.ir_failed(report, out, exc)
        claim_id = "accuracy.openvino"
        shown = self.shown(claim_id, run.metric)
        if limit == rows:
            out.values[claim_id] = ledger_checks.Remeasurement(run.metric, shown)
            out.values[EVALUATION_ROWS] = ledger_checks.Remeasurement(rows, f"{rows} samples")
            return
        out.partial = f"{limit} of {rows} samples"
        out.notes[EVALUATION_ROWS] = f"a partial check re-ran {limit} of the {rows} samples"
        recorded = list(acc.openvino_predictions)
        if len(recorded) < limit:
            out.notes[claim_id] = ("a partial check compares sample by sample, and this report has no per-sample "
                                   "predictions (written before publisher recorded them): run without --max-samples")
            return
        differing = sum(1 for a, b in zip(recorded[:limit], run.predictions) if a != b)
        recorded_subset = score_predictions(recorded[:limit], data.labels[:limit])
        note = (f"the first {limit} of {rows} samples: {limit - differing} of {limit} predictions as recorded; "
                f"accuracy on them {run.metric:.4f}, recorded {recorded_subset:.4f}")
        # One by one: at most the flips the full check allows may differ.
        out.values[claim_id] = ledger_checks.Remeasurement(run.metric, shown, note, recorded_subset,
                                                           common.FLIP_SAMPLES / limit)

    def remeasure_with_checkpoint(self, report: Report, release_dir: Path, checkpoint: Path, eval_input: Any,
                                  options: Any, progress: Progress) -> dict[str, Any]:
        from publisher.recheck.remeasure import ir_xml
        from publisher.settings import PublishSettings

        settings = PublishSettings(checkpoint=checkpoint, repo_id=None, eval=eval_input,
                                   batch_size=options.batch_size, trust_pickle=options.trust_pickle)
        timer = StageTimer()
        prepared = prepare(checkpoint, settings, progress, timer)
        torch_logits = torch_pass(prepared, progress, timer)
        verification, sparsity, accuracy = measure_against_ir(
            prepared, torch_logits, ir_xml(release_dir), settings.gates, progress, timer)
        return {"accuracy.torch": accuracy.torch, SPARSITY_TORCH: sparsity.torch.overall,
                "verification.argmax_agreement": verification.argmax_agreement,
                "verification.max_abs_logit_diff": verification.max_abs_logit_diff}


def eval_spec_of(settings: Any) -> Any:
    """The run's evaluation data, its split the task's default when none was given."""
    spec = settings.eval
    return spec if spec.split else dataclasses.replace(spec, split=TextClassification.default_split)


def eval_spec(report: Report, options: Any) -> Any:
    """The evaluation data the ledger names, as an ``EvalDataSpec`` (verify never opens a path a
    repo's report names: a local file must be given with --eval-file)."""
    from publisher.recheck.ledger_checks import local_data_refused
    from publisher.stages.data import EvalDataSpec

    ds = report.accuracy.dataset
    common_args = dict(split=ds.split, text_column=ds.text_column, label_column=ds.label_column,
                       text_pair_column=ds.text_pair_column, max_samples=ds.num_samples)
    if options.eval_file:
        return EvalDataSpec(eval_file=str(options.eval_file), **common_args)
    if ds.source.startswith("bundled:"):
        return EvalDataSpec(max_samples=ds.num_samples)
    if ds.source.startswith("hub:"):
        return EvalDataSpec(dataset=options.dataset or ds.source[4:], dataset_config=ds.config, **common_args)
    raise local_data_refused(ds.source, ds.sha256, "it is needed to re-measure the IR's accuracy")


def _sample_texts(data: Any) -> list[str]:
    """What ``--openvino`` runs feed the IR (``compat.evaluation_rows`` encodes single texts): a pair
    joined by a space, as the reranker's query and passage are."""
    if data.pairs is None:
        return data.texts
    return [f"{a} {b}" for a, b in zip(data.texts, data.pairs)]


def _performance(report: Report, ledger: Any) -> dict[str, Any] | None:
    from publisher.card.ledger import value

    perf = report.performance
    if perf is None:
        return None
    sparse = perf.sparse_decompression
    return {
        "cpu": perf.cpu,
        "openvino": perf.openvino.split("-")[0],
        "sequence_length": perf.sequence_length,
        "latency_ms": value(ledger, "performance.latency_ms"),
        "throughput": value(ledger, "performance.throughput"),
        "throughput_batch": int(perf.throughput["batch"]),
        "sparse_supported": bool(sparse.get("supported")),
        "sparse_throughput": value(ledger, "performance.sparse_throughput") if sparse.get("supported") else None,
        "sparse_rate": sparse.get("rate"),
    }
