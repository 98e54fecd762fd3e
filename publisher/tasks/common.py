"""Claims and rules that several tasks declare alike: sparsity, encoder performance, sample flips.

A task lists these in its own table (``Task.figures``) where it wants them; nothing here is used
unless a task names it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from publisher.results import Recheck
from publisher.tasks.contract import (
    CHECKPOINT,
    IR,
    SPARSITY_OPENVINO,
    SPARSITY_TORCH,
    Exact,
    FigureSpec,
    Fixed,
    OfCount,
    Unbounded,
    read_field,
)

if TYPE_CHECKING:
    from publisher.results import Report
    from publisher.tasks.contract import Task

# Two samples of the evaluation set: a prediction at a decision boundary may flip between CPUs and
# inference precisions (bf16 on CPUs with AVX512-BF16, f32 elsewhere), not more.
FLIP_SAMPLES = 2

# The IR adds a little sparsity of its own (INT8 rounding of small weights), so a dense model reads
# about 1% sparse there; the checkpoint's figure is the one that says whether it was pruned.
SPARSE_THRESHOLD = 0.10


def is_sparse(report: "Report") -> bool:
    return report.sparsity is not None and float(report.sparsity.torch.overall) >= SPARSE_THRESHOLD


def _flip_reason(flips: int, n: int) -> str:
    return (f"{flips} of {n} samples: a prediction at a decision boundary may flip between CPUs and "
            "inference precisions")


def sample_flips(count: Callable[["Report"], int]) -> OfCount:
    """A figure over ``count`` samples may move by ``FLIP_SAMPLES`` of them."""
    return OfCount(flips=FLIP_SAMPLES, count=count, reason_of=_flip_reason)


def _scoped(side: str) -> Callable[["Report"], str]:
    return lambda report: f"Sparsity in {report.sparsity.scope}, {side}"


def sparsity_figures(when: Callable[["Report"], bool] | None = None) -> tuple[FigureSpec, ...]:
    """The card's two sparsity figures (the scope named in the label), shown when ``when``."""
    def shown(report: "Report") -> bool:
        return report.sparsity is not None and (when is None or when(report))

    return (
        FigureSpec(SPARSITY_OPENVINO, "sparsity.openvino.overall", _scoped("OpenVINO IR"), Fixed(2),
                   "sparsity", Recheck.IR, Exact("exact: a count of the IR's zero weights"), inputs=(IR,),
                   card_label=r"sparsity", not_label=r"throughput", side="openvino", when=shown),
        FigureSpec(SPARSITY_TORCH, "sparsity.torch.overall", _scoped("PyTorch"), Fixed(2),
                   "sparsity", Recheck.CHECKPOINT, Exact("exact: a count of the checkpoint's zero weights"),
                   inputs=(CHECKPOINT,), card_label=r"sparsity", not_label=r"throughput", side="torch",
                   when=shown),
    )


class Timing(Unbounded):
    """A figure measured on one machine: nobody else can re-measure it."""

    def why(self, report: "Report") -> str:
        return f"a timing on {report.performance.cpu}: another machine measures another figure"


def _has_performance(report: "Report") -> bool:
    return report.performance is not None


def _sparse_throughput(report: "Report") -> bool:
    return report.performance is not None and bool(report.performance.sparse_decompression.get("supported"))


def timing_figure(claim_id: str, path: str, label: str, digits: int, card_label: str, not_label: str = "",
                  when: Callable[["Report"], bool] = _has_performance) -> FigureSpec:
    """A --bench figure at ``path`` of the report; its ledger field is its id."""
    return FigureSpec(claim_id, claim_id, label, Fixed(digits), "bench", Recheck.MACHINE, Timing(), inputs=(IR,),
                      card_label=card_label, not_label=not_label, when=when,
                      read=lambda report: read_field(report, path))


# `publish --bench` of an encoder (publisher.bench.benchmark_ir): latency and throughput.
ENCODER_PERFORMANCE = (
    timing_figure("performance.latency_ms", "performance.latency_ms.median", "Latency, batch 1 (ms)", 2,
                  r"latency"),
    timing_figure("performance.throughput", "performance.throughput.samples_per_second", "Throughput (samples/s)",
                  1, r"throughput", not_label=r"sparse"),
    timing_figure("performance.sparse_throughput", "performance.sparse_decompression.samples_per_second",
                  "Throughput with sparse-weight decompression", 1, r"throughput.*sparse|sparse.*throughput",
                  when=_sparse_throughput),
)

def sparsity_rows(report: "Report") -> list[tuple[str, str, str]]:
    """The CLI summary's sparsity row (torch, IR), when sparsity was measured."""
    s = report.sparsity
    return [] if s is None else [(f"sparsity ({s.scope})", f"{s.torch.overall:.4f}", f"{s.openvino.overall:.4f}")]


def speed_row(unit: str, per_second: dict[str, float]) -> tuple[str, str, str]:
    """The CLI summary's row of items per second of the evaluation passes (torch, IR)."""
    return (f"{unit}/s", f"{per_second.get('torch', 0.0):.1f}", f"{per_second.get('openvino', 0.0):.1f}")


def export_encoder(task: "Task", loaded: Any, output: Path, weight_format: str, staging_dir: Path) -> Any:
    """The IR of an encoder task's loaded checkpoint: optimum-intel's export for the task's
    ``optimum_task``, compressed through its ``ov_model_class`` (publisher.stages.export)."""
    from publisher.stages.export import export_ir

    return export_ir(loaded.model, loaded.tokenizer, output, weight_format=weight_format, staging_dir=staging_dir,
                     optimum_task=task.optimum_task, ov_model_class=task.ov_model_class)


__all__ = ["export_encoder", "sparsity_rows", "speed_row", "ENCODER_PERFORMANCE", "FLIP_SAMPLES", "SPARSE_THRESHOLD", "is_sparse", "sample_flips",
           "sparsity_figures", "timing_figure"]
