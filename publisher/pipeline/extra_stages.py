"""What the runner measures around the task's own stages: the environment of the run, the IR's
performance (``--bench``) and its runs on other OpenVINO releases (``--openvino``), the last two
cached with the export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from publisher.pipeline.stage_cache import StageCache, _key
from publisher.progress import Progress
from publisher.results import CompatibilityResult, ExportResult
from publisher.settings import PublishSettings
from publisher.tasks import Task
from publisher.tasks.run import StageTimer


def _environment(export: ExportResult) -> Any:
    """Where this run measured: library versions, CPU, instruction sets, threads, precision."""
    from importlib import metadata

    from publisher.stages.environment import current_environment

    versions = dict(export.versions)
    for name in ("openvino-tokenizers", "openvino-genai", "huggingface_hub", "datasets", "evaluate", "numpy"):
        try:
            versions.setdefault(name, metadata.version(name))
        except metadata.PackageNotFoundError:
            pass
    return current_environment(versions)


def _performance(settings: PublishSettings, task: Task, out: Path, export_key: str,
                 cache: StageCache, progress: Progress, timer: StageTimer, hits: dict[str, bool]) -> Any:
    """IR performance for the card, cached with the export so a re-run changes nothing."""
    if not settings.bench:
        return None
    key = _key("bench", export_key)
    result = cache.get("bench", key, task.performance_result)
    hits["bench"] = result is not None
    if result is None:
        with progress.stage("Benchmarking the IR on this CPU"), timer.timed("bench"):
            result = task.benchmark(out)
        cache.put("bench", key, result)
    return result


def _compatibility(settings: PublishSettings, task: Task, out: Path, export_key: str, cache: StageCache,
                   progress: Progress, timer: StageTimer, hits: dict[str, bool]) -> CompatibilityResult | None:
    """The IR run on each ``--openvino`` release, cached with the export (an environment is installed
    once per release, under the user's cache)."""
    if not settings.openvino:
        return None
    from publisher import compat
    from publisher.stages.load import load_release_tokenizer

    key = _key("compatibility", export_key, settings.openvino, settings.eval, settings.text_eval)
    result = cache.get("compatibility", key, CompatibilityResult)
    hits["compatibility"] = result is not None
    if result is None:
        rows, description = compat.evaluation_rows(load_release_tokenizer(out), *task.evaluation_sample(settings))
        with progress.stage(f"Running the IR on OpenVINO {', '.join(settings.openvino)}"), \
                timer.timed("compatibility"):
            result = compat.check_versions(
                out / task.ir_relpath(settings), rows, list(settings.openvino), cache_dir=compat.default_cache_dir(),
                inputs_description=description, progress=progress.note)
        cache.put("compatibility", key, result)
    for run in result.runs:
        if not run.passed:
            progress.note(f"[yellow]OpenVINO {run.version or run.requested} failed:[/yellow] {run.reason}")
    return result
