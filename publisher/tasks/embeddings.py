"""feature-extraction (sentence embeddings): load once, embed every distinct sentence of the evaluation
pairs with torch, export, embed them again with the IR; compare the vectors (cosine, max |diff|, 10
nearest neighbours) and score both on the pairs (Spearman and Pearson of cosine similarity against
the gold scores, as sentence-transformers' EmbeddingSimilarityEvaluator does); sparsity. Its claims,
card variables, summary rows and re-checks.

The release holds the layout sentence-transformers loads (publisher.stages.embeddings): the IR under
``openvino/``, the model's own files at the root. The default evaluation data is the bundled STS
Benchmark test split (publisher.stages.sts_data), named in model-index as mteb names it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from publisher.errors import BadInputError
from publisher.progress import Progress
from publisher.results import Measurements, PerformanceResult, Recheck, Report
from publisher.stages.embeddings import EmbeddingRecipe
from publisher.stages.load import CheckpointKind
from publisher.stages.sts_data import LAYOUT, PairDatasetInfo
from publisher.tasks import common
from publisher.tasks.contract import (
    BODY,
    BOTH,
    CHECKPOINT,
    DATA,
    EVALUATION_ROWS,
    IR,
    MODEL_INDEX,
    Absolute,
    AsIs,
    Exact,
    FigureSpec,
    Fixed,
    GateSpec,
    ItsOwnValue,
    RowsStatement,
    Significant,
)
from publisher.tasks.encoder import EncoderStages, EncoderTask
from publisher.tasks.run import StageTimer

AUTO_CLASS = "AutoModel"
IR_DIR = "openvino"
ST_TAG, BARE_TAG = "sentence-similarity", "feature-extraction"


# --- the task's own section of the report (Report.task_results) ------------------------------------------


@dataclass(frozen=True)
class SimilarityScores:
    """Correlation of pair cosine similarities with the gold scores (fractions, -1..1)."""

    spearman: float
    pearson: float


@dataclass(frozen=True)
class EmbeddingParity:
    """The IR's sentence vectors against torch's, on every distinct sentence of the pairs."""

    compiled: bool
    device: str
    sentences: int
    mean_cosine: float
    min_cosine: float
    p1_cosine: float  # 1st percentile
    max_abs_diff: float
    neighbours: int  # k of the nearest-neighbour comparison
    neighbour_overlap: float  # mean share of a sentence's k torch neighbours among its k IR neighbours


@dataclass(frozen=True)
class EmbeddingResults:
    dataset: PairDatasetInfo
    recipe: EmbeddingRecipe
    torch: SimilarityScores
    openvino: SimilarityScores
    parity: EmbeddingParity
    # Each sentence's nearest neighbours under torch (indices into the pairs' distinct sentences, in order
    # of first appearance): `publisher verify` compares the IR's neighbours with them without torch.
    torch_neighbours: list[list[int]] = field(default_factory=list)
    sentences_per_second: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def _results(report: Report) -> EmbeddingResults:
    return report.task_results


# Spearman and Pearson on model-index are on MTEB's scale (0-100, as mteb writes its cards).
def _scaled(side: str, metric: str) -> Any:
    return lambda r: 100.0 * getattr(getattr(_results(r), side), metric)


# Re-running the same IR on another CPU (bf16 there, f32 here) moves cosine similarities by about 1e-3
# and so reorders near-tied pairs: a rank correlation over a thousand pairs moves by far less than this.
SCORE_TOLERANCE = Absolute("0.2 points: a re-run of the same IR on another CPU moves each pair's cosine "
                           "similarity by float noise (about 1e-3 in bf16), which reorders only near-tied pairs",
                           limit=0.2)
OVERLAP_TOLERANCE = Absolute("0.02: float noise of another CPU swaps neighbours that are nearly tied", limit=0.02)


def _score_figure(metric: str, side: str) -> FigureSpec:
    model = "OpenVINO IR" if side == "openvino" else "PyTorch"
    word = {"spearman": "Spearman", "pearson": "Pearson"}[metric]
    return FigureSpec(f"cosine_{metric}.{side}", f"task_results.{side}.{metric}",
                      f"{model} {word} correlation of cosine similarity with the gold scores (x100)", Fixed(2),
                      "similarity", Recheck.IR if side == "openvino" else Recheck.CHECKPOINT, SCORE_TOLERANCE,
                      BOTH, card_label=rf"\b{metric}\b", not_label=r"main score", side=side,
                      read=_scaled(side, metric))


def _main_score(side: str) -> FigureSpec:
    model = "OpenVINO IR" if side == "openvino" else "PyTorch"
    return FigureSpec(f"main_score.{side}", f"task_results.{side}.spearman",
                      f"{model} main score (MTEB STS: Spearman correlation of cosine similarity, x100)", Fixed(2),
                      "similarity", Recheck.IR if side == "openvino" else Recheck.CHECKPOINT, SCORE_TOLERANCE,
                      (MODEL_INDEX,), side=side, read=_scaled(side, "spearman"))


def _base_model_class(cfg: dict[str, Any], folder: Path) -> str:
    """A bare encoder: the transformers base-model class of the folder (``BertModel``, ``MPNetModel``)."""
    archs = cfg.get("architectures") or []
    arch = archs[0] if archs else None
    if not FeatureExtraction.is_encoder(arch):
        raise BadInputError(
            f"The checkpoint in {folder} is a {arch or 'model without an architecture'} (model_type "
            f"{cfg.get('model_type')!r}), not a bare encoder (a transformers *Model such as BertModel)",
            "Pass a sentence-transformers folder or an AutoModel checkpoint, or the task that fits the model")
    return arch


CHECKPOINT_KIND = CheckpointKind(AUTO_CLASS, _base_model_class, requires_tokenizer=True, class_labels=False)


# --- measuring ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    loaded: Any
    recipe: EmbeddingRecipe
    data: Any  # publisher.stages.sts_data.PairData
    batches: Any
    pool: Any
    checkpoint: Path


def _recipe_of(checkpoint: Path, settings: Any, dimension: int) -> Any:
    from publisher.stages.embeddings import read_recipe

    emb = getattr(settings, "embedding", None)
    return read_recipe(checkpoint, pooling=getattr(emb, "pooling", None), normalize=getattr(emb, "normalize", None),
                       max_length=settings.eval.max_length, dimension=dimension)


def _hidden_size(cfg: dict[str, Any], folder: Path) -> int:
    size = cfg.get("hidden_size") or cfg.get("dim") or cfg.get("d_model")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise BadInputError(f"{folder}/config.json names no hidden size (hidden_size) for the embeddings",
                            "Re-save the model with save_pretrained")
    return size


def load_data(settings: Any, split: str | None = None) -> Any:
    from publisher.stages.sts_data import load_pairs

    spec = settings.eval
    if spec.dataset and not spec.eval_file:
        raise BadInputError(f"An embedding release reads its sentence pairs from a local file, not a Hub dataset "
                            f"(--dataset {spec.dataset})",
                            f"Leave --dataset out for the bundled STS Benchmark test split, or pass --eval-file: {LAYOUT}")
    return load_pairs(spec.eval_file, split=split or spec.split or FeatureExtraction.default_split,
                      max_samples=spec.max_samples)


def prepare(checkpoint: Path, settings: Any, progress: Progress, timer: StageTimer, data: Any = None) -> Prepared:
    from publisher.stages.embeddings import pooler, tokenize_sentences
    from publisher.stages.load import load_checkpoint

    with progress.stage(f"Loading {checkpoint}"), timer.timed("load"):
        loaded = load_checkpoint(checkpoint, trust_pickle=settings.trust_pickle, auto_class=CHECKPOINT_KIND)
    with timer.timed("data"):
        recipe = _recipe_of(checkpoint, settings, int(loaded.config.hidden_size))
        data = data if data is not None else load_data(settings)
        batches = tokenize_sentences(loaded.tokenizer, data.sentences, recipe, settings.batch_size)
        pool = pooler(recipe, checkpoint)
    return Prepared(loaded, recipe, data, batches, pool, Path(checkpoint))


def torch_pass(p: Prepared, progress: Progress, timer: StageTimer) -> Any:
    from publisher.stages.embeddings import run_torch
    from publisher.stages.parity import check_finite

    with progress.bar("torch    ", p.data.info.num_sentences) as advance:
        run = run_torch(p.loaded.model, p.batches, p.pool, advance)
    timer.record("eval_torch", run.seconds)
    check_finite("torch model", run.vectors)
    return run


def ir_pass(xml: Path, batches: Any, pool: Any, sentences: int, progress: Progress,
            timer: StageTimer | None = None) -> Any:
    from publisher.stages.embeddings import run_ir
    from publisher.stages.inference import compile_ir

    compiled = compile_ir(xml)
    with progress.bar("OpenVINO ", sentences) as advance:
        run = run_ir(compiled, batches, pool, advance)
    if timer is not None:
        timer.record("eval_openvino", run.seconds)
    return run


def measure_against_ir(p: Prepared, torch_run: Any, ir_xml: Path, progress: Progress,
                       timer: StageTimer) -> tuple[Any, EmbeddingResults]:
    from publisher.stages import embeddings as emb
    from publisher.stages.inference import read_ir
    from publisher.stages.parity import check_finite
    from publisher.stages.sparsity import measure_sparsity

    ir_run = ir_pass(ir_xml, p.batches, p.pool, p.data.info.num_sentences, progress, timer)
    check_finite("OpenVINO IR", ir_run.vectors)
    with timer.timed("similarity"):
        par = emb.parity(torch_run.vectors, ir_run.vectors)
        torch_nn = emb.nearest_neighbours(torch_run.vectors)
        ir_nn = emb.nearest_neighbours(ir_run.vectors)
        torch_scores = emb.similarity_scores(torch_run.vectors, p.data.pairs, p.data.scores)
        ir_scores = emb.similarity_scores(ir_run.vectors, p.data.pairs, p.data.scores)
    with timer.timed("sparsity"):
        sparsity = measure_sparsity(p.loaded.model, read_ir(ir_xml))
    results = EmbeddingResults(
        dataset=p.data.info, recipe=p.recipe,
        torch=SimilarityScores(**torch_scores), openvino=SimilarityScores(**ir_scores),
        parity=EmbeddingParity(compiled=True, device=ir_run.device, sentences=par["sentences"],
                               mean_cosine=par["mean_cosine"], min_cosine=par["min_cosine"],
                               p1_cosine=par["p1_cosine"], max_abs_diff=par["max_abs_diff"],
                               neighbours=len(torch_nn[0]) if torch_nn else 0,
                               neighbour_overlap=emb.neighbour_overlap(torch_nn, ir_nn)),
        torch_neighbours=torch_nn,
        sentences_per_second={"torch": round(torch_run.sentences_per_second, 3),
                              "openvino": round(ir_run.sentences_per_second, 3)},
        seconds={"torch": round(torch_run.seconds, 3), "openvino": round(ir_run.seconds, 3)},
    )
    return sparsity, results


def ir_path(static: bool) -> str:
    from publisher.stages.embeddings import ir_name

    return f"{IR_DIR}/{ir_name(static)}"


def _calibration(p: Prepared, settings: Any) -> tuple[Any, str] | None:
    """Static INT8's calibration sentences: the first ones of the evaluation pairs, tokenized as measured."""
    from publisher.stages.embeddings import calibration_batches

    if not settings.compression.static_int8:
        return None
    return calibration_batches(p.loaded.tokenizer, p.data.sentences, p.recipe), \
        f"{p.data.info.name} {p.data.info.split}"


class FeatureExtraction(EncoderTask):
    name = "feature-extraction"
    title = "sentence-embedding model"
    architecture_suffixes = ("Model",)
    auto_class = AUTO_CLASS
    optimum_task = "feature-extraction"
    ov_model_class = "OVModelForFeatureExtraction"
    template = "openvino-feature-extraction.md.j2"
    evaluation = f"sentence pairs with a gold similarity score ({LAYOUT})"
    default_split = "test"  # STS Benchmark's test split is the one MTEB and sentence-transformers report
    weight_formats = ("int8", "fp16", "fp32")
    weight_format_refusals = {
        "int4": "INT4 weight compression is a large-language-model technique; on a small encoder it costs "
                "embedding quality for a size that INT8 already makes small",
    }
    metric = "cosine_spearman"
    offers_static_int8 = True
    adds_to_repos = True  # the IR goes to openvino/, beside the repo's own files (sentence-transformers' layout)
    stages = EncoderStages(prepare, torch_pass, measure_against_ir)
    performance_result = PerformanceResult
    results_type = EmbeddingResults
    evaluation_stage = "similarity"
    card_variables = ("embeddings", "performance")
    card_variable_docs = {
        "embeddings": ("Sentence embeddings only (None otherwise): dataset (name, type, split, format, num_samples "
                       "(pairs), num_sentences, sha256, bundled, mteb), recipe (sentence_transformers, pooling, "
                       "normalize, max_seq_length, do_lower_case, dimension, source), torch and openvino "
                       "(spearman, pearson: x100, as the ledger states them), parity (device, sentences, "
                       "mean_cosine, min_cosine, p1_cosine, max_abs_diff, neighbours, neighbour_overlap), "
                       "ir_path (the IR's .xml in the repo), library_name."),
    }
    rows_phrase = r"(?P<rows>\d[\d,]*) sentence pairs\b"

    figures = (
        _score_figure("spearman", "openvino"),
        _score_figure("spearman", "torch"),
        _score_figure("pearson", "openvino"),
        _score_figure("pearson", "torch"),
        _main_score("openvino"),
        _main_score("torch"),
        FigureSpec("parity.mean_cosine", "task_results.parity.mean_cosine",
                   "Mean cosine similarity of the IR's sentence embeddings with PyTorch's", Fixed(5), "parity",
                   Recheck.CHECKPOINT, Absolute("1e-4: float noise of another CPU", limit=1e-4), (BODY,),
                   (IR, CHECKPOINT, DATA), card_label=r"mean cosine"),
        FigureSpec("parity.p1_cosine", "task_results.parity.p1_cosine",
                   "1st percentile of the per-sentence cosine similarity with PyTorch", Fixed(5), "parity",
                   Recheck.CHECKPOINT, Absolute("1e-3: the tail moves with the CPU's inference precision", limit=1e-3),
                   (BODY,), (IR, CHECKPOINT, DATA), card_label=r"percentile"),
        FigureSpec("parity.min_cosine", "task_results.parity.min_cosine",
                   "Lowest per-sentence cosine similarity with PyTorch", Fixed(5), "parity", Recheck.CHECKPOINT,
                   ItsOwnValue("a worst case over all sentences: it moves with the CPU's inference precision"),
                   (BODY,), (IR, CHECKPOINT, DATA), card_label=r"lowest.*cosine|minimum.*cosine"),
        FigureSpec("parity.max_abs_diff", "task_results.parity.max_abs_diff",
                   "Largest absolute difference of an embedding component from PyTorch", Significant(3), "parity",
                   Recheck.CHECKPOINT,
                   ItsOwnValue("a worst case over all components: it moves with the CPU's inference precision"),
                   (BODY,), (IR, CHECKPOINT, DATA), card_label=r"absolute difference"),
        FigureSpec("quantization.activations", "export.static_quantization.fake_quantize_ops",
                   "FakeQuantize operations NNCF inserted to quantize activations to INT8 (static INT8)", AsIs(),
                   "export", Recheck.IR, Exact("exact: a count of the IR's FakeQuantize operations"), (BODY,), (IR,),
                   card_label=r"fakequantize", when=lambda r: r.export.static_quantization is not None,
                   read=lambda r: (r.export.static_quantization or {}).get("fake_quantize_ops")),
        FigureSpec("neighbours.overlap", "task_results.parity.neighbour_overlap",
                   "Mean overlap of each sentence's 10 nearest neighbours under the IR and under PyTorch", Fixed(4),
                   "similarity", Recheck.IR, OVERLAP_TOLERANCE, (BODY,), card_label=r"nearest neighbours"),
        *common.sparsity_figures(),
        *common.ENCODER_PERFORMANCE,
    )

    gates = (
        GateSpec("min_cosine", lambda r: r.task_results.parity.mean_cosine),
        GateSpec("min_p1_cosine", lambda r: r.task_results.parity.p1_cosine),
        GateSpec("max_spearman_drop", lambda r: r.task_results.torch.spearman - r.task_results.openvino.spearman),
        GateSpec("min_sparsity", lambda r: r.sparsity.openvino.overall if r.sparsity else None),
    )

    # --- which checkpoints -----------------------------------------------------------------------------

    @staticmethod
    def is_encoder(architecture: str | None) -> bool:
        """A transformers base model (what AutoModel builds): BertModel, MPNetModel, XLMRobertaModel..."""
        if not isinstance(architecture, str) or not architecture.endswith("Model"):
            return False
        from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

        names = set()
        for value in MODEL_MAPPING_NAMES.values():
            names.update(value if isinstance(value, (list, tuple)) else (value,))
        return architecture in names

    def accepts(self, architecture: str | None) -> bool:
        return self.is_encoder(architecture)

    def check_checkpoint(self, config: dict[str, Any], folder: Path, settings: Any) -> None:
        """Also refused before any work: a sentence-transformers folder whose modules publisher cannot
        apply, --pooling/--normalize given for a folder that defines its own, bad pair data."""
        super().check_checkpoint(config, folder, settings)
        if settings.compression.static_int8 and settings.weight_format != "int8":
            raise BadInputError(f"--static-int8 quantizes weights and activations to INT8; it cannot be combined "
                                f"with --weight-format {settings.weight_format}",
                                "Leave --weight-format out (int8) with --static-int8, or leave --static-int8 out")
        if getattr(settings, "eval", None) is not None:
            _recipe_of(folder, settings, _hidden_size(config, folder))
            load_data(settings)

    # --- the release's layout and metadata --------------------------------------------------------------

    def ir_relpath(self, settings: Any) -> str:
        return ir_path(bool(settings.compression.static_int8))

    def pipeline_tag(self, checkpoint: Path) -> str:
        from publisher.stages.embeddings import MODULES

        return ST_TAG if (Path(checkpoint) / MODULES).is_file() else BARE_TAG

    def library_name(self, checkpoint: Path) -> str | None:
        # The release ships the torch weights and the sentence-transformers files beside the IR: the
        # Hub's sentence-transformers snippet loads it as pushed, and backend="openvino" runs the IR. A bare
        # encoder's release is publisher's default, an openvino one.
        from publisher.stages.embeddings import MODULES

        return "sentence-transformers" if (Path(checkpoint) / MODULES).is_file() else None

    # --- publish -------------------------------------------------------------------------------------

    def export_what(self, settings: Any) -> str:
        return "static INT8: weights and activations" if settings.compression.static_int8 else \
            f"{settings.weight_format} weights"

    def export_prepared(self, prepared: Prepared, output: Path, settings: Any, staging_dir: Path) -> Any:
        from publisher.stages.embeddings import export_embedding

        # The sentence-transformers layout (its pooling recipe from prepare), calibrated for static INT8.
        return export_embedding(prepared.loaded, prepared.checkpoint, prepared.recipe, output, settings.weight_format,
                                staging_dir, calibration=_calibration(prepared, settings))

    def stage_result(self, stage: str, m: Measurements) -> tuple[Any, bool]:
        results = self.retyped(m).task_results
        if stage == "parity":
            return results.parity, True
        return dataclasses.replace(results, torch_neighbours=[]), True

    def evaluation_sample(self, settings: Any) -> tuple[list[str], str]:
        data = load_data(settings)
        return data.sentences, f"{data.info.name} {data.info.split} sentences"

    def commit_message(self, report: Report) -> str:
        r = _results(report)
        return (f"Release {report.card.model_name.split('/')[-1]}: IR STS Spearman {100 * r.openvino.spearman:.2f} "
                f"(torch {100 * r.torch.spearman:.2f}), cosine to torch {r.parity.mean_cosine:.4f}, "
                + ("static INT8" if report.export.static_quantization else
                   f"{report.export.weight_format.upper()} weights"))

    # --- the report and the card -----------------------------------------------------------------------

    def eval_dataset(self, report: Report) -> Any:
        return _results(report).dataset

    def data_description(self, report: Report) -> str:
        ds = _results(report).dataset
        return f"{ds.name} {ds.split} ({ds.num_samples} sentence pairs, {ds.num_sentences} distinct sentences)"

    def rows_statement(self, report: Report) -> RowsStatement:
        n = int(_results(report).dataset.num_samples)
        return RowsStatement(n, f"{n} sentence pairs", "similarity", "task_results.dataset.num_samples",
                             "the sentence pairs re-run from the evaluation data")

    def ledger_method(self, report: Report) -> dict[str, Any]:
        r = _results(report).recipe
        return {"pooling": r.pooling, "normalize": r.normalize, "max_seq_length": r.max_seq_length,
                "do_lower_case": r.do_lower_case, "similarity": "cosine",
                "correlation": "scipy.stats spearmanr/pearsonr (sentence-transformers EmbeddingSimilarityEvaluator)",
                "neighbours": _results(report).parity.neighbours}

    def model_index_values(self, report: Report) -> tuple[float, float]:
        r = _results(report)
        return 100.0 * r.openvino.spearman, 100.0 * r.torch.spearman

    def model_index_metrics(self, report: Report) -> list[tuple[str, str, str, float]]:
        # MTEB's convention: task STS; cosine_spearman, cosine_pearson and main_score, on a 0-100 scale.
        r = _results(report)
        out = []
        for side, label, scores in (("openvino", "", r.openvino), ("torch", " (PyTorch)", r.torch)):
            out += [("cosine_spearman", f"Cosine Spearman{label}", side, 100.0 * scores.spearman),
                    ("cosine_pearson", f"Cosine Pearson{label}", side, 100.0 * scores.pearson),
                    ("main_score", f"Main score{label}", side, 100.0 * scores.spearman)]
        return out

    def model_index_task(self, report: Report) -> tuple[str, str] | None:
        return ("STS", "STS")

    def card_context(self, report: Report, ledger: Any) -> dict[str, Any]:
        from publisher.card.ledger import value
        from publisher.tasks.classification import _performance

        r = _results(report)
        ds, par, rec = r.dataset, r.parity, r.recipe
        return {
            "embeddings": {
                "dataset": {"name": ds.name, "type": ds.type, "split": ds.split, "format": ds.format,
                            "num_samples": int(ds.num_samples), "num_sentences": int(ds.num_sentences),
                            "sha256": ds.sha256, "bundled": bool(ds.bundled),
                            "mteb": ds.type == "mteb/stsbenchmark-sts"},
                "recipe": {"sentence_transformers": bool(rec.sentence_transformers), "pooling": rec.pooling,
                           "normalize": bool(rec.normalize), "max_seq_length": int(rec.max_seq_length),
                           "do_lower_case": bool(rec.do_lower_case), "dimension": int(rec.dimension),
                           "source": rec.source},
                "torch": {m: value(ledger, f"cosine_{m}.torch") for m in ("spearman", "pearson")},
                "openvino": {m: value(ledger, f"cosine_{m}.openvino") for m in ("spearman", "pearson")},
                "parity": {"device": par.device, "sentences": int(par.sentences),
                           "mean_cosine": value(ledger, "parity.mean_cosine"),
                           "min_cosine": value(ledger, "parity.min_cosine"),
                           "p1_cosine": value(ledger, "parity.p1_cosine"),
                           "max_abs_diff": value(ledger, "parity.max_abs_diff"),
                           "neighbours": int(par.neighbours),
                           "neighbour_overlap": value(ledger, "neighbours.overlap")},
                "ir_path": ir_path(report.export.static_quantization is not None),
                "static": report.export.static_quantization,
                "library_name": report.card.library_name,
            },
            "performance": _performance(report, ledger),
        }

    # --- the CLI -----------------------------------------------------------------------------------------

    def summary_rows(self, report: Report) -> list[tuple[str, str, str]]:
        r = _results(report)
        ds = r.dataset
        rows = [
            (f"STS Spearman x100 ({ds.name} {ds.split}, n={ds.num_samples} pairs)", f"{100 * r.torch.spearman:.2f}",
             f"{100 * r.openvino.spearman:.2f}"),
            ("STS Pearson x100", f"{100 * r.torch.pearson:.2f}", f"{100 * r.openvino.pearson:.2f}"),
        ]
        rows += common.sparsity_rows(report)
        rows.append(common.speed_row("sentences", r.sentences_per_second))
        rows.append(("cosine to torch: mean / 1st pct / min", "",
                     f"{r.parity.mean_cosine:.5f} / {r.parity.p1_cosine:.5f} / {r.parity.min_cosine:.5f}"))
        rows.append((f"{r.parity.neighbours}-NN overlap with torch", "", f"{r.parity.neighbour_overlap:.4f}"))
        return rows

    def key_figure(self, document: dict[str, Any]) -> str:
        r = document.get("task_results") or {}
        return (f"STS Spearman {100 * r['openvino']['spearman']:.2f} (torch {100 * r['torch']['spearman']:.2f}), "
                f"cosine {r['parity']['mean_cosine']:.4f}")

    # --- publisher verify -----------------------------------------------------------------------------------

    def remeasure_from_ir(self, report: Report, release_dir: Path, options: Any, progress: Progress,
                          out: Any) -> None:
        from publisher.recheck import ledger_checks, remeasure
        from publisher.stages import embeddings as emb
        from publisher.stages.sts_data import load_pairs

        r = _results(report)
        ds = r.dataset
        if not ds.bundled and not options.eval_file:
            # Verify never opens a path the repo's report names: the reader passes the file.
            raise ledger_checks.local_data_refused(ds.source, ds.sha256, "it is needed to re-measure the IR's "
                                                                         "similarity figures")
        with progress.stage("Loading the evaluation data"):
            # None: the bundled split (a local file's release was refused above without --eval-file).
            data = load_pairs(options.eval_file, split=ds.split, max_samples=ds.num_samples)
        ledger_checks.check_data_sha(ds.sha256, data.info.sha256, data.info.source, options, out)
        out.eval_input = data
        out.sample = ledger_checks.EvaluationSample(data.sentences, f"{data.info.name} {data.info.split}")
        if options.max_samples:
            out.notes[EVALUATION_ROWS] = "the similarity figures are re-measured over every pair (--max-samples " \
                                         "is not applied to an embedding model)"
        recipe = r.recipe
        try:
            batches = emb.tokenize_sentences(remeasure.tokenizer_of(release_dir), data.sentences, recipe,
                                             options.batch_size)
            pool = emb.pooler(recipe, release_dir if recipe.pooling_path and
                              (release_dir / recipe.pooling_path / "config.json").is_file() else None)
            run = ir_pass(remeasure.ir_xml(release_dir), batches, pool, data.info.num_sentences, progress)
            scores = emb.similarity_scores(run.vectors, data.pairs, data.scores)
            overlap = None
            if r.torch_neighbours and len(r.torch_neighbours) == len(data.sentences):
                overlap = emb.neighbour_overlap(r.torch_neighbours, emb.nearest_neighbours(run.vectors,
                                                                                           r.parity.neighbours))
        except (ledger_checks.BadInputError, RuntimeError, KeyError, ValueError) as exc:
            return ledger_checks.ir_failed(report, out, exc)
        for metric in ("spearman", "pearson"):
            for claim_id in (f"cosine_{metric}.openvino",) + (("main_score.openvino",) if metric == "spearman" else ()):
                value = 100.0 * scores[metric]
                out.values[claim_id] = ledger_checks.Remeasurement(value, self.shown(claim_id, value))
        if overlap is not None:
            out.values["neighbours.overlap"] = ledger_checks.Remeasurement(overlap,
                                                                           self.shown("neighbours.overlap", overlap))
        rows = data.info.num_samples
        out.values[EVALUATION_ROWS] = ledger_checks.Remeasurement(rows, f"{rows} sentence pairs")
        if report.export.static_quantization is not None:
            from publisher.stages.export import quantizer_ops

            ops = sum(quantizer_ops(remeasure.ir_xml(release_dir)).values())
            out.values["quantization.activations"] = ledger_checks.Remeasurement(ops, str(ops))

    def remeasure_with_checkpoint(self, report: Report, release_dir: Path, checkpoint: Path, eval_input: Any,
                                  options: Any, progress: Progress) -> dict[str, Any]:
        from publisher.recheck.remeasure import ir_xml
        from publisher.settings import EmbeddingOptions, PublishSettings
        from publisher.stages.data import EvalDataSpec

        r = _results(report)
        rec = r.recipe
        given = {} if rec.sentence_transformers else {"pooling": rec.pooling, "normalize": rec.normalize}
        settings = PublishSettings(checkpoint=checkpoint, repo_id=None,
                                   eval=EvalDataSpec(split=r.dataset.split, max_length=rec.max_seq_length),
                                   embedding=EmbeddingOptions(**given),
                                   batch_size=options.batch_size, trust_pickle=options.trust_pickle)
        timer = StageTimer()
        prepared = prepare(checkpoint, settings, progress, timer, data=eval_input)
        torch_run = torch_pass(prepared, progress, timer)
        sparsity, results = measure_against_ir(prepared, torch_run, ir_xml(release_dir), progress, timer)
        return {"cosine_spearman.torch": 100.0 * results.torch.spearman,
                "cosine_pearson.torch": 100.0 * results.torch.pearson,
                "main_score.torch": 100.0 * results.torch.spearman,
                "sparsity.torch": sparsity.torch.overall,
                "parity.mean_cosine": results.parity.mean_cosine, "parity.p1_cosine": results.parity.p1_cosine,
                "parity.min_cosine": results.parity.min_cosine, "parity.max_abs_diff": results.parity.max_abs_diff}
