"""text-generation (causal LM): load once, export a stateful IR with compressed weights and the
tokenizer pair that openvino_genai needs, then one teacher-forced pass each over the same token
windows (perplexity and logit parity), greedy generation with both, and the IR's weight precisions
and sparsity read back from its constants. Its claims, card variables, summary rows and re-checks."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from pathlib import Path
from typing import Any

from publisher.progress import Progress
from publisher.results import (
    LLMPerformanceResult,
    Measurements,
    Recheck,
    Report,
    WeightCompression,
)
from publisher.tasks import common
from publisher.tasks.contract import (
    BODY,
    BOTH,
    CHECKPOINT,
    DATA,
    EVALUATION_ROWS,
    IR,
    Absolute,
    ItsOwnValue,
    AsIs,
    Exact,
    FigureSpec,
    Fixed,
    GateSpec,
    OfCount,
    Percent,
    Relative,
    SPARSITY_TORCH,
    RowsStatement,
    Significant,
    Task,
    Unbounded,
)
from publisher.tasks.run import MeasureRequest, now_utc, without_tokens

HUB = "https://huggingface.co"
AUTO_CLASS = "AutoModelForCausalLM"
# --bench: a prompt and an answer of these lengths (tokens), as the card states them.
BENCH_PROMPT_TOKENS = 128
BENCH_OUTPUT_TOKENS = 64
BENCH_RUNS = 3
# The IR's perplexity in bf16 and f32 differ by well under this share (README, "Re-checking a
# release": 0.086% measured on SmolLM2-135M INT4).
PERPLEXITY_RELATIVE_TOLERANCE = 0.01
COMPRESSED = frozenset({"int8", "int4"})  # weight formats NNCF compresses (publisher.card.claims says the same)


def perplexity_increase(ppl: Any) -> float | None:
    """The IR's perplexity over torch's, relative (0.0155 is 1.55% higher): what the
    ``max_perplexity_increase`` gate judges and the card states, and what verify re-measures."""
    return (float(ppl.openvino) - float(ppl.torch)) / float(ppl.torch) if ppl.torch else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _group_size(report: Report) -> int | None:
    q = report.text_generation.compression
    if q.mode not in COMPRESSED:
        return None
    return q.group_size if q.mode == "int4" else _int(q.applied.get("group_size"))


def _ratio(report: Report) -> float | None:
    q = report.text_generation.compression
    return q.ratio if q.mode == "int4" else None


def _precision_share(key: str):
    def read(report: Report) -> float | None:
        wp = report.text_generation.weight_precision
        return float(wp.shares[key]) if key in wp.shares and int(wp.counts.get(key, 0)) > 0 else None
    return read


_REL = PERPLEXITY_RELATIVE_TOLERANCE
_REL_REASON = (f"{_REL:.0%} of the value: the IR's perplexity moves this little between CPUs and "
               "inference precisions (bf16, f32)")
_PARITY_REASON = "compares the IR with the checkpoint's logits; moves with the CPU's inference precision"
_NNCF_RECORD = "exact: NNCF's own record in the IR (rt_info)"
_RUN = (IR, CHECKPOINT, DATA)


def _positions(report: Report) -> int:
    return int(report.text_generation.parity.positions)


def answer_similarity(report: Report) -> Any:
    """The report's answer similarity, or None (a report from before it was measured)."""
    return report.text_generation.answer_similarity


def _similarity_label(report: Report) -> str:
    sim = answer_similarity(report)
    return f"Answer similarity with PyTorch (mean cosine similarity of {sim.model.name} embeddings)"


def _similarity_prompts(report: Report) -> int:
    return len(answer_similarity(report).per_prompt)


def _similarity_reason(flips: int, prompts: int) -> str:
    return (f"{flips} of the {prompts} prompts: another CPU or inference precision may make the IR's greedy answer "
            "diverge from its recorded one at another token, which moves that prompt's cosine by up to 1")



class TextGeneration(Task):
    name = "text-generation"
    title = "causal language model"
    architecture_suffixes = ("ForCausalLM", "LMHeadModel")
    auto_class = AUTO_CLASS
    optimum_task = "text-generation-with-past"
    ov_model_class = "OVModelForCausalLM"
    template = "openvino-llm.md.j2"
    evaluation = "plain text (.txt, or .jsonl with a text field)"
    default_split = "test"  # language models report held-out text: WikiText's and most corpora's test split
    weight_formats = ("int8", "int4", "fp16", "fp32")
    metric = "perplexity"
    performance_result = LLMPerformanceResult
    evaluation_stage = "perplexity"
    card_variables = ("perplexity", "parity", "generation", "similarity", "sample", "quantization",
                      "weight_precision", "performance", "int4_search")
    rows_phrase = r"(?P<rows>\d[\d,]*) tokens scored in \d+ windows"
    card_variable_docs = {
        "perplexity": "Text generation only (None for a classifier): perplexity of torch and of the IR on the same "
                      "token windows: dataset (name, type, config, split, source, license, bundled, num_characters, "
                      "num_tokens, sha256 (of the text evaluated), url), window, stride, windows, max_windows (the "
                      "cap the windows were chosen with, None: the whole text), tokens_covered (tokens from the "
                      "start of the text the windows span), whole_text, tokens_scored, torch, openvino, increase "
                      "(IR over torch, relative), method (in words), inference_precision (the IR's on CPU).",
        "int4_search": "Text generation with --int4-search only (else None): candidates, budget, stopped (why, in "
                       "words), chosen (the trial published, None when none passed), trials (number, setting, "
                       "int4_share, figures: gate -> value as printed, missed: the gates it failed, passed, "
                       "from_cache, measured).",
        "similarity": "Text generation only (None when not measured): the answer similarity of the greedy answers "
                      "(who_what_benchmark's method): model (name, source, weights_sha256, revision, url), "
                      "field_model (who_what_benchmark's default), prompts, prompt_set, max_new_tokens, mean, min, "
                      "per_prompt (list of {prompt, cosine}).",
    }

    figures = (
        FigureSpec("perplexity.openvino", "text_generation.perplexity.openvino", "OpenVINO IR perplexity", Fixed(2),
                   "perplexity", Recheck.IR, Relative(_REL_REASON, _REL), BOTH, card_label=r"perplexity",
                   not_label=r"relative|increase", side="openvino"),
        FigureSpec("perplexity.torch", "text_generation.perplexity.torch", "PyTorch perplexity", Fixed(2),
                   "perplexity", Recheck.CHECKPOINT, Relative(_REL_REASON, _REL), BOTH, card_label=r"perplexity",
                   not_label=r"relative|increase", side="torch"),
        FigureSpec("perplexity.increase", "text_generation.perplexity (derived)",
                   "Perplexity of the IR relative to PyTorch", Percent(2, signed=True), "perplexity",
                   Recheck.CHECKPOINT, Absolute("both perplexities' tolerances", 2 * _REL), (BODY,), _RUN,
                   card_label=r"perplexity.*(relative|increase)",
                   read=lambda r: perplexity_increase(r.text_generation.perplexity)),
        FigureSpec("parity.top1_agreement", "text_generation.parity.top1_agreement", "Top-1 agreement with PyTorch",
                   Fixed(4), "perplexity", Recheck.CHECKPOINT,
                   OfCount(_PARITY_REASON, flips=2, count=_positions, floor=0.01), (BODY,), _RUN,
                   card_label=r"agreement"),
        FigureSpec("parity.max_abs_logit_diff", "text_generation.parity.max_abs_logit_diff",
                   "Largest absolute logit difference from PyTorch", Significant(3), "perplexity", Recheck.CHECKPOINT,
                   ItsOwnValue(_PARITY_REASON), (BODY,), _RUN, card_label=r"logit",
                   not_label=r"\bmean\b|average"),
        FigureSpec("parity.mean_abs_logit_diff", "text_generation.parity.mean_abs_logit_diff",
                   "Mean absolute logit difference from PyTorch", Significant(3), "perplexity", Recheck.CHECKPOINT,
                   ItsOwnValue(_PARITY_REASON), (BODY,), _RUN, card_label=r"logit.*(\bmean\b|average)|"
                   r"(\bmean\b|average).*logit"),
        FigureSpec("generation.exact_match_rate", "text_generation.generation.exact_match_rate",
                   "Exact-match rate of greedy generation with PyTorch", Fixed(2), "generation", Recheck.CHECKPOINT,
                   Unbounded("each prompt's tokens either match or not; a different CPU may change where they diverge"),
                   (BODY,), (IR, CHECKPOINT), card_label=r"exact|match", not_label=r"perplexity|agreement|logit"),
        # verify regenerates the IR's answers and re-embeds them with the torch answers report.json holds.
        FigureSpec("answer_similarity.mean", "text_generation.answer_similarity.mean", _similarity_label, Fixed(4),
                   "generation", Recheck.IR,
                   OfCount("", flips=2, count=_similarity_prompts, reason_of=_similarity_reason), (BODY,), (IR,),
                   card_label=r"similarity", not_label=r"exact|perplexity|agreement|logit",
                   when=lambda r: answer_similarity(r) is not None),
        *(FigureSpec(f"weight_precision.{key}", f"text_generation.weight_precision.shares.{key}",
                     f"{title} weights (share of linear-layer weights)", Percent(1), "weight_precision", Recheck.IR,
                     Exact("exact: a count of the IR's weight constants"), (BODY,), (IR,),
                     card_label=rf"\b{key}\b.*weight|weight.*\b{key}\b", read=_precision_share(key))
          for key, title in (("int4", "INT4"), ("int8", "INT8"), ("float", "Float"))),
        FigureSpec("quantization.group_size", "text_generation.compression.group_size", "Weight compression group size",
                   AsIs(), "export", Recheck.IR, Exact(_NNCF_RECORD), (BODY,), (IR,), card_label=r"group size",
                   read=_group_size),
        FigureSpec("quantization.ratio", "text_generation.compression.ratio", "INT4 ratio", AsIs(), "export",
                   Recheck.IR, Exact(_NNCF_RECORD), (BODY,), (IR,), card_label=r"\bratio\b", read=_ratio),
        # A language model's card shows sparsity only when the weights are sparse.
        *common.sparsity_figures(when=common.is_sparse),
        common.timing_figure("performance.ttft_ms", "performance.ttft_ms.median", "Time to first token (ms)", 1,
                             r"first token", not_label=r"after"),
        common.timing_figure("performance.tokens_per_second", "performance.tokens_per_second.median",
                             "Generation speed (tokens/s)", 1, r"speed|tokens/s|tokens per second"),
    )

    gates = (
        GateSpec("max_perplexity_increase", lambda r: perplexity_increase(r.text_generation.perplexity)),
        GateSpec("min_top1_agreement", lambda r: r.text_generation.parity.top1_agreement),
        GateSpec("min_generation_match", lambda r: r.text_generation.generation.exact_match_rate),
        GateSpec("min_similarity", lambda r: answer_similarity(r).mean if answer_similarity(r) else None),
        GateSpec("min_sparsity", lambda r: r.sparsity.openvino.overall if r.sparsity else None),
    )

    # --- publish -------------------------------------------------------------------------------------

    def measure(self, req: MeasureRequest) -> tuple[Measurements, Any]:
        loaded, eval_text = self.load(req.settings, req.progress, req.timer)
        return self.measure_loaded(req, loaded, eval_text)

    # --int4-search (publisher.pipeline.int4_search) loads once and exports and measures each trial.

    def load(self, settings: Any, progress: Progress, timer: Any) -> tuple[Any, Any]:
        """The checkpoint and the evaluation text."""
        from publisher.stages.text_data import load_eval_text

        with progress.stage(f"Loading {settings.checkpoint}"), timer.timed("load"):
            loaded = _load(settings)
        with timer.timed("data"):
            eval_text = load_eval_text(text_spec(settings))
        return loaded, eval_text

    def export_loaded(self, settings: Any, loaded: Any, eval_text: Any, output: Path, staging_dir: Path) -> Any:
        return _export(settings, loaded, eval_text, output, staging_dir)

    def measure_loaded(self, req: MeasureRequest, loaded: Any, eval_text: Any) -> tuple[Measurements, Any]:
        s = req.settings
        embedder = _embedder(s)
        export = req.export
        if export is None:
            with req.progress.stage(f"Exporting to OpenVINO IR ({s.weight_format} weights, stateful)"), \
                    req.timer.timed("export"):
                export = _export(s, loaded, eval_text, req.output, req.staging_dir)
            req.on_export(export)
        with req.timer.timed("measure"):
            tg = _measure(loaded, req.output, eval_text, s, _applied(export, s, loaded.model), req.progress, embedder)
        for stage, seconds in tg.timings.items():
            req.timer.record(stage, seconds)
        return _measurements(loaded, tg), export

    def export_only(self, settings: Any, output: Path, staging_dir: Path) -> Any:
        from publisher.stages.text_data import load_eval_text

        loaded = _load(settings)
        eval_text = load_eval_text(text_spec(settings)) if settings.compression.data_aware else None
        return _export(settings, loaded, eval_text, output, staging_dir)

    def measure_existing_ir(self, checkpoint: Path, ir_dir: Path, settings: Any, progress: Progress) -> Measurements:
        from publisher.stages.text_data import load_eval_text

        settings = dataclasses.replace(settings, checkpoint=Path(checkpoint))
        embedder = _embedder(settings)
        loaded = _load(settings)
        eval_text = load_eval_text(text_spec(settings))
        applied = _applied_in(Path(ir_dir), settings, loaded.model)
        return _measurements(loaded, _measure(loaded, Path(ir_dir), eval_text, settings, applied, progress, embedder))

    def stage_result(self, stage: str, m: Measurements) -> tuple[Any, bool]:
        tg = m.text_generation
        if stage == "parity":
            return tg.parity, True  # judged by the gates of a publish, not by the stage
        return tg.perplexity, True

    def benchmark(self, ir_dir: Path) -> LLMPerformanceResult:
        from publisher.bench import benchmark_llm

        return benchmark_llm(ir_dir, prompt_tokens=BENCH_PROMPT_TOKENS, output_tokens=BENCH_OUTPUT_TOKENS,
                             runs=BENCH_RUNS)

    def evaluation_sample(self, settings: Any) -> tuple[str, str]:
        from publisher.stages.text_data import load_eval_text

        text = load_eval_text(text_spec(settings))
        return text.text, text.info.name

    def commit_message(self, report: Report) -> str:
        tg = report.text_generation
        return (f"Release {report.card.model_name.split('/')[-1]}: {report.export.weight_format.upper()} "
                f"weights, perplexity {tg.perplexity.openvino:.2f} (torch {tg.perplexity.torch:.2f}), "
                f"top-1 agreement {tg.parity.top1_agreement:.4f}")

    # --- the report and the card -----------------------------------------------------------------------

    def eval_dataset(self, report: Report) -> Any:
        return report.text_generation.perplexity.dataset

    def data_description(self, report: Report) -> str:
        ds = self.eval_dataset(report)
        return f"{ds.name} ({ds.num_characters} characters)"

    def rows_statement(self, report: Report) -> RowsStatement:
        ppl = report.text_generation.perplexity
        printed = f"{ppl.tokens_scored} tokens scored in {ppl.windows} windows"
        return RowsStatement(int(ppl.tokens_scored), printed, "perplexity", "text_generation.perplexity.tokens_scored",
                             "the windows re-scored from the evaluation text")

    def ledger_method(self, report: Report) -> dict[str, Any]:
        ppl = report.text_generation.perplexity
        method = {"window": ppl.window, "stride": ppl.stride, "windows": ppl.windows, "max_windows": ppl.max_windows,
                  "tokens_scored": ppl.tokens_scored, "inference_precision": ppl.inference_precision}
        sim = answer_similarity(report)
        if sim is not None:
            method["answer_similarity"] = {
                "model": sim.model.name, "model_source": sim.model.source, "model_sha256": sim.model.weights_sha256,
                "prompt_set": sim.prompt_set, "prompt_set_sha256": sim.prompt_set_sha256,
                "prompts": len(sim.per_prompt), "max_new_tokens": sim.max_new_tokens}
        return method

    def model_index_values(self, report: Report) -> tuple[float, float]:
        ppl = report.text_generation.perplexity
        return ppl.openvino, ppl.torch

    def model_index_args(self, report: Report) -> dict[str, Any] | None:
        # Perplexity depends on how the text was cut: the windows and stride travel with the figure,
        # so a reader can compare it with figures measured the same way.
        ppl = report.text_generation.perplexity
        return {"window": int(ppl.window), "stride": int(ppl.stride)}

    def card_context(self, report: Report, ledger: Any) -> dict[str, Any]:
        from publisher.pipeline.int4_search import search_context

        return {**_card_context(report, ledger), "int4_search": search_context(report, ledger)}

    def figure_claims(self, report: Report) -> list[Any]:
        from publisher.pipeline.int4_search import trial_claims

        return super().figure_claims(report) + trial_claims(report)

    # --- the CLI -----------------------------------------------------------------------------------------

    def summary_rows(self, report: Report) -> list[tuple[str, str, str]]:
        tg = report.text_generation
        p, par, g, w = tg.perplexity, tg.parity, tg.generation, tg.weight_precision
        rows = [
            (f"perplexity ({p.dataset.name}, {p.tokens_scored} tokens, window {p.window}, stride {p.stride})",
             f"{p.torch:.3f}", f"{p.openvino:.3f}"),
            ("top-1 next-token agreement / max |logit diff|", "",
             f"{par.top1_agreement:.4f} / {par.max_abs_logit_diff:.3f}"),
            (f"greedy generation equal to torch ({len(g.samples)} prompts)", "", f"{g.exact_match_rate:.2f}"),
            *([(f"answer similarity ({tg.answer_similarity.model.name.split('/')[-1]}, mean / min cosine)", "",
                f"{tg.answer_similarity.mean:.4f} / {tg.answer_similarity.min:.4f}")] if tg.answer_similarity else []),
            ("linear weights INT4 / INT8 / float", "",
             " / ".join(f"{w.shares.get(k, 0.0):.3f}" for k in ("int4", "int8", "float"))),
        ]
        from publisher.pipeline.int4_search import summary_rows

        return rows + common.sparsity_rows(report) + summary_rows(report)

    def key_figure(self, document: dict[str, Any]) -> str:
        ppl = document["text_generation"]["perplexity"]
        return f"perplexity {ppl['openvino']:.3f} (torch {ppl['torch']:.3f})"

    # --- publisher verify -----------------------------------------------------------------------------------

    def remeasure_from_ir(self, report: Report, release_dir: Path, options: Any, progress: Progress,
                          out: Any) -> None:
        self._remeasure_perplexity(report, release_dir, options, progress, out)
        if answer_similarity(report) is not None:
            _remeasure_similarity(self, report, release_dir, options, progress, out)

    def _remeasure_perplexity(self, report: Report, release_dir: Path, options: Any, progress: Progress,
                              out: Any) -> None:
        from publisher.recheck import ledger_checks, remeasure
        from publisher.stages.text_data import load_eval_text

        ppl = report.text_generation.perplexity
        ds = ppl.dataset
        loaded_text = load_eval_text(recheck_text_spec(report, options))
        text = loaded_text.text[: ds.num_characters]
        ledger_checks.check_data_sha(ds.sha256, hashlib.sha256(text.encode("utf-8")).hexdigest(),
                                     "the evaluation text", options, out)
        out.eval_input = dataclasses.replace(loaded_text, text=text, info=dataclasses.replace(
            loaded_text.info, num_characters=len(text)))
        out.sample = ledger_checks.EvaluationSample(text, loaded_text.info.name)
        limit = min(options.max_samples, ppl.windows) if options.max_samples else None
        precision = remeasure.supported_precision(ppl.inference_precision)
        try:
            run = remeasure.causal_lm_perplexity(release_dir, text, window=ppl.window, stride=ppl.stride,
                                                 max_windows=ppl.max_windows if ppl.max_windows else ppl.windows,
                                                 limit=limit, inference_precision=precision, progress=progress)
        except (ledger_checks.BadInputError, RuntimeError) as exc:
            return ledger_checks.ir_failed(report, out, exc)
        claim_id = "perplexity.openvino"
        shown = self.shown(claim_id, run.perplexity)
        if limit is None or limit >= ppl.windows:
            scored = sum(run.window_tokens)
            out.values[claim_id] = ledger_checks.Remeasurement(
                run.perplexity, shown, "" if precision else f"in {run.inference_precision}, not the recorded "
                f"{ppl.inference_precision}")
            out.values[EVALUATION_ROWS] = ledger_checks.Remeasurement(
                scored, f"{scored} tokens scored in {len(run.window_tokens)} windows")
            return
        out.partial = f"{limit} of {ppl.windows} windows"
        out.notes[EVALUATION_ROWS] = f"a partial check re-scored {limit} of the {ppl.windows} windows"
        recorded = list(ppl.openvino_window_nll)
        if len(recorded) < limit:
            out.notes[claim_id] = ("a partial check compares window by window, and this report has no "
                                   "per-window figures: run without --max-samples")
            return
        tokens = sum(run.window_tokens)
        recorded_ppl = math.exp(sum(recorded[:limit]) / tokens)
        note = (f"the first {limit} of {ppl.windows} windows ({tokens} tokens): perplexity {run.perplexity:.2f}, "
                f"recorded {recorded_ppl:.2f}")
        out.values[claim_id] = ledger_checks.Remeasurement(run.perplexity, shown, note, recorded_ppl,
                                                           PERPLEXITY_RELATIVE_TOLERANCE * recorded_ppl)

    def remeasure_with_checkpoint(self, report: Report, release_dir: Path, checkpoint: Path, eval_input: Any,
                                  options: Any, progress: Progress) -> dict[str, Any]:
        from publisher.stages.load import load_checkpoint
        from publisher.stages.text_generation import measure_text_generation

        tg = report.text_generation
        ppl = tg.perplexity
        with progress.stage(f"Loading {checkpoint}"):
            loaded = load_checkpoint(checkpoint, trust_pickle=options.trust_pickle, auto_class=AUTO_CLASS)
        measured = measure_text_generation(
            loaded, release_dir, eval_input, window=ppl.window, stride=ppl.stride,
            max_windows=ppl.max_windows if ppl.max_windows else ppl.windows,
            prompts=[s.prompt for s in tg.generation.samples],
            max_new_tokens=tg.generation.max_new_tokens, compression=tg.compression, progress=progress,
            inference_precision=ppl.inference_precision or None)
        m_ppl, parity, gen = measured.perplexity, measured.parity, measured.generation
        out = {
            "perplexity.torch": m_ppl.torch,
            "parity.top1_agreement": parity.top1_agreement,
            "parity.max_abs_logit_diff": parity.max_abs_logit_diff,
            "parity.mean_abs_logit_diff": parity.mean_abs_logit_diff,
            "generation.exact_match_rate": gen.exact_match_rate,
            SPARSITY_TORCH: measured.sparsity.torch.overall,
        }
        increase = perplexity_increase(m_ppl)
        if increase is not None and perplexity_increase(ppl) is not None:
            out["perplexity.increase"] = increase
        return out


def _remeasure_similarity(task: TextGeneration, report: Report, release_dir: Path, options: Any,
                          progress: Progress, out: Any) -> None:
    """The IR's greedy answers generated again from the release alone, embedded with the torch answers
    report.json holds, by the model the report names (its weights' sha256 checked)."""
    from publisher.recheck import ledger_checks, remeasure
    from publisher.stages.answer_similarity import measure_answer_similarity, prompt_set_of, recorded_embedder
    from publisher.stages.generation import ir_answers

    sim, gen = answer_similarity(report), report.text_generation.generation
    prompts = [s.prompt for s in gen.samples]
    embedder = recorded_embedder(sim.model, getattr(options, "similarity_model", None))
    precision = remeasure.supported_precision(gen.inference_precision)
    claim_id = "answer_similarity.mean"
    with progress.stage(f"Answer similarity: the IR's {len(prompts)} greedy answers generated again"):
        try:
            answers = ir_answers(release_dir, prompts, max_new_tokens=sim.max_new_tokens,
                                 inference_precision=precision, progress=progress)
        except (ledger_checks.BadInputError, RuntimeError) as exc:
            out.failures[claim_id] = f"the release's IR does not generate: {str(exc).splitlines()[0][:200]}"
            return
        again = measure_answer_similarity([s.torch_text for s in gen.samples], answers, embedder,
                                          prompt_set_of(prompts), sim.max_new_tokens)
    changed = sum(1 for s, a in zip(gen.samples, answers) if a != s.openvino_text)
    note = f"{changed} of {len(prompts)} IR answers differ from the recorded ones" if changed else ""
    if not precision and gen.inference_precision:
        note = "; ".join(x for x in (note, f"not in the recorded {gen.inference_precision}") if x)
    out.values[claim_id] = ledger_checks.Remeasurement(again.mean, task.shown(claim_id, again.mean), note)


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
                        dataset_config=e.dataset_config, split=e.split or TextGeneration.default_split,
                        text_field=e.text_column or "text")


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


def _applied(export: Any, settings: Any, model: Any) -> WeightCompression:
    """What NNCF actually applied, read back from the IR's record of it."""
    from publisher.stages.export import applied_compression

    return applied_compression(Path(export.output_dir), compression_of(settings, model))


def _load(settings: Any) -> Any:
    from publisher.stages.load import load_checkpoint

    return load_checkpoint(settings.checkpoint, trust_pickle=settings.trust_pickle, auto_class=AUTO_CLASS)


def _embedder(settings: Any) -> Any:
    from publisher.stages.answer_similarity import resolve_embedder

    return resolve_embedder(getattr(settings.text_eval, "similarity_model", None))


def _measure(loaded: Any, ir_dir: Path, eval_text: Any, settings: Any, compression: WeightCompression,
             progress: Progress, embedder: Any) -> Any:
    from publisher.stages.text_generation import DEFAULT_PROMPTS, MAX_NEW_TOKENS, measure_text_generation

    t = settings.text_eval
    return measure_text_generation(loaded, ir_dir, eval_text, window=t.window, stride=t.stride,
                                   max_windows=t.max_windows or None, prompts=DEFAULT_PROMPTS,
                                   max_new_tokens=MAX_NEW_TOKENS, compression=compression, progress=progress,
                                   embedder=embedder)


def _measurements(loaded: Any, tg: Any) -> Measurements:
    return Measurements(created=now_utc(), checkpoint=loaded.info, training_args=without_tokens(loaded.training_args),
                        sparsity=tg.sparsity, text_generation=tg)


def _applied_in(ir_dir: Path, settings: Any, model: Any) -> WeightCompression:
    from publisher.stages.export import applied_compression

    return applied_compression(ir_dir, compression_of(settings, model))


def recheck_text_spec(report: Report, options: Any) -> Any:
    """The evaluation text the ledger names (verify never opens a path a repo's report names)."""
    from publisher.recheck.ledger_checks import local_data_refused
    from publisher.stages.text_data import TextEvalSpec

    ds = report.text_generation.perplexity.dataset
    if options.eval_file:
        return TextEvalSpec(eval_file=Path(options.eval_file))
    if ds.source.startswith("bundled:"):
        # The text the report names (WikiText-2 now, SST-2 sentences in older reports), not today's default.
        return TextEvalSpec(bundled=ds.source.removeprefix("bundled:"))
    if ds.source.startswith("hub:"):
        return TextEvalSpec(dataset=options.dataset or ds.type, dataset_config=ds.config,
                            split=ds.split or TextGeneration.default_split)
    raise local_data_refused(ds.source, ds.sha256, "the text is needed to re-measure the IR's perplexity")


def tokens_covered(ppl: Any) -> int | None:
    """How many tokens from the start of the text the windows span (the last window's end), or
    None for a report that does not record the text's token count."""
    num_tokens = ppl.dataset.num_tokens
    if num_tokens is None or not ppl.windows:
        return None
    return min(int(num_tokens), (int(ppl.windows) - 1) * int(ppl.stride) + int(ppl.window))


# Storage precisions of the IR's weights, in the order a card lists them.
PRECISION_TITLES = {"int4": "INT4", "int8": "INT8", "float": "Float"}
NAMED_LAYERS = 4


def _card_context(report: Report, ledger: Any) -> dict[str, Any]:
    from publisher.card import facts
    from publisher.card.ledger import value

    tg = report.text_generation
    ppl, parity, gen = tg.perplexity, tg.parity, tg.generation
    ds = ppl.dataset
    hub_ds = facts.hub_dataset(report)
    samples = [_sample(s) for s in gen.samples]
    covered = tokens_covered(ppl)
    return {
        "perplexity": {
            "dataset": {
                "name": ds.name,
                "type": ds.type,
                "config": ds.config,
                "split": ds.split,
                "source": ds.source,
                "license": ds.license,
                "bundled": ds.source.startswith("bundled:"),
                "num_characters": int(ds.num_characters),
                "num_tokens": int(ds.num_tokens) if ds.num_tokens is not None else None,
                "sha256": ds.sha256,
                "url": f"{HUB}/datasets/{hub_ds}" if hub_ds else None,
            },
            "window": int(ppl.window),
            "stride": int(ppl.stride),
            "windows": int(ppl.windows),
            "max_windows": int(ppl.max_windows) if ppl.max_windows else None,
            "tokens_covered": covered,
            "whole_text": covered is not None and covered == ds.num_tokens,
            "tokens_scored": int(ppl.tokens_scored),
            "torch": value(ledger, "perplexity.torch"),
            "openvino": value(ledger, "perplexity.openvino"),
            "increase": value(ledger, "perplexity.increase") if ledger.get("perplexity.increase") else None,
            "method": ppl.method,
            "inference_precision": ppl.inference_precision or None,
        },
        "parity": {
            "positions": int(parity.positions),
            "top1_agreement": value(ledger, "parity.top1_agreement"),
            "max_abs_logit_diff": value(ledger, "parity.max_abs_logit_diff"),
            "mean_abs_logit_diff": value(ledger, "parity.mean_abs_logit_diff"),
        },
        "generation": {
            "prompts": len(samples),
            "matches": sum(1 for s in samples if s["match"]),
            "exact_match_rate": value(ledger, "generation.exact_match_rate"),
            "max_new_tokens": int(gen.max_new_tokens),
            "greedy": bool(gen.greedy),
            "chat_template": any(s["chat_template_applied"] for s in samples),
            "inference_precision": gen.inference_precision or None,
            "samples": samples,
        },
        "similarity": _similarity(report, ledger),
        # The card shows one generation of the run: the first whose IR output matched torch's,
        # else the first prompt's (never a made-up example).
        "sample": next((s for s in samples if s["match"]), samples[0] if samples else None),
        "quantization": _quantization(report, ledger),
        "weight_precision": _weight_precision(tg.weight_precision, ledger),
        "performance": _llm_performance(report, ledger),
    }


def _similarity(report: Report, ledger: Any) -> dict[str, Any] | None:
    from publisher.card.ledger import value
    from publisher.stages.answer_similarity import FIELD_MODEL

    sim = answer_similarity(report)
    if sim is None:
        return None
    samples = report.text_generation.generation.samples
    return {
        "model": {"name": sim.model.name, "source": sim.model.source, "weights_sha256": sim.model.weights_sha256,
                  "revision": sim.model.revision,
                  # The packaged model is a copy of the Hub's; a local folder has no page to link.
                  "url": f"{HUB}/{sim.model.name}" if sim.model.source.startswith(("package:", "hub:")) else None},
        "field_model": FIELD_MODEL,
        "prompts": len(sim.per_prompt),
        "prompt_set": sim.prompt_set,
        "max_new_tokens": int(sim.max_new_tokens),
        "mean": value(ledger, "answer_similarity.mean"),
        "min": float(sim.min),
        "per_prompt": [{"prompt": s.prompt, "cosine": float(c)} for s, c in zip(samples, sim.per_prompt)],
    }


def _sample(sample: Any) -> dict[str, Any]:
    return {
        "prompt": sample.prompt,
        "chat_template_applied": bool(sample.chat_template_applied),
        "openvino_text": sample.openvino_text,
        "torch_text": sample.torch_text,
        "match": bool(sample.match),
        "first_divergence_token": sample.first_divergence_token,
        "tokenizer_match": bool(sample.tokenizer_match),
        "openvino_tokens": int(sample.openvino_tokens),
        "torch_tokens": int(sample.torch_tokens),
    }


def _flag(applied: dict[str, Any], key: str) -> bool | None:
    """A boolean NNCF recorded as text ("True"/"False"), or None when it recorded none."""
    value = applied.get(key)
    return None if value is None else str(value).strip().lower() == "true"


def _quantization(report: Report, ledger: Any) -> dict[str, Any] | None:
    from publisher.card.ledger import value

    """The weight compression as NNCF applied it (its own record in the IR), for INT8/INT4 only."""
    c = report.text_generation.compression
    if c.mode not in COMPRESSED:
        return None
    applied = dict(c.applied or {})
    group = c.group_size if c.mode == "int4" else _int(applied.get("group_size"))
    return {
        "mode": applied.get("mode") or f"{c.mode}_{'sym' if c.sym else 'asym'}",
        "bits": 4 if c.mode == "int4" else 8,
        "sym": bool(c.sym),
        "group_size": int(value(ledger, "quantization.group_size")) if group is not None else None,
        "per_channel": group == -1,
        "ratio": value(ledger, "quantization.ratio") if c.mode == "int4" and c.ratio is not None else None,
        "backup_mode": c.backup_mode if c.mode == "int4" else None,
        "awq": bool(c.awq),
        "scale_estimation": bool(c.scale_estimation),
        "gptq": bool(_flag(applied, "gptq")),
        "lora_correction": bool(_flag(applied, "lora_correction")),
        "data_aware": bool(c.awq or c.scale_estimation or _flag(applied, "gptq")
                           or _flag(applied, "lora_correction")),
        "dataset": c.dataset,
        "calibration_samples": c.calibration_samples,
        "sensitivity_metric": applied.get("sensitivity_metric") or None,
        # False: NNCF left no record in the IR, so the values are what was asked of optimum-intel.
        "recorded": bool(applied),
    }


def _weight_precision(wp: Any, ledger: Any) -> dict[str, Any]:
    from publisher.card.ledger import value

    rows = []
    for key in PRECISION_TITLES:
        if key not in wp.shares:
            continue
        names = sorted(name for name, precision in wp.layers.items() if precision == key)
        layers = int(wp.counts.get(key, len(names)))
        share = value(ledger, f"weight_precision.{key}") if layers > 0 else float(wp.shares[key])
        rows.append({"precision": key, "title": PRECISION_TITLES[key], "share": share,
                     "layers": int(wp.counts.get(key, len(names))), "elements": int(wp.elements.get(key, 0)),
                     # A few layers are worth naming (the output head kept in INT8); many are not.
                     "names": names if 0 < len(names) <= NAMED_LAYERS else None})
    return {
        "shares": {k: float(v) for k, v in wp.shares.items()},
        "layers": sum(int(v) for v in wp.counts.values()),
        "rows": rows,
    }


def _llm_performance(report: Report, ledger: Any) -> dict[str, Any] | None:
    from publisher.card.ledger import value

    perf = report.performance
    if perf is None:
        return None
    return {
        "cpu": perf.cpu,
        "openvino": perf.openvino.split("-")[0],
        "prompt_tokens": int(perf.prompt_tokens),
        "output_tokens": int(perf.output_tokens),
        "ttft_ms": value(ledger, "performance.ttft_ms"),
        "tokens_per_second": value(ledger, "performance.tokens_per_second"),
        "runs": int(perf.runs),
    }


