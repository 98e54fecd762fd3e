"""question-answering (extractive, SQuAD): load once, split every question + context into windows,
one torch pass and one IR pass over the same windows, the best answer span of each question mapped
back to its context; exact match and F1 by the official SQuAD v1.1 rules for both, the torch/IR
parity at the windows' start/end logits, and sparsity. Its claims, card variables, summary rows
and re-checks.

The default evaluation data is the bundled SQuAD v1.1 dev article (publisher.stages.squad_data,
publisher/data/squad/PROVENANCE.md); ``--eval-file`` reads SQuAD JSON or JSONL. Unanswerable
questions (SQuAD 2.0) are refused: the null-answer rule is not implemented.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from publisher.errors import BadInputError
from publisher.progress import Progress
from publisher.results import PerformanceResult, Recheck, Report
from publisher.stages.load import CheckpointKind, check_architecture
from publisher.stages.squad_data import LAYOUT, QADatasetInfo
from publisher.tasks import common
from publisher.tasks.contract import (
    BODY,
    BOTH,
    CHECKPOINT,
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

SUFFIX = "ForQuestionAnswering"
AUTO_CLASS = "AutoModelForQuestionAnswering"
FLIPS = 2  # questions (or windows) whose best span may flip between CPUs: two near-tied spans


# --- the task's own section of the report (Report.task_results) ------------------------------------------


@dataclass(frozen=True)
class AnswerScores:
    """SQuAD v1.1 scores of one model, in percent (the official script's figures)."""

    exact_match: float
    f1: float
    answered: int  # questions that got a span (the others scored "" : no span fitted the rules)


@dataclass(frozen=True)
class SpanParity:
    """The IR's start/end logits against torch's, window by window, and the answers they give."""

    compiled: bool
    device: str
    questions: int
    windows: int
    span_agreement: float  # share of windows whose start argmax and end argmax both agree
    answer_agreement: float  # share of questions whose answer text is the same
    max_abs_logit_diff: float


@dataclass(frozen=True)
class QuestionAnsweringResults:
    dataset: QADatasetInfo
    metric_rules: str  # publisher.stages.squad_metric.RULES
    span_rule: str  # publisher.stages.squad_features.SPAN_RULE
    max_seq_length: int
    doc_stride: int
    max_answer_length: int
    windows: int  # windows the questions were split into
    split_questions: int  # questions whose context needed more than one window
    torch: AnswerScores
    openvino: AnswerScores
    parity: SpanParity
    questions_per_second: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def _results(report: Report) -> QuestionAnsweringResults:
    return report.task_results


def _questions(report: Report) -> int:
    return int(_results(report).dataset.num_samples)


def _windows(report: Report) -> int:
    return int(_results(report).parity.windows)


@dataclass(frozen=True)
class PointsOfCount(OfCount):
    """``flips`` of ``count`` questions, in percentage points: a score in percent moves by 100 / n per
    question."""

    def amount(self, report: Report, value: float) -> float | None:
        return 100.0 * super().amount(report, value)


def _question_flips(flips: int, n: int) -> str:
    return (f"{flips} of {n} questions: two near-tied answer spans may swap between CPUs and inference "
            "precisions")


def _window_flips(flips: int, n: int) -> str:
    return f"{flips} of {n} windows: a start or end argmax at a near tie may flip between CPUs and inference precisions"


QUESTION_POINTS = PointsOfCount(flips=FLIPS, count=_questions, reason_of=_question_flips)
QUESTION_FLIPS = OfCount(flips=FLIPS, count=_questions, reason_of=_question_flips)
WINDOW_FLIPS = OfCount(flips=FLIPS, count=_windows, reason_of=_window_flips)


def _score_figure(metric: str, side: str) -> FigureSpec:
    model = "OpenVINO IR" if side == "openvino" else "PyTorch"
    word = {"exact_match": "exact match", "f1": "F1"}[metric]
    return FigureSpec(f"{metric}.{side}", f"task_results.{side}.{metric}", f"{model} SQuAD {word} (%)", Fixed(2),
                      "squad", Recheck.IR if side == "openvino" else Recheck.CHECKPOINT, QUESTION_POINTS, BOTH,
                      card_label=r"\bexact match\b" if metric == "exact_match" else r"\bf1\b", side=side)


CHECKPOINT_KIND = CheckpointKind(
    AUTO_CLASS, lambda cfg, folder: check_architecture(cfg, folder, (SUFFIX,), "question-answering model", AUTO_CLASS),
    requires_tokenizer=True, class_labels=False)


# --- measuring ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    loaded: Any  # publisher.stages.load.LoadedCheckpoint
    data: Any  # publisher.stages.squad_data.QAData
    windows: Any  # publisher.stages.squad_features.Windows
    qa: Any  # publisher.settings.QuestionAnsweringOptions


def load_data(settings: Any, split: str | None = None) -> Any:
    """``--eval-file``, else ``--dataset`` (the squad layout), else the bundled SQuAD v1.1 dev article."""
    from publisher.stages.squad_data import load_dataset_questions, load_questions

    spec = settings.eval
    split = split or spec.split or QuestionAnswering.default_split
    if spec.dataset and not spec.eval_file:
        return load_dataset_questions(spec.dataset, spec.dataset_config, split=split, max_samples=spec.max_samples)
    return load_questions(spec.eval_file, split=split, max_samples=spec.max_samples)


def _windows_of(tokenizer: Any, data: Any, qa: Any, batch_size: int) -> Any:
    from publisher.stages.squad_features import make_windows

    return make_windows(tokenizer, [q.question for q in data.questions], [q.context for q in data.questions],
                        max_length=qa.max_seq_length, doc_stride=qa.doc_stride, batch_size=batch_size)


def prepare(checkpoint: Path, settings: Any, progress: Progress, timer: StageTimer, data: Any = None) -> Prepared:
    from publisher.stages.load import load_checkpoint

    with progress.stage(f"Loading {checkpoint}"), timer.timed("load"):
        loaded = load_checkpoint(checkpoint, trust_pickle=settings.trust_pickle, auto_class=CHECKPOINT_KIND)
    with timer.timed("data"):
        data = data if data is not None else load_data(settings)
        windows = _windows_of(loaded.tokenizer, data, settings.qa, settings.batch_size)
    return Prepared(loaded, data, windows, settings.qa)


def torch_pass(p: Prepared, progress: Progress, timer: StageTimer) -> Any:
    from publisher.stages.parity import check_finite
    from publisher.stages.squad_features import run_torch

    with progress.bar("torch    ", p.windows.num_windows) as advance:
        run = run_torch(p.loaded.model, p.windows, advance)
    timer.record("eval_torch", run.seconds)
    for row in run.start + run.end:
        check_finite("torch model", [row])
    return run


def ir_pass(xml: Path, windows: Any, progress: Progress, timer: StageTimer | None = None) -> Any:
    from publisher.stages.inference import compile_ir
    from publisher.stages.parity import check_finite
    from publisher.stages.squad_features import run_ir

    compiled = compile_ir(xml)
    with progress.bar("OpenVINO ", windows.num_windows) as advance:
        run = run_ir(compiled, windows, advance)
    if timer is not None:
        timer.record("eval_openvino", run.seconds)
    for row in run.start + run.end:
        check_finite("OpenVINO IR", [row])
    return run


def scored(data: Any, windows: Any, logits: Any, max_answer_length: int) -> tuple[AnswerScores, list[str]]:
    """The SQuAD scores of one model's logits, and its answer to each question."""
    from publisher.stages import squad_features, squad_metric

    found = squad_features.answers(windows, logits, [q.context for q in data.questions], max_answer_length)
    texts = [a.text for a in found]
    s = squad_metric.score(texts, [q.answers for q in data.questions])
    return AnswerScores(exact_match=s.exact_match, f1=s.f1, answered=sum(1 for a in found if a.start >= 0)), texts


def measure_against_ir(p: Prepared, torch_run: Any, ir_xml: Path, progress: Progress,
                       timer: StageTimer) -> tuple[Any, QuestionAnsweringResults]:
    from publisher.stages import squad_features, squad_metric
    from publisher.stages.inference import read_ir
    from publisher.stages.sparsity import measure_sparsity

    ir_run = ir_pass(ir_xml, p.windows, progress, timer)
    limit = p.qa.max_answer_length
    torch_scores, torch_texts = scored(p.data, p.windows, torch_run, limit)
    ir_scores, ir_texts = scored(p.data, p.windows, ir_run, limit)
    par = squad_features.parity(p.windows, torch_run, ir_run)
    n = p.data.info.num_samples
    with timer.timed("sparsity"):
        sparsity = measure_sparsity(p.loaded.model, read_ir(ir_xml))
    results = QuestionAnsweringResults(
        dataset=p.data.info, metric_rules=squad_metric.RULES, span_rule=squad_features.SPAN_RULE,
        max_seq_length=p.qa.max_seq_length, doc_stride=p.qa.doc_stride, max_answer_length=limit,
        windows=p.windows.num_windows, split_questions=p.windows.split_questions,
        torch=torch_scores, openvino=ir_scores,
        parity=SpanParity(compiled=True, device=ir_run.device, questions=n, windows=par["windows"],
                          span_agreement=par["span_agreement"],
                          answer_agreement=sum(a == b for a, b in zip(torch_texts, ir_texts)) / n,
                          max_abs_logit_diff=par["max_abs_logit_diff"]),
        questions_per_second={"torch": round(n / torch_run.seconds, 3) if torch_run.seconds else 0.0,
                              "openvino": round(n / ir_run.seconds, 3) if ir_run.seconds else 0.0},
        seconds={"torch": round(torch_run.seconds, 3), "openvino": round(ir_run.seconds, 3)},
    )
    return sparsity, results


class QuestionAnswering(EncoderTask):
    name = "question-answering"
    title = "question-answering model"
    architecture_suffixes = (SUFFIX,)
    auto_class = AUTO_CLASS
    optimum_task = "question-answering"
    ov_model_class = "OVModelForQuestionAnswering"
    template = "openvino-question-answering.md.j2"
    evaluation = f"questions with their context and gold answers ({LAYOUT})"
    default_split = "validation"  # SQuAD's test split is hidden; models report dev (validation)
    weight_formats = ("int8", "fp16", "fp32")
    weight_format_refusals = {
        "int4": "INT4 weight compression is a large-language-model technique; on an encoder question-answering "
                "model it costs exact match and F1 for a size that INT8 already makes small",
    }
    metric = "f1"
    stages = EncoderStages(prepare, torch_pass, measure_against_ir)
    export_checkpoint_kind = CHECKPOINT_KIND
    performance_result = PerformanceResult
    results_type = QuestionAnsweringResults
    evaluation_stage = "squad"
    card_variables = ("squad", "performance")
    card_variable_docs = {
        "squad": ("Question answering only (None otherwise): dataset (name, split, num_samples (questions), "
                  "num_contexts, num_answers, sha256, bundled, articles), metric_rules, span_rule, max_seq_length, "
                  "doc_stride, max_answer_length, windows, split_questions, torch and openvino (exact_match, f1, "
                  "answered), parity (device, questions, windows, span_agreement, answer_agreement, "
                  "max_abs_logit_diff)."),
    }
    rows_phrase = r"(?P<rows>\d[\d,]*) questions\b"

    figures = (
        _score_figure("f1", "openvino"),
        _score_figure("f1", "torch"),
        _score_figure("exact_match", "openvino"),
        _score_figure("exact_match", "torch"),
        FigureSpec("parity.span_agreement", "task_results.parity.span_agreement",
                   "Share of windows whose start and end argmax are the same under the IR and PyTorch", Fixed(4),
                   "parity", Recheck.CHECKPOINT, WINDOW_FLIPS, (BODY,), (IR, CHECKPOINT, DATA),
                   card_label=r"start and end argmax"),
        FigureSpec("parity.answer_agreement", "task_results.parity.answer_agreement",
                   "Share of questions whose answer is the same under the IR and PyTorch", Fixed(4), "parity",
                   Recheck.CHECKPOINT, QUESTION_FLIPS, (BODY,), (IR, CHECKPOINT, DATA),
                   card_label=r"answer is the same"),
        FigureSpec("parity.max_abs_logit_diff", "task_results.parity.max_abs_logit_diff",
                   "Largest absolute start or end logit difference from PyTorch", Significant(3), "parity",
                   Recheck.CHECKPOINT,
                   ItsOwnValue("a worst case over all windows: it moves with the CPU's inference precision"),
                   (BODY,), (IR, CHECKPOINT, DATA), card_label=r"logit", not_label=r"\bmean\b|average"),
        *common.sparsity_figures(),
        *common.ENCODER_PERFORMANCE,
    )

    # The gates read fractions, as the token classifier's F1 gates do: SQuAD's F1 is in percent.
    gates = (
        GateSpec("min_ir_f1", lambda r: r.task_results.openvino.f1 / 100.0),
        GateSpec("max_f1_drop", lambda r: (r.task_results.torch.f1 - r.task_results.openvino.f1) / 100.0),
        GateSpec("min_sparsity", lambda r: r.sparsity.openvino.overall if r.sparsity else None),
    )

    def check_checkpoint(self, config: dict[str, Any], folder: Path, settings: Any) -> None:
        """Also refused before any work: evaluation data that cannot be scored, window settings that
        do not fit (checked again with the tokenizer)."""
        qa = getattr(settings, "qa", None)
        if qa is not None and qa.doc_stride >= qa.max_seq_length:
            raise BadInputError(f"--doc-stride {qa.doc_stride} is not smaller than --max-seq-length "
                                f"{qa.max_seq_length}: the windows of a long context would not advance",
                                "Use a doc stride smaller than the window (128 of 384)")
        positions = config.get("max_position_embeddings")
        if qa is not None and isinstance(positions, int) and qa.max_seq_length > positions:
            raise BadInputError(f"--max-seq-length {qa.max_seq_length} is more than the {positions} positions the "
                                f"checkpoint in {folder} has (max_position_embeddings)",
                                f"Pass --max-seq-length {min(384, positions)} or less; a longer context is split "
                                "into windows anyway")
        super().check_checkpoint(config, folder, settings)
        if getattr(settings, "eval", None) is not None:
            load_data(settings)

    # --- publish -------------------------------------------------------------------------------------

    def evaluation_sample(self, settings: Any) -> tuple[list[str], str]:
        data = load_data(settings)
        return [f"{q.question} {q.context}" for q in data.questions], f"{data.info.name} {data.info.split} questions"

    def commit_message(self, report: Report) -> str:
        r = _results(report)
        return (f"Release {report.card.model_name.split('/')[-1]}: IR SQuAD F1 {r.openvino.f1:.2f} / EM "
                f"{r.openvino.exact_match:.2f} (torch {r.torch.f1:.2f} / {r.torch.exact_match:.2f}), "
                f"{report.export.weight_format.upper()} weights")

    # --- the report and the card -----------------------------------------------------------------------

    def eval_dataset(self, report: Report) -> Any:
        return _results(report).dataset

    def data_description(self, report: Report) -> str:
        ds = _results(report).dataset
        return f"{ds.name} {ds.split} ({ds.num_samples} questions, {ds.num_contexts} contexts)"

    def rows_statement(self, report: Report) -> RowsStatement:
        n = int(_results(report).dataset.num_samples)
        return RowsStatement(n, f"{n} questions", "squad", "task_results.dataset.num_samples",
                             "the questions re-run from the evaluation data")

    def ledger_method(self, report: Report) -> dict[str, Any]:
        r = _results(report)
        return {"max_seq_length": r.max_seq_length, "doc_stride": r.doc_stride,
                "max_answer_length": r.max_answer_length, "span": r.span_rule, "metric": r.metric_rules}

    def model_index_values(self, report: Report) -> tuple[float, float]:
        r = _results(report)
        return r.openvino.f1, r.torch.f1

    def model_index_metrics(self, report: Report) -> list[tuple[str, str | None, str, float]]:
        r = _results(report)
        out: list[tuple[str, str | None, str, float]] = []
        for side, label, scores in (("openvino", "", r.openvino), ("torch", " (PyTorch)", r.torch)):
            out += [("exact_match", f"Exact Match{label}", side, scores.exact_match),
                    ("f1", f"F1{label}", side, scores.f1)]
        return out

    def model_index_args(self, report: Report) -> dict[str, Any] | None:
        r = _results(report)
        return {"max_seq_length": r.max_seq_length, "doc_stride": r.doc_stride,
                "max_answer_length": r.max_answer_length}

    def card_context(self, report: Report, ledger: Any) -> dict[str, Any]:
        from publisher.card.ledger import value
        from publisher.tasks.classification import _performance

        r = _results(report)
        ds, par = r.dataset, r.parity
        return {
            "squad": {
                "dataset": {"name": ds.name, "split": ds.split, "num_samples": int(ds.num_samples),
                            "num_contexts": int(ds.num_contexts), "num_answers": int(ds.num_answers),
                            "sha256": ds.sha256, "bundled": bool(ds.bundled), "articles": list(ds.articles or [])},
                "metric_rules": r.metric_rules, "span_rule": r.span_rule, "max_seq_length": r.max_seq_length,
                "doc_stride": r.doc_stride, "max_answer_length": r.max_answer_length, "windows": r.windows,
                "split_questions": r.split_questions,
                "torch": {"exact_match": value(ledger, "exact_match.torch"), "f1": value(ledger, "f1.torch"),
                          "answered": r.torch.answered},
                "openvino": {"exact_match": value(ledger, "exact_match.openvino"), "f1": value(ledger, "f1.openvino"),
                             "answered": r.openvino.answered},
                "parity": {"device": par.device, "questions": int(par.questions), "windows": int(par.windows),
                           "span_agreement": value(ledger, "parity.span_agreement"),
                           "answer_agreement": value(ledger, "parity.answer_agreement"),
                           "max_abs_logit_diff": value(ledger, "parity.max_abs_logit_diff")},
            },
            "performance": _performance(report, ledger),
        }

    # --- the CLI -----------------------------------------------------------------------------------------

    def summary_rows(self, report: Report) -> list[tuple[str, str, str]]:
        r = _results(report)
        ds = r.dataset
        rows = [(f"SQuAD F1 ({ds.name} {ds.split}, n={ds.num_samples} questions)", f"{r.torch.f1:.2f}",
                 f"{r.openvino.f1:.2f}"),
                ("SQuAD exact match", f"{r.torch.exact_match:.2f}", f"{r.openvino.exact_match:.2f}")]
        rows += common.sparsity_rows(report)
        rows.append(common.speed_row("questions", r.questions_per_second))
        rows.append(("max |logit diff| / span / answer agreement", "",
                     f"{r.parity.max_abs_logit_diff:.4f} / {r.parity.span_agreement:.4f} / "
                     f"{r.parity.answer_agreement:.4f}"))
        return rows

    def key_figure(self, document: dict[str, Any]) -> str:
        r = document.get("task_results") or {}
        return (f"SQuAD F1 {r['openvino']['f1']:.2f} / EM {r['openvino']['exact_match']:.2f} "
                f"(torch {r['torch']['f1']:.2f})")

    # --- publisher verify -----------------------------------------------------------------------------------

    def remeasure_from_ir(self, report: Report, release_dir: Path, options: Any, progress: Progress,
                          out: Any) -> None:
        from publisher.recheck import ledger_checks, remeasure
        from publisher.settings import QuestionAnsweringOptions
        from publisher.stages.squad_data import load_dataset_questions, load_questions

        r = _results(report)
        ds = r.dataset
        from_dataset = ds.source.startswith("hub:") and not options.eval_file
        if not ds.bundled and not options.eval_file and not from_dataset:
            # Verify never opens a path the repo's report names: the reader passes the file.
            raise ledger_checks.local_data_refused(ds.source, ds.sha256, "it is needed to re-measure the IR's "
                                                                         "exact match and F1")
        with progress.stage("Loading the evaluation data"):
            if from_dataset:
                # A Hub id (checked by ledger_checks before this), or the reader's own --dataset.
                data = load_dataset_questions(options.dataset or ds.source[4:], ds.config, split=ds.split,
                                              max_samples=ds.num_samples)
            else:
                # None: the bundled article (a local file's release was refused above without --eval-file).
                data = load_questions(options.eval_file if not ds.bundled else None, split=ds.split,
                                      max_samples=ds.num_samples)
        ledger_checks.check_data_sha(ds.sha256, data.info.sha256, data.info.source, options, out)
        out.eval_input = data
        out.sample = ledger_checks.EvaluationSample([f"{q.question} {q.context}" for q in data.questions],
                                                    f"{data.info.name} {data.info.split} questions")
        if options.max_samples:
            out.notes[EVALUATION_ROWS] = "exact match and F1 are re-measured over every question (--max-samples " \
                                         "is not applied to a question-answering model)"
        qa = QuestionAnsweringOptions(max_seq_length=r.max_seq_length, doc_stride=r.doc_stride,
                                      max_answer_length=r.max_answer_length)
        try:
            windows = _windows_of(remeasure.tokenizer_of(release_dir), data, qa, options.batch_size)
            run = ir_pass(remeasure.ir_xml(release_dir), windows, progress)
            scores, _ = scored(data, windows, run, r.max_answer_length)
        except (ledger_checks.BadInputError, RuntimeError, KeyError, ValueError) as exc:
            return ledger_checks.ir_failed(report, out, exc)
        for metric in ("f1", "exact_match"):
            claim_id = f"{metric}.openvino"
            measured = getattr(scores, metric)
            out.values[claim_id] = ledger_checks.Remeasurement(measured, self.shown(claim_id, measured))
        rows = data.info.num_samples
        out.values[EVALUATION_ROWS] = ledger_checks.Remeasurement(rows, f"{rows} questions")

    def remeasure_with_checkpoint(self, report: Report, release_dir: Path, checkpoint: Path, eval_input: Any,
                                  options: Any, progress: Progress) -> dict[str, Any]:
        from publisher.recheck.remeasure import ir_xml
        from publisher.settings import PublishSettings, QuestionAnsweringOptions
        from publisher.stages.data import EvalDataSpec

        r = _results(report)
        settings = PublishSettings(checkpoint=checkpoint, repo_id=None, eval=EvalDataSpec(split=r.dataset.split),
                                   qa=QuestionAnsweringOptions(max_seq_length=r.max_seq_length,
                                                               doc_stride=r.doc_stride,
                                                               max_answer_length=r.max_answer_length),
                                   batch_size=options.batch_size, trust_pickle=options.trust_pickle)
        timer = StageTimer()
        prepared = prepare(checkpoint, settings, progress, timer, data=eval_input)
        torch_run = torch_pass(prepared, progress, timer)
        sparsity, results = measure_against_ir(prepared, torch_run, ir_xml(release_dir), progress, timer)
        return {"f1.torch": results.torch.f1, "exact_match.torch": results.torch.exact_match,
                "sparsity.torch": sparsity.torch.overall,
                "parity.span_agreement": results.parity.span_agreement,
                "parity.answer_agreement": results.parity.answer_agreement,
                "parity.max_abs_logit_diff": results.parity.max_abs_logit_diff}
