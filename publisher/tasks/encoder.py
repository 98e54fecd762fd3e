"""The measuring skeleton that encoder tasks share: prepare the checkpoint and its data, one torch pass,
the export, then the same measurement of the IR against that torch pass.

A task built on it (``EncoderTask``) names its three stage functions in ``stages`` and keeps in its own
module only what differs: what prepare loads, what the passes compute and score, and, where it has one,
its export layout (``export_prepared``). ``measure`` (publish), ``measure_existing_ir`` (the single-stage
commands `publisher parity` and `publisher accuracy`), ``export_only``, ``benchmark`` and ``stage_result``
are written once here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from publisher.progress import Progress
from publisher.results import Measurements, PerformanceResult
from publisher.stages.load import CheckpointKind
from publisher.tasks import common
from publisher.tasks.contract import Task
from publisher.tasks.run import MeasureRequest, StageTimer, now_utc, without_tokens


@dataclass(frozen=True)
class EncoderStages:
    """A task's three stages, in the order they run.

    ``prepare(checkpoint, settings, progress, timer)`` loads the checkpoint and reads and tokenizes the
    evaluation data (bad data is refused here, before the slow export); ``torch_pass(prepared, progress,
    timer)`` runs the checkpoint; ``against_ir(prepared, torch_run, ir_xml, progress, timer)`` runs the IR
    on the same inputs and returns ``(sparsity, task results)``. ``prepared.loaded`` is the loaded
    checkpoint (``publisher.stages.load``)."""

    prepare: Callable[[Path, Any, Progress, StageTimer], Any]
    torch_pass: Callable[[Any, Progress, StageTimer], Any]
    against_ir: Callable[[Any, Any, Path, Progress, StageTimer], tuple[Any, Any]]


def measurements(loaded: Any, sparsity: Any, results: Any) -> Measurements:
    return Measurements(created=now_utc(), checkpoint=loaded.info, training_args=without_tokens(loaded.training_args),
                        sparsity=sparsity, task_results=results)


class EncoderTask(Task):
    stages: EncoderStages
    # Where the export needs the checkpoint only, the class it loads as: `publisher export` then neither
    # reads nor checks the evaluation data. None: the export needs what prepare makes (a pooling recipe,
    # calibration sentences), so it runs prepare.
    export_checkpoint_kind: CheckpointKind | None = None

    def export_what(self, settings: Any) -> str:
        """What the export compresses, for its progress line."""
        return f"{settings.weight_format} weights"

    def export_prepared(self, prepared: Any, output: Path, settings: Any, staging_dir: Path) -> Any:
        """The export into ``output``: optimum-intel's, in publisher's layout, unless the task has its own."""
        return common.export_encoder(self, prepared.loaded, output, settings.weight_format, staging_dir)

    def measure(self, req: MeasureRequest) -> tuple[Measurements, Any]:
        s = req.settings
        # Bad evaluation data, and a model whose outputs are NaN, are found before the (slow) export.
        prepared = self.stages.prepare(s.checkpoint, s, req.progress, req.timer)
        torch_run = self.stages.torch_pass(prepared, req.progress, req.timer)
        export = req.export
        if export is None:
            with req.progress.stage(f"Exporting to OpenVINO IR ({self.export_what(s)})"), req.timer.timed("export"):
                export = self.export_prepared(prepared, req.output, s, req.staging_dir)
            req.on_export(export)
        sparsity, results = self.stages.against_ir(prepared, torch_run, req.output / self.ir_relpath(s),
                                                   req.progress, req.timer)
        return measurements(prepared.loaded, sparsity, results), export

    def export_only(self, settings: Any, output: Path, staging_dir: Path) -> Any:
        if self.export_checkpoint_kind is not None:
            from publisher.stages.load import load_checkpoint

            loaded = load_checkpoint(settings.checkpoint, trust_pickle=settings.trust_pickle,
                                     auto_class=self.export_checkpoint_kind)
            return common.export_encoder(self, loaded, output, settings.weight_format, staging_dir)
        prepared = self.stages.prepare(Path(settings.checkpoint), settings, Progress(quiet=True), StageTimer())
        return self.export_prepared(prepared, output, settings, staging_dir)

    def measure_existing_ir(self, checkpoint: Path, ir_dir: Path, settings: Any, progress: Progress) -> Measurements:
        from publisher.recheck.remeasure import ir_xml

        timer = StageTimer()
        prepared = self.stages.prepare(Path(checkpoint), settings, progress, timer)
        torch_run = self.stages.torch_pass(prepared, progress, timer)
        sparsity, results = self.stages.against_ir(prepared, torch_run, ir_xml(Path(ir_dir)), progress, timer)
        return measurements(prepared.loaded, sparsity, results)

    def stage_result(self, stage: str, m: Measurements) -> tuple[Any, bool]:
        results = self.retyped(m).task_results
        # The parity stage is judged by the gates of a publish, not by the stage command.
        return (results.parity if stage == "parity" else results), True

    def benchmark(self, ir_dir: Path) -> PerformanceResult:
        from publisher.bench import benchmark_ir
        from publisher.recheck.remeasure import ir_xml

        xml = ir_xml(Path(ir_dir))
        return benchmark_ir(xml.parent, xml_name=xml.name)
