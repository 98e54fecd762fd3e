"""Single stages, for the stage subcommands (``publisher inspect/export/parity/sparsity/accuracy``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from publisher.pipeline.checks import _prepare_output
from publisher.progress import Progress
from publisher.results import CheckpointInfo, ExportResult
from publisher.settings import PublishSettings
from publisher.tasks import infer_task
from publisher.tasks.run import CACHE_DIR, StageTimer


def inspect_checkpoint(checkpoint: Path, *, trust_pickle: bool = False) -> CheckpointInfo:
    from publisher.stages.load import load_checkpoint

    return load_checkpoint(checkpoint, trust_pickle=trust_pickle).info


def export_checkpoint(settings: PublishSettings, output: Path) -> ExportResult:
    """Export only, as the task exports for a release (``publisher export``)."""
    from publisher.stages.exportability import check_exportable
    from publisher.stages.load import read_config

    ckpt = Path(settings.checkpoint)
    task = infer_task(read_config(ckpt), ckpt, settings.task)
    check_exportable(read_config(ckpt), task.optimum_task, ckpt)
    _prepare_output(output)
    return task.module().export_only(settings, output, output / CACHE_DIR / "staging")


def measure_ir(checkpoint: Path, ir_dir: Path, settings: PublishSettings,
               progress: Progress | None = None) -> tuple[Any, Any, Any]:
    """Verification, sparsity and accuracy of an existing IR against its checkpoint (one pass each)."""
    from publisher.stages.export import IR_XML
    from publisher.tasks import classification

    progress = progress or Progress(quiet=True)
    timer = StageTimer()
    prepared = classification.prepare(Path(checkpoint), settings, progress, timer)
    torch_logits = classification.torch_pass(prepared, progress, timer)
    return classification.measure_against_ir(prepared, torch_logits, Path(ir_dir) / IR_XML,
                                             settings.gates, progress, timer)


def measure_ir_sparsity(checkpoint: Path, ir_dir: Path, *, trust_pickle: bool = False) -> Any:
    """Sparsity only: needs the weights of both models, no evaluation pass."""
    from publisher.stages.export import IR_XML
    from publisher.stages.inference import compile_ir, read_ir
    from publisher.stages.load import load_checkpoint
    from publisher.stages.sparsity import measure_sparsity

    loaded = load_checkpoint(checkpoint, trust_pickle=trust_pickle)
    compile_ir(Path(ir_dir) / IR_XML)  # refuses an .xml without (or with the wrong) .bin
    return measure_sparsity(loaded.model, read_ir(Path(ir_dir) / IR_XML))
