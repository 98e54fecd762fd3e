"""text-classification: load once, one torch pass, export, one IR pass; verification, sparsity and
accuracy all come from those passes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from publisher.progress import Progress
from publisher.results import (
    AccuracyResult,
    GateResult,
    Measurements,
    PerformanceResult,
    Report,
    SparsityResult,
    VerificationResult,
)
from publisher.tasks.run import MeasureRequest, StageTimer, check_gates, now_utc, without_tokens

AUTO_CLASS = "AutoModelForSequenceClassification"


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
        loaded = load_checkpoint(checkpoint, trust_pickle=settings.trust_pickle)
    start = time.perf_counter()
    data = data_stage.load_eval_data(settings.eval)
    mapping = data_stage.map_labels(loaded.info.id2label, data)
    tokenized = data_stage.tokenize(loaded.tokenizer, data.texts, max_length=settings.eval.max_length,
                                    batch_size=settings.batch_size)
    seconds = time.perf_counter() - start
    timer.record("data", seconds)
    return Prepared(loaded, data, mapping, tokenized, seconds, settings.eval.max_length)


def torch_pass(p: Prepared, progress: Progress, timer: StageTimer) -> Any:
    from publisher.stages.inference import run_torch
    from publisher.stages.verify import check_finite

    with progress.bar("torch    ", p.data.info.num_samples) as advance:
        logits = run_torch(p.loaded.model, p.tokenized, advance)
    timer.record("eval_torch", logits.seconds)
    check_finite("torch model", logits.values)
    return logits


def measure_against_ir(p: Prepared, torch_logits: Any, ir_xml: Path, gates: Any, progress: Progress,
                       timer: StageTimer) -> tuple[VerificationResult, SparsityResult, AccuracyResult]:
    """One IR pass; verification re-uses both passes' logits, sparsity reads the IR's weights."""
    from publisher.stages import accuracy as acc
    from publisher.stages.inference import compile_ir, read_ir, run_openvino
    from publisher.stages.sparsity import measure_sparsity
    from publisher.stages.verify import thresholds_from, verify

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


def measure(req: MeasureRequest) -> tuple[Measurements, Any]:
    """Load the model once and run every measuring stage on it. Returns the measurements and the
    export (fresh or the cached one)."""
    from publisher.stages.export import IR_XML, export_ir

    s = req.settings
    # Bad evaluation data, and a model whose logits are NaN, are found before the (slow) export.
    prepared = prepare(s.checkpoint, s, req.progress, req.timer)
    torch_logits = torch_pass(prepared, req.progress, req.timer)
    loaded = prepared.loaded
    export = req.export
    if export is None:
        with req.progress.stage(f"Exporting to OpenVINO IR ({s.weight_format} weights)"), \
                req.timer.timed("export"):
            export = export_ir(loaded.model, loaded.tokenizer, req.output, weight_format=s.weight_format,
                               staging_dir=req.staging_dir)
        req.on_export(export)
    verification, sparsity, accuracy = measure_against_ir(prepared, torch_logits, req.output / IR_XML,
                                                          s.gates, req.progress, req.timer)
    return Measurements(created=now_utc(), checkpoint=loaded.info,
                        training_args=without_tokens(loaded.training_args),
                        verification=verification, sparsity=sparsity, accuracy=accuracy), export


def export_only(settings: Any, output: Path, staging_dir: Path) -> Any:
    from publisher.stages.export import export_ir
    from publisher.stages.load import load_checkpoint

    loaded = load_checkpoint(settings.checkpoint, trust_pickle=settings.trust_pickle)
    return export_ir(loaded.model, loaded.tokenizer, output, weight_format=settings.weight_format,
                     staging_dir=staging_dir)


PERFORMANCE_RESULT = PerformanceResult


def benchmark(ir_dir: Path) -> PerformanceResult:
    from publisher.bench import benchmark_ir

    return benchmark_ir(ir_dir)


def rejudged(m: Measurements, gates: Any) -> Measurements:
    """Thresholds are settings, not measurements: a cached verification is judged afresh."""
    import dataclasses

    from publisher.stages.verify import rejudge, thresholds_from

    return dataclasses.replace(m, verification=rejudge(m.verification, thresholds_from(gates)))


def evaluate_gates(gates: Any, report: Report) -> list[GateResult]:
    a, s, v = report.accuracy, report.sparsity, report.verification
    return check_gates([
        ("min_ir_accuracy", a.openvino, gates.min_ir_accuracy, ">="),
        ("max_accuracy_drop", a.torch - a.openvino, gates.max_accuracy_drop, "<="),
        ("min_sparsity", s.openvino.overall, gates.min_sparsity, ">="),
        ("min_argmax_agreement", v.argmax_agreement, gates.min_argmax_agreement, ">="),
        ("max_logit_diff", v.max_abs_logit_diff, gates.max_logit_diff, "<="),
    ])


def commit_message(report: Report) -> str:
    a, s = report.accuracy, report.sparsity
    return (f"Release {report.card.model_name.split('/')[-1]}: IR accuracy {a.openvino:.4f} "
            f"(torch {a.torch:.4f}), sparsity {s.openvino.overall:.2f}, "
            f"{report.export.weight_format.upper()} weights")
