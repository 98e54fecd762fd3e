"""text-generation (causal LM): load once, export a stateful IR with compressed weights and the
tokenizer pair that openvino_genai needs, then one teacher-forced pass each over the same token
windows (perplexity and logit parity), greedy generation with both, and the IR's weight precisions
and sparsity read back from its constants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from publisher.results import (
    GateResult,
    LLMPerformanceResult,
    Measurements,
    Report,
    WeightCompression,
)
from publisher.tasks.run import MeasureRequest, check_gates, now_utc, without_tokens

AUTO_CLASS = "AutoModelForCausalLM"
PERFORMANCE_RESULT = LLMPerformanceResult
# --bench: a prompt and an answer of these lengths (tokens), as the card states them.
BENCH_PROMPT_TOKENS = 128
BENCH_OUTPUT_TOKENS = 64
BENCH_RUNS = 3


def compression_of(settings: Any, model: Any = None) -> WeightCompression:
    """The compression asked for; an INT4 group size left out is chosen for the model's layers."""
    c = settings.compression
    group_size = c.group_size
    if c.weight_format == "int4" and group_size is None and model is not None:
        from publisher.stages.export import default_group_size

        group_size = default_group_size(model)
    return WeightCompression(mode=c.weight_format, group_size=group_size,
                             ratio=c.ratio if c.weight_format == "int4" else None, sym=c.sym,
                             awq=c.awq, scale_estimation=c.scale_estimation)


def text_spec(settings: Any) -> Any:
    from publisher.stages.text_data import TextEvalSpec

    e = settings.eval
    return TextEvalSpec(eval_file=Path(e.eval_file) if e.eval_file else None, dataset=e.dataset,
                        dataset_config=e.dataset_config, split=e.split, text_field=e.text_column or "text")


def _load(settings: Any) -> Any:
    from publisher.stages.load import load_checkpoint

    return load_checkpoint(settings.checkpoint, trust_pickle=settings.trust_pickle, auto_class=AUTO_CLASS)


def _calibration(settings: Any, eval_text: Any) -> list[str] | None:
    """Data-aware INT4 options calibrate on the evaluation text (said on the card)."""
    if not settings.compression.data_aware:
        return None
    from publisher.stages.text_generation import calibration_texts

    return calibration_texts(eval_text)


def _export(settings: Any, loaded: Any, eval_text: Any, output: Path, staging_dir: Path) -> Any:
    from publisher.stages.export import export_causal_lm

    return export_causal_lm(loaded.model, loaded.tokenizer, output,
                            compression=compression_of(settings, loaded.model),
                            staging_dir=staging_dir, calibration_texts=_calibration(settings, eval_text))


def measure(req: MeasureRequest) -> tuple[Measurements, Any]:
    from publisher.stages.text_data import load_eval_text
    from publisher.stages.text_generation import DEFAULT_PROMPTS, MAX_NEW_TOKENS, measure_text_generation

    s = req.settings
    with req.progress.stage(f"Loading {s.checkpoint}"), req.timer.timed("load"):
        loaded = _load(s)
    with req.timer.timed("data"):
        eval_text = load_eval_text(text_spec(s))
    export = req.export
    if export is None:
        with req.progress.stage(f"Exporting to OpenVINO IR ({s.weight_format} weights, stateful)"), \
                req.timer.timed("export"):
            export = _export(s, loaded, eval_text, req.output, req.staging_dir)
        req.on_export(export)
    with req.timer.timed("measure"):
        tg = measure_text_generation(loaded, req.output, eval_text, window=s.text_eval.window,
                                     stride=s.text_eval.stride,
                                     max_windows=s.text_eval.max_windows or None, prompts=DEFAULT_PROMPTS,
                                     max_new_tokens=MAX_NEW_TOKENS,
                                     compression=_applied(export, s, loaded.model),
                                     progress=req.progress)
    for stage, seconds in tg.timings.items():
        req.timer.record(stage, seconds)
    return Measurements(created=now_utc(), checkpoint=loaded.info,
                        training_args=without_tokens(loaded.training_args),
                        sparsity=tg.sparsity, text_generation=tg), export


def _applied(export: Any, settings: Any, model: Any) -> WeightCompression:
    """What NNCF actually applied, read back from the IR's record of it."""
    from publisher.stages.export import applied_compression

    return applied_compression(Path(export.output_dir), compression_of(settings, model))


def export_only(settings: Any, output: Path, staging_dir: Path) -> Any:
    from publisher.stages.text_data import load_eval_text

    loaded = _load(settings)
    eval_text = load_eval_text(text_spec(settings)) if settings.compression.data_aware else None
    return _export(settings, loaded, eval_text, output, staging_dir)


def benchmark(ir_dir: Path) -> LLMPerformanceResult:
    from publisher.bench import benchmark_llm

    return benchmark_llm(ir_dir, prompt_tokens=BENCH_PROMPT_TOKENS, output_tokens=BENCH_OUTPUT_TOKENS,
                         runs=BENCH_RUNS)


def rejudged(m: Measurements, gates: Any) -> Measurements:
    return m  # the gates read the measurements directly; nothing is judged inside them


def evaluate_gates(gates: Any, report: Report) -> list[GateResult]:
    tg = report.text_generation
    ppl = tg.perplexity
    increase = (ppl.openvino - ppl.torch) / ppl.torch if ppl.torch else None
    return check_gates([
        ("max_perplexity_increase", increase, gates.max_perplexity_increase, "<="),
        ("min_top1_agreement", tg.parity.top1_agreement, gates.min_top1_agreement, ">="),
        ("min_generation_match", tg.generation.exact_match_rate, gates.min_generation_match, ">="),
        ("min_sparsity", report.sparsity.openvino.overall if report.sparsity else None,
         gates.min_sparsity, ">="),
    ])


def commit_message(report: Report) -> str:
    tg = report.text_generation
    return (f"Release {report.card.model_name.split('/')[-1]}: {report.export.weight_format.upper()} "
            f"weights, perplexity {tg.perplexity.openvino:.2f} (torch {tg.perplexity.torch:.2f}), "
            f"top-1 agreement {tg.parity.top1_agreement:.4f}")
