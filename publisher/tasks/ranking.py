"""text-ranking (rerankers): a cross-encoder (``*ForSequenceClassification`` with one output) scores each
(query, passage) pair; torch and the IR score the same tokenized pairs. Measured: MRR@10 and NDCG@10 of
both, the share of queries whose best passage (and whose whole ranking) is the same under both, the
largest score difference, sparsity. Its claims, card variables, summary rows and re-checks.

The release holds the layout sentence-transformers loads (``CrossEncoder(repo_id, backend="openvino")``):
the IR under ``openvino/``, the model's own files at the root. The evaluation data is a local file
(``--eval-file``, publisher.stages.ranking): no query-passage set is bundled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from publisher.errors import BadInputError
from publisher.progress import Progress
from publisher.results import PerformanceResult, Recheck, Report
from publisher.stages.load import CheckpointKind, check_architecture
from publisher.stages.ranking import LAYOUT, RankingDatasetInfo
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

SUFFIX = "ForSequenceClassification"
AUTO_CLASS = "AutoModelForSequenceClassification"
IR_PATH = "openvino/openvino_model.xml"
FLIPS = 2  # queries whose order may flip between CPUs: two near-tied passages


@dataclass(frozen=True)
class RankingScores:
    mrr_at_10: float
    ndcg_at_10: float


@dataclass(frozen=True)
class RankingParity:
    compiled: bool
    device: str
    queries: int
    pairs: int
    top1_agreement: float  # share of queries whose best passage is the same under torch and the IR
    ranking_agreement: float  # share of queries whose whole ranking is the same
    max_abs_score_diff: float


@dataclass(frozen=True)
class RankingResults:
    dataset: RankingDatasetInfo
    max_length: int
    torch: RankingScores
    openvino: RankingScores
    parity: RankingParity
    pairs_per_second: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def _results(report: Report) -> RankingResults:
    return report.task_results


def _queries(report: Report) -> int:
    return int(_results(report).dataset.num_samples)


def _query_flips(flips: int, n: int) -> str:
    return (f"{flips} of {n} queries: two near-tied passages may swap places between CPUs and inference "
            "precisions")


QUERY_FLIPS = OfCount(flips=FLIPS, count=_queries, reason_of=_query_flips)


def _score_figure(metric: str, side: str) -> FigureSpec:
    model = "OpenVINO IR" if side == "openvino" else "PyTorch"
    word = {"mrr_at_10": "MRR@10", "ndcg_at_10": "NDCG@10"}[metric]
    return FigureSpec(f"{metric}.{side}", f"task_results.{side}.{metric}", f"{model} {word}", Fixed(4), "ranking",
                      Recheck.IR if side == "openvino" else Recheck.CHECKPOINT, QUERY_FLIPS, BOTH,
                      card_label=rf"\b{word.split('@')[0].lower()}@10\b", side=side)


def _one_score(cfg: dict[str, Any], folder: Path) -> str:
    arch = check_architecture(cfg, folder, (SUFFIX,), "cross-encoder", AUTO_CLASS)
    if TextRanking.labels(cfg) != 1:
        raise BadInputError(f"The checkpoint in {folder} has {TextRanking.labels(cfg)} outputs; a reranker scores a "
                            "pair with one", "Pass a cross-encoder (num_labels 1), or --task text-classification")
    return arch


CHECKPOINT_KIND = CheckpointKind(AUTO_CLASS, _one_score, requires_tokenizer=True, class_labels=False)


@dataclass(frozen=True)
class Prepared:
    loaded: Any
    data: Any
    batches: Any
    max_length: int
    checkpoint: Path


def load_data(settings: Any, split: str | None = None) -> Any:
    from publisher.stages.ranking import load_ranking

    spec = settings.eval
    if spec.dataset and not spec.eval_file:
        raise BadInputError(f"A reranker release reads its queries from a local file, not a Hub dataset "
                            f"(--dataset {spec.dataset})", f"Pass --eval-file, {LAYOUT}")
    return load_ranking(spec.eval_file, split=split or spec.split or TextRanking.default_split,
                        max_samples=spec.max_samples)


def _max_length(checkpoint: Path, settings: Any) -> int:
    """The cross-encoder's own max sequence length (sentence_bert_config.json), else --max-length."""
    path = Path(checkpoint) / "sentence_bert_config.json"
    if path.is_file():
        from publisher.stages.load import read_json_file

        seq = (read_json_file(path, "Re-save the model with CrossEncoder.save_pretrained") or {}).get("max_seq_length")
        if isinstance(seq, int) and not isinstance(seq, bool) and seq > 0:
            return seq
    return int(settings.eval.max_length)


def prepare(checkpoint: Path, settings: Any, progress: Progress, timer: StageTimer, data: Any = None) -> Prepared:
    from publisher.stages.load import load_checkpoint
    from publisher.stages.ranking import tokenize_pairs

    with progress.stage(f"Loading {checkpoint}"), timer.timed("load"):
        loaded = load_checkpoint(checkpoint, trust_pickle=settings.trust_pickle, auto_class=CHECKPOINT_KIND)
    with timer.timed("data"):
        data = data if data is not None else load_data(settings)
        max_length = _max_length(checkpoint, settings)
        batches = tokenize_pairs(loaded.tokenizer, data, max_length=max_length, batch_size=settings.batch_size)
    return Prepared(loaded, data, batches, max_length, Path(checkpoint))


def torch_pass(p: Prepared, progress: Progress, timer: StageTimer) -> Any:
    from publisher.stages.parity import check_finite
    from publisher.stages.ranking import run_torch

    with progress.bar("torch    ", p.data.info.num_pairs) as advance:
        run = run_torch(p.loaded.model, p.batches, advance)
    timer.record("eval_torch", run.seconds)
    check_finite("torch model", [[s] for s in run.scores])
    return run


def ir_pass(xml: Path, batches: Any, pairs: int, progress: Progress, timer: StageTimer | None = None) -> Any:
    from publisher.stages.inference import compile_ir
    from publisher.stages.ranking import run_ir

    compiled = compile_ir(xml)
    with progress.bar("OpenVINO ", pairs) as advance:
        run = run_ir(compiled, batches, advance)
    if timer is not None:
        timer.record("eval_openvino", run.seconds)
    return run


def measure_against_ir(p: Prepared, torch_run: Any, ir_xml: Path, progress: Progress,
                       timer: StageTimer) -> tuple[Any, RankingResults]:
    from publisher.stages import ranking
    from publisher.stages.inference import read_ir
    from publisher.stages.parity import check_finite
    from publisher.stages.sparsity import measure_sparsity

    ir_run = ir_pass(ir_xml, p.batches, p.data.info.num_pairs, progress, timer)
    check_finite("OpenVINO IR", [[s] for s in ir_run.scores])
    par = ranking.parity(p.data, torch_run.scores, ir_run.scores)
    with timer.timed("sparsity"):
        sparsity = measure_sparsity(p.loaded.model, read_ir(ir_xml))
    n = p.data.info.num_pairs
    results = RankingResults(
        dataset=p.data.info, max_length=p.max_length,
        torch=RankingScores(**ranking.quality(p.data, torch_run.scores)),
        openvino=RankingScores(**ranking.quality(p.data, ir_run.scores)),
        parity=RankingParity(compiled=True, device=ir_run.device, **par),
        pairs_per_second={"torch": round(n / torch_run.seconds, 3) if torch_run.seconds else 0.0,
                          "openvino": round(n / ir_run.seconds, 3) if ir_run.seconds else 0.0},
        seconds={"torch": round(torch_run.seconds, 3), "openvino": round(ir_run.seconds, 3)},
    )
    return sparsity, results


class TextRanking(EncoderTask):
    name = "text-ranking"
    title = "reranker"
    architecture_suffixes = (SUFFIX,)
    auto_class = AUTO_CLASS
    optimum_task = "text-classification"
    ov_model_class = "OVModelForSequenceClassification"
    template = "openvino-text-ranking.md.j2"
    evaluation = f"queries with relevant and irrelevant passages ({LAYOUT})"
    default_split = "test"
    weight_formats = ("int8", "fp16", "fp32")
    weight_format_refusals = {
        "int4": "INT4 weight compression is a large-language-model technique; on a small cross-encoder it costs "
                "ranking quality for a size that INT8 already makes small",
    }
    metric = "ndcg_at_10"
    stages = EncoderStages(prepare, torch_pass, measure_against_ir)
    performance_result = PerformanceResult
    results_type = RankingResults
    evaluation_stage = "ranking"
    card_variables = ("ranking", "performance")
    card_variable_docs = {
        "ranking": ("Rerankers only (None otherwise): dataset (name, split, num_samples (queries), num_pairs, sha256), "
                    "max_length, torch and openvino (mrr_at_10, ndcg_at_10), parity (device, queries, pairs, "
                    "top1_agreement, ranking_agreement, max_abs_score_diff), ir_path."),
    }
    rows_phrase = r"(?P<rows>\d[\d,]*) queries\b"

    figures = (
        _score_figure("ndcg_at_10", "openvino"),
        _score_figure("ndcg_at_10", "torch"),
        _score_figure("mrr_at_10", "openvino"),
        _score_figure("mrr_at_10", "torch"),
        FigureSpec("parity.top1_agreement", "task_results.parity.top1_agreement",
                   "Share of queries whose best passage is the same under the IR and PyTorch", Fixed(4), "parity",
                   Recheck.CHECKPOINT, QUERY_FLIPS, (BODY,), (IR, CHECKPOINT, DATA), card_label=r"best passage"),
        FigureSpec("parity.ranking_agreement", "task_results.parity.ranking_agreement",
                   "Share of queries whose whole ranking is the same under the IR and PyTorch", Fixed(4), "parity",
                   Recheck.CHECKPOINT, QUERY_FLIPS, (BODY,), (IR, CHECKPOINT, DATA), card_label=r"whole ranking"),
        FigureSpec("parity.max_abs_score_diff", "task_results.parity.max_abs_score_diff",
                   "Largest absolute score difference from PyTorch", Significant(3), "parity", Recheck.CHECKPOINT,
                   ItsOwnValue("a worst case over all pairs: it moves with the CPU's inference precision"),
                   (BODY,), (IR, CHECKPOINT, DATA), card_label=r"score difference"),
        *common.sparsity_figures(),
        *common.ENCODER_PERFORMANCE,
    )

    gates = (
        GateSpec("min_rank_agreement", lambda r: r.task_results.parity.top1_agreement),
        GateSpec("max_ndcg_drop", lambda r: r.task_results.torch.ndcg_at_10 - r.task_results.openvino.ndcg_at_10),
        GateSpec("min_sparsity", lambda r: r.sparsity.openvino.overall if r.sparsity else None),
    )

    @staticmethod
    def labels(cfg: dict[str, Any]) -> int:
        if isinstance(cfg.get("id2label"), dict):
            return len(cfg["id2label"])
        n = cfg.get("num_labels")
        return n if isinstance(n, int) and not isinstance(n, bool) else 2

    def accepts_checkpoint(self, config: dict[str, Any]) -> bool:
        # One output scoring a pair: a cross-encoder (sentence-transformers' CrossEncoder, or a regression head).
        return super().accepts_checkpoint(config) and self.labels(config) == 1

    def check_checkpoint(self, config: dict[str, Any], folder: Path, settings: Any) -> None:
        super().check_checkpoint(config, folder, settings)
        _one_score(config, folder)
        if getattr(settings, "eval", None) is not None:
            load_data(settings)

    def ir_relpath(self, settings: Any) -> str:
        return IR_PATH

    def library_name(self, checkpoint: Path) -> str | None:
        # The release ships the torch weights and the CrossEncoder files beside the IR, as the embeddings do.
        return "sentence-transformers" if (Path(checkpoint) / "modules.json").is_file() else None

    # --- publish -------------------------------------------------------------------------------------

    def export_prepared(self, prepared: Prepared, output: Path, settings: Any, staging_dir: Path) -> Any:
        from publisher.stages.embeddings import export_st_layout
        from publisher.stages.ranking import cross_encoder_files

        # The CrossEncoder layout: the IR under openvino/, the torch weights and CrossEncoder files beside it.
        return export_st_layout(prepared.loaded, prepared.checkpoint, cross_encoder_files(prepared.checkpoint), output,
                                settings.weight_format, staging_dir, optimum_task=self.optimum_task,
                                ov_model_class=self.ov_model_class)

    def evaluation_sample(self, settings: Any) -> tuple[list[str], str]:
        data = load_data(settings)
        return [f"{q} {p}" for q, ps in zip(data.queries, data.passages) for p in ps], f"{data.info.name} pairs"

    def commit_message(self, report: Report) -> str:
        r = _results(report)
        return (f"Release {report.card.model_name.split('/')[-1]}: IR NDCG@10 {r.openvino.ndcg_at_10:.4f} "
                f"(torch {r.torch.ndcg_at_10:.4f}), {report.export.weight_format.upper()} weights")

    # --- the report and the card -----------------------------------------------------------------------

    def eval_dataset(self, report: Report) -> Any:
        return _results(report).dataset

    def data_description(self, report: Report) -> str:
        ds = _results(report).dataset
        return f"{ds.name} {ds.split} ({ds.num_samples} queries, {ds.num_pairs} query-passage pairs)"

    def rows_statement(self, report: Report) -> RowsStatement:
        n = int(_results(report).dataset.num_samples)
        return RowsStatement(n, f"{n} queries", "ranking", "task_results.dataset.num_samples",
                             "the queries re-run from the evaluation data")

    def ledger_method(self, report: Report) -> dict[str, Any]:
        return {"max_length": _results(report).max_length, "relevance": "binary (positive passages)", "at": 10,
                "ties": "file order"}

    def model_index_values(self, report: Report) -> tuple[float, float]:
        r = _results(report)
        return r.openvino.ndcg_at_10, r.torch.ndcg_at_10

    def model_index_metrics(self, report: Report) -> list[tuple[str, str, str, float]]:
        r = _results(report)
        out = []
        for side, label, scores in (("openvino", "", r.openvino), ("torch", " (PyTorch)", r.torch)):
            out += [("ndcg_at_10", f"NDCG@10{label}", side, scores.ndcg_at_10),
                    ("mrr_at_10", f"MRR@10{label}", side, scores.mrr_at_10)]
        return out

    def card_context(self, report: Report, ledger: Any) -> dict[str, Any]:
        from publisher.card.ledger import value
        from publisher.tasks.classification import _performance

        r = _results(report)
        ds, par = r.dataset, r.parity
        return {
            "ranking": {
                "dataset": {"name": ds.name, "split": ds.split, "num_samples": int(ds.num_samples),
                            "num_pairs": int(ds.num_pairs), "sha256": ds.sha256},
                "max_length": r.max_length,
                "torch": {m: value(ledger, f"{m}.torch") for m in ("mrr_at_10", "ndcg_at_10")},
                "openvino": {m: value(ledger, f"{m}.openvino") for m in ("mrr_at_10", "ndcg_at_10")},
                "parity": {"device": par.device, "queries": int(par.queries), "pairs": int(par.pairs),
                           "top1_agreement": value(ledger, "parity.top1_agreement"),
                           "ranking_agreement": value(ledger, "parity.ranking_agreement"),
                           "max_abs_score_diff": value(ledger, "parity.max_abs_score_diff")},
                "ir_path": IR_PATH,
                "cross_encoder": report.card.library_name == "sentence-transformers",
            },
            "performance": _performance(report, ledger),
        }

    # --- the CLI -----------------------------------------------------------------------------------------

    def summary_rows(self, report: Report) -> list[tuple[str, str, str]]:
        r = _results(report)
        ds = r.dataset
        rows = [(f"NDCG@10 ({ds.name}, n={ds.num_samples} queries)", f"{r.torch.ndcg_at_10:.4f}",
                 f"{r.openvino.ndcg_at_10:.4f}"),
                ("MRR@10", f"{r.torch.mrr_at_10:.4f}", f"{r.openvino.mrr_at_10:.4f}")]
        rows += common.sparsity_rows(report)
        rows.append(common.speed_row("pairs", r.pairs_per_second))
        rows.append(("best passage / whole ranking agreement", "",
                     f"{r.parity.top1_agreement:.4f} / {r.parity.ranking_agreement:.4f}"))
        return rows

    def key_figure(self, document: dict[str, Any]) -> str:
        r = document.get("task_results") or {}
        return f"NDCG@10 {r['openvino']['ndcg_at_10']:.4f} (torch {r['torch']['ndcg_at_10']:.4f})"

    # --- publisher verify -----------------------------------------------------------------------------------

    def remeasure_from_ir(self, report: Report, release_dir: Path, options: Any, progress: Progress,
                          out: Any) -> None:
        from publisher.recheck import ledger_checks, remeasure
        from publisher.stages import ranking
        from publisher.stages.ranking import load_ranking, tokenize_pairs

        r = _results(report)
        ds = r.dataset
        if not options.eval_file:
            raise ledger_checks.local_data_refused(ds.source, ds.sha256, "it is needed to re-measure the IR's "
                                                                         "NDCG@10 and MRR@10")
        with progress.stage("Loading the evaluation data"):
            data = load_ranking(options.eval_file, split=ds.split, max_samples=ds.num_samples)
        ledger_checks.check_data_sha(ds.sha256, data.info.sha256, data.info.source, options, out)
        out.eval_input = data
        out.sample = ledger_checks.EvaluationSample(
            [f"{q} {p}" for q, ps in zip(data.queries, data.passages) for p in ps], f"{data.info.name} pairs")
        if options.max_samples:
            out.notes[EVALUATION_ROWS] = "the ranking figures are re-measured over every query (--max-samples is " \
                                         "not applied to a reranker)"
        try:
            batches = tokenize_pairs(remeasure.tokenizer_of(release_dir), data, max_length=r.max_length,
                                     batch_size=options.batch_size)
            run = ir_pass(remeasure.ir_xml(release_dir), batches, data.info.num_pairs, progress)
            scores = ranking.quality(data, run.scores)
        except (ledger_checks.BadInputError, RuntimeError, KeyError, ValueError) as exc:
            return ledger_checks.ir_failed(report, out, exc)
        for metric in ("ndcg_at_10", "mrr_at_10"):
            claim_id = f"{metric}.openvino"
            out.values[claim_id] = ledger_checks.Remeasurement(scores[metric], self.shown(claim_id, scores[metric]))
        rows = data.info.num_samples
        out.values[EVALUATION_ROWS] = ledger_checks.Remeasurement(rows, f"{rows} queries")

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
        torch_run = torch_pass(prepared, progress, timer)
        sparsity, results = measure_against_ir(prepared, torch_run, ir_xml(release_dir), progress, timer)
        return {"ndcg_at_10.torch": results.torch.ndcg_at_10, "mrr_at_10.torch": results.torch.mrr_at_10,
                "sparsity.torch": sparsity.torch.overall,
                "parity.top1_agreement": results.parity.top1_agreement,
                "parity.ranking_agreement": results.parity.ranking_agreement,
                "parity.max_abs_score_diff": results.parity.max_abs_score_diff}
