"""Single stages, for the stage subcommands (``publisher inspect/export/parity/sparsity/accuracy``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from publisher.pipeline.checks import _prepare_output
from publisher.progress import Progress
from publisher.results import CheckpointInfo, ExportResult, Measurements
from publisher.settings import PublishSettings
from publisher.tasks import infer_task
from publisher.tasks.contract import Task
from publisher.tasks.run import CACHE_DIR


def inspect_checkpoint(checkpoint: Path, *, trust_pickle: bool = False) -> CheckpointInfo:
    from publisher.stages.load import load_checkpoint

    return load_checkpoint(checkpoint, trust_pickle=trust_pickle).info


def export_checkpoint(settings: PublishSettings, output: Path) -> ExportResult:
    """Export only, as the task exports for a release (``publisher export``)."""
    from publisher.stages.load import read_config

    ckpt = Path(settings.checkpoint)
    config = read_config(ckpt)
    task = infer_task(config, ckpt, settings.task)
    task.check_checkpoint(config, ckpt, settings)
    _prepare_output(output)
    return task.export_only(settings, output, output / CACHE_DIR / "staging")


def measure_ir(checkpoint: Path, ir_dir: Path, settings: PublishSettings,
               progress: Progress | None = None) -> tuple[Task, Measurements]:
    """The task of ``checkpoint`` and its measurements of an existing IR (``publisher parity`` and
    ``publisher accuracy``: the task's parity and evaluation figures, one pass each)."""
    from publisher.stages.load import read_config

    ckpt = Path(checkpoint)
    task = infer_task(read_config(ckpt), ckpt, settings.task)
    return task, task.measure_existing_ir(ckpt, Path(ir_dir), settings, progress or Progress(quiet=True))


def measure_ir_sparsity(checkpoint: Path, ir_dir: Path, *, trust_pickle: bool = False) -> Any:
    """Sparsity only: needs the weights of both models, no evaluation pass."""
    from publisher.stages.export import IR_XML
    from publisher.stages.inference import compile_ir, read_ir
    from publisher.stages.load import load_checkpoint
    from publisher.stages.sparsity import measure_sparsity

    loaded = load_checkpoint(checkpoint, trust_pickle=trust_pickle)
    compile_ir(Path(ir_dir) / IR_XML)  # refuses an .xml without (or with the wrong) .bin
    return measure_sparsity(loaded.model, read_ir(Path(ir_dir) / IR_XML))
