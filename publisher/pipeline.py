"""``publish``: check -> measure -> report -> card -> gates -> push, for any task.

The task (``publisher.tasks``) decides how the checkpoint is loaded, exported and measured; the
runner owns everything around it. Stage results are cached in ``OUTPUT/.publisher/cache.json``,
keyed by the hashes of their inputs and settings, so a re-run with unchanged inputs re-uses the
export and the measurements without loading the model. The files pushed are exactly the release
set (IR, config, tokenizer, README.md, report.json, and any training files the card names),
compared with the remote revision first, so an unchanged release makes no commit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from publisher import __version__
from publisher.errors import EXIT_INTERNAL, BadInputError, GateFailedError, PublisherError
from publisher.hub.client import FileChanges, HubClient, HubTarget, resolve_target
from publisher.progress import Progress
from publisher.results import (
    SCHEMA_VERSION,
    CardInputs,
    CompatibilityResult,
    CheckpointInfo,
    ExportResult,
    GateResult,
    HubResult,
    Measurements,
    PerformanceResult,
    Report,
    TrainingMetadata,
    from_dict,
    to_jsonable,
)
from publisher.settings import PublishSettings
from publisher.tasks import TaskSpec, infer_task
from publisher.tasks.run import CACHE_DIR, MeasureRequest, StageTimer

RELEASE_REPORT = "report.json"
CARD = "README.md"


@dataclass(frozen=True)
class PublishOutcome:
    report: Report
    changes: FileChanges | None  # what the push (or dry run) found against the remote
    card_diff: str | None  # unified diff of README.md against the remote (dry run)
    notice: str | None  # e.g. "started the local hub"
    warnings: tuple[str, ...] = ()  # what the card leaves out or doubts (publisher.card.claims)


@dataclass(frozen=True)
class Checked:
    """What the cheap checks found, before any heavy work."""

    task: TaskSpec
    output: Path
    target: HubTarget | None  # None: nothing is pushed (--no-push)


@dataclass(frozen=True)
class Measured:
    """The export and the measurements of this run, fresh or from the cache."""

    export: ExportResult
    measurements: Measurements
    performance: PerformanceResult | None
    cache_hits: dict[str, bool]
    compatibility: CompatibilityResult | None = None


@dataclass(frozen=True)
class Rendered:
    """The report and the card's verdicts; the card itself is written in the output folder."""

    report: Report
    failed: list[GateResult]
    warnings: tuple[str, ...]


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


LIBRARY_LOG = "library.log"


def publish(settings: PublishSettings, progress: Progress | None = None, *,
            library_output: bool = False) -> PublishOutcome:
    """Run the whole release. Raises ``PublisherError`` subclasses; pushes only if gates pass.

    Other libraries' output goes to ``OUTPUT/.publisher/library.log`` unless ``library_output``.
    """
    from publisher.quiet import library_output_to

    progress = progress or Progress(quiet=True)
    timer = StageTimer()
    checked = check(settings)
    log = None if library_output else checked.output / CACHE_DIR / LIBRARY_LOG
    with library_output_to(log) as terminal, progress.writing_to(terminal):
        measured = measure(settings, checked, progress, timer)
        rendered = render(settings, checked, measured, progress)
    if rendered.failed:
        outcome = _finish(checked, rendered.report, timer, measured, warnings=rendered.warnings)
        raise _gate_error(rendered.failed, checked.output, outcome_document(outcome))
    if checked.target is None:
        return _finish(checked, rendered.report.replace(status="built"), timer, measured,
                       warnings=rendered.warnings)
    with timer.timed("push"), library_output_to(log) as terminal, progress.writing_to(terminal):
        report, changes, card_diff = push(settings, checked, rendered.report, progress)
    return _finish(checked, report, timer, measured, changes=changes, card_diff=card_diff,
                   warnings=rendered.warnings)


def publish_batch(all_settings: list[tuple[str, Callable[[], PublishSettings]]], *, fail_fast: bool,
                  progress: Progress, on_error: Callable[[str, PublisherError], None] | None = None,
                  library_output: bool = False) -> list[dict[str, Any]]:
    """Publish several models, one after another; one model's failure does not hide the others'.

    ``all_settings`` are (name, thunk) pairs, so that a model whose options are wrong fails as that
    model's outcome. Returns one row per model tried: model, status, exit_code and report or error.
    """
    rows: list[dict[str, Any]] = []
    for name, make in all_settings:
        try:
            settings = make()
            outcome = publish(settings, progress, library_output=library_output)
            rows.append({"model": name, "status": outcome.report.status, "exit_code": 0,
                         "report": outcome_document(outcome)})
        except PublisherError as exc:
            row = {"model": name, "status": exc.kind, "exit_code": exc.exit_code,
                   "error": error_document(exc)}
            if getattr(exc, "document", None):
                row["report"] = exc.document  # a failed gate: the measurements and the verdicts
            rows.append(row)
            if on_error:
                on_error(name, exc)
            if fail_fast:
                break
        except Exception as exc:  # a bug in one model's run must not hide the others' outcomes
            rows.append({"model": name, "status": "internal_error", "exit_code": EXIT_INTERNAL,
                         "error": {"exit_code": EXIT_INTERNAL, "kind": "internal",
                                   "message": f"{type(exc).__name__}: {exc}"}})
            if fail_fast:
                break
    return rows


def outcome_document(outcome: PublishOutcome) -> dict[str, Any]:
    """The JSON document of one publish: the report plus status, changes and card diff."""
    doc = outcome.report.to_dict()
    doc["status"] = outcome.report.status
    if outcome.changes is not None:
        doc["changes"] = {"added": outcome.changes.added, "changed": outcome.changes.changed,
                          "deleted": outcome.changes.deleted}
    if outcome.card_diff is not None:
        doc["card_diff"] = outcome.card_diff
    doc["warnings"] = list(outcome.warnings)
    return doc


def error_document(exc: PublisherError) -> dict[str, Any]:
    return {"exit_code": exc.exit_code, "kind": exc.kind, "message": exc.paragraph()}


# --- the steps ------------------------------------------------------------------------------------

def check(settings: PublishSettings) -> Checked:
    """Everything that can be refused cheaply is refused before any heavy work."""
    from publisher.stages.load import read_config

    push = settings.hub.push or settings.hub.dry_run
    if push:
        if not settings.repo_id:
            raise BadInputError("No --repo-id was given", "Pass --repo-id NAMESPACE/NAME, or --no-push")
        validate_repo_id(settings.repo_id)
    ckpt = Path(settings.checkpoint)
    task = infer_task(read_config(ckpt), ckpt, settings.task)
    if settings.weight_format not in task.weight_formats:
        raise BadInputError(
            f"--weight-format {settings.weight_format} is not offered for a {task.title}: "
            f"{_WEIGHT_FORMAT_REASONS.get((task.name, settings.weight_format), '')}".rstrip(": "),
            f"Use one of {', '.join(task.weight_formats)}",
        )
    out = settings.output_dir
    _check_output_is_not_the_checkpoint(out, ckpt)
    _check_card_options(settings, task)
    _prepare_output(out)
    target = resolve_target(settings.hub.endpoint, settings.hub.token) if push else None
    if target is not None and not settings.hub.dry_run:
        # A missing, refused or read-only token is found now, not after a long export.
        HubClient(target).check_write_access()
    return Checked(task=task, output=out, target=target)


# Why a weight format is not offered for a task (said in the refusal).
_WEIGHT_FORMAT_REASONS = {
    ("text-classification", "int4"): (
        "INT4 weight compression is a large-language-model technique (NNCF's data-free INT4 groups "
        "assume large matrices); on an encoder classifier it costs accuracy for a size that INT8 "
        "already makes small, and its accuracy is measured here only for INT8, FP16 and FP32"),
}


def measure(settings: PublishSettings, checked: Checked, progress: Progress, timer: StageTimer) -> Measured:
    """The task's export and measurements, from the cache when their inputs are unchanged."""
    from publisher.stages.export import library_versions
    from publisher.stages.load import digest_folder

    out, task = checked.output, checked.task
    with timer.timed("hash"):
        digests = digest_folder(Path(settings.checkpoint))
        export_key = _key("export", [d.__dict__ for d in digests], task.name, settings.compression,
                          library_versions(), settings.trust_pickle)
        measure_key = _key("measure", export_key, settings.eval, settings.batch_size, settings.text_eval)
    cache = StageCache(out, settings.use_cache)
    export = cache.get("export", export_key, ExportResult)
    if export is not None and not _export_intact(out, export):
        export = None
    measurements = cache.get("measure", measure_key, Measurements) if export else None
    hits = {"export": export is not None, "measure": measurements is not None}
    runner = task.module()
    if measurements is None:
        request = MeasureRequest(settings=settings, output=out, export=export, progress=progress,
                                 timer=timer, on_export=lambda e: cache.put("export", export_key, e))
        measurements, export = runner.measure(request)
        measurements = dataclasses.replace(measurements, environment=_environment(export))
        cache.put("measure", measure_key, measurements)
    else:
        progress.note(f"Re-using the cached export and measurements in {out}")
    measurements = runner.rejudged(measurements, settings.gates)
    performance = _performance(settings, task, out, export_key, cache, progress, timer, hits)
    compatibility = _compatibility(settings, task, out, export_key, cache, progress, timer, hits)
    return Measured(export=export, measurements=measurements, performance=performance, cache_hits=hits,
                    compatibility=compatibility)


def render(settings: PublishSettings, checked: Checked, measured: Measured,
           progress: Progress) -> Rendered:
    """The report and the card, written to the output folder; gates judged (a failed gate marks
    both "not released"). What the card leaves out for want of evidence is said as warnings."""
    from publisher.card import card_warnings, render_card
    from publisher.card.ledger import build_ledger

    m = measured.measurements
    training = _training_with_overrides(settings, m.checkpoint, m.training_args)
    report = Report(
        schema_version=SCHEMA_VERSION,
        tool_version=__version__,
        created=m.created,
        status="released",
        checkpoint=dataclasses.replace(m.checkpoint, training=training),
        export=measured.export,
        verification=m.verification,
        sparsity=m.sparsity,
        accuracy=m.accuracy,
        card=card_inputs(settings, training, checked.task),
        task=checked.task.name,
        performance=measured.performance,
        text_generation=m.text_generation,
        compatibility=measured.compatibility,
    )
    report = report.replace(gates=checked.task.module().evaluate_gates(settings.gates, report))
    report = report.replace(claims=build_ledger(report, m.environment))
    template = settings.card.template or checked.task.template
    card = render_card(report, template=template, sections_dir=settings.card.sections_dir)
    _check_card_vocabulary(card)
    failed = [g for g in report.gates if not g.passed]
    if failed:
        report = report.replace(status="not_released")
        card = _mark_not_released(card, failed)
    _write_text(checked.output / CARD, card)
    _write_text(checked.output / CACHE_DIR / RELEASE_REPORT, report.to_json())
    _copy_training_files(report, checked.output)
    warnings = tuple(card_warnings(report))
    for warning in warnings:
        progress.note(f"[yellow]Warning:[/yellow] {warning}")
    return Rendered(report=report, failed=failed, warnings=warnings)


def push(settings: PublishSettings, checked: Checked, report: Report, progress: Progress
         ) -> tuple[Report, FileChanges, str | None]:
    from publisher.stages.training_metadata import training_files

    out = checked.output
    files = {f.path: out / f.path for f in report.export.files}
    files.update({rel: out / rel for rel in training_files(report)})
    files[CARD] = out / CARD
    files[RELEASE_REPORT] = out / CACHE_DIR / RELEASE_REPORT
    return _push(settings, HubClient(checked.target), report, _release_set(out, files), progress)


def _copy_training_files(report: Report, out: Path) -> None:
    """The training files the card lists (``training/NAME``) are part of the release folder."""
    import shutil

    from publisher.stages.training_metadata import training_files

    for rel, source in training_files(report).items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)  # never write through a symlink planted there
        shutil.copyfile(source, target)


def _finish(checked: Checked, report: Report, timer: StageTimer, measured: Measured, *,
            changes: FileChanges | None = None, card_diff: str | None = None,
            warnings: tuple[str, ...] = ()) -> PublishOutcome:
    report = report.replace(timings=timer.rounded(), cache=measured.cache_hits)
    _write_text(checked.output / RELEASE_REPORT, report.to_json())
    notice = checked.target.notice if checked.target else None
    return PublishOutcome(report=report, changes=changes, card_diff=card_diff, notice=notice,
                          warnings=warnings)


def _gate_error(failed: list[GateResult], out: Path, document: dict[str, Any]) -> GateFailedError:
    names = ", ".join(f"{g.name} ({g.measured:.4f} vs {g.comparison} {g.threshold})" for g in failed)
    flags = ", ".join("--" + g.name.replace("_", "-") for g in failed)
    return GateFailedError(
        f"Quality gates failed: {names}. Nothing was pushed; the report and the card are in "
        f"{out}, marked as not released",
        f"Improve the model, or change the thresholds ({flags}) if they are wrong",
        document=document,
    )


def default_commit_message(report: Report) -> str:
    from publisher.tasks import get_task

    return get_task(report.task).module().commit_message(report)



# --- the pieces -----------------------------------------------------------------------------------

def validate_repo_id(repo_id: str) -> None:
    from huggingface_hub.utils import HFValidationError, validate_repo_id as hf_validate

    try:
        hf_validate(repo_id)
    except HFValidationError as exc:
        raise BadInputError(f"{repo_id!r} is not a valid repo id ({exc})",
                            "Use NAMESPACE/NAME with letters, digits, '-', '_' and '.'") from exc
    if "/" not in repo_id:
        raise BadInputError(f"The repo id {repo_id!r} has no namespace",
                            "Use NAMESPACE/NAME, for example my-org/bert-sst2-int8-ov")


class StageCache:
    """Typed records keyed by input hashes, in one JSON file; a missing or corrupt file is empty."""

    def __init__(self, folder: Path, enabled: bool) -> None:
        self.path = folder / CACHE_DIR / "cache.json"
        self.enabled = enabled
        try:
            self.data = json.loads(self.path.read_text()) if enabled else {}
        except (OSError, ValueError):
            self.data = {}

    def get(self, stage: str, key: str, cls: type) -> Any:
        rec = self.data.get(stage)
        if not (self.enabled and rec and rec.get("key") == key):
            return None
        try:
            return from_dict(cls, rec["value"])
        except (TypeError, KeyError, ValueError, AttributeError):
            return None  # written by another version: measure again

    def put(self, stage: str, key: str, value: Any) -> None:
        self.data[stage] = {"key": key, "value": to_jsonable(dataclasses.asdict(value))}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        os.replace(tmp, self.path)


def _export_intact(output: Path, export: ExportResult) -> bool:
    from publisher.digest import sha256_file

    for f in export.files:
        p = output / f.path
        if not p.is_file() or p.stat().st_size != f.size or sha256_file(p) != f.sha256:
            return False
    return True


def card_inputs(settings: PublishSettings, training: TrainingMetadata, task: TaskSpec) -> CardInputs:
    language = list(settings.card.language) or list(training.language or []) or ["en"]
    return CardInputs(
        model_name=settings.card.model_name or settings.name,
        repo_id=settings.repo_id,
        license=settings.card.license or training.license,
        language=language,
        tags=list(settings.card.tags),
        pipeline_tag=task.name,
    )


def _training_with_overrides(settings: PublishSettings, info: CheckpointInfo,
                             training_args: dict | None) -> TrainingMetadata:
    """Card inputs from flags override what the checkpoint folder says."""
    t = info.training
    sources = dict(t.sources)
    changes: dict[str, Any] = {}
    c = settings.card
    if c.nncf_config:
        try:
            changes["nncf_config"] = json.loads(Path(c.nncf_config).read_text())
        except (OSError, ValueError) as exc:
            raise BadInputError(f"--nncf-config {c.nncf_config} cannot be read as JSON ({exc})",
                                "Pass the nncf_config.json used for training") from exc
        sources["nncf_config"] = str(c.nncf_config)
    if c.training_command:
        try:
            changes["training_command"] = Path(c.training_command).read_text().strip()
        except OSError as exc:
            raise BadInputError(f"--training-command {c.training_command} cannot be read ({exc})",
                                "Pass a text file holding the command line") from exc
        sources["training_command"] = str(c.training_command)
    elif t.training_command is None and training_args:
        from publisher.card.inputs import reconstruct_training_command

        changes["training_command"] = reconstruct_training_command(training_args)
        sources["training_command"] = "training_args.json (reconstructed)"
    for name in ("base_model", "base_model_relation", "teacher_model", "license"):
        value = getattr(c, name)
        if value:
            changes[name], sources[name] = value, "flag"
    training = dataclasses.replace(t, sources=sources, **changes)
    if c.training_command:
        from publisher.stages.training_metadata import refresh_training_files

        # The script this command runs ships in training/ (a reconstructed command's script name
        # is a guess, so only a command the user gave is looked up).
        training = refresh_training_files(training, Path(info.path))
    return training


def _mark_not_released(card: str, failed: list[GateResult]) -> str:
    reasons = "; ".join(f"{g.name} measured {g.measured:.4f}, needs {g.comparison} {g.threshold}"
                        for g in failed)
    banner = f"> **Not released**: quality gates failed ({reasons}).\n\n"
    if card.startswith("---\n"):
        end = card.index("\n---\n", 4) + 5
        return card[:end] + "\n" + banner + card[end:].lstrip("\n")
    return banner + card


def _check_output_is_not_the_checkpoint(out: Path, ckpt: Path) -> None:
    """The export writes config.json and tokenizer files: never over the user's checkpoint."""
    out_r, ckpt_r = out.resolve(), ckpt.resolve()
    if out_r == ckpt_r or ckpt_r in out_r.parents:
        raise BadInputError(
            f"The output folder {out} is the checkpoint folder {ckpt} or lies inside it; the export "
            "would overwrite the checkpoint's config.json and tokenizer files",
            "Pass --output with a folder outside the checkpoint folder",
        )


def _check_card_options(settings: PublishSettings, task: TaskSpec) -> None:
    """Refuse a bad license or card template before any slow stage runs."""
    from publisher.card import rules

    license_id = settings.card.license
    if license_id and license_id not in rules.licenses():
        raise BadInputError(
            f"The license {license_id!r} is not a Hub license id, so the Hub would not recognise it "
            "on the card",
            "Pass --license with a Hub license id (for example apache-2.0 or mit), or 'other' and "
            "name the license in the card",
        )
    if settings.card.template is not None or settings.card.sections_dir is not None:
        from publisher.card.variables import check_template

        check_template(settings.card.template, settings.card.sections_dir, task=task.name)


def _check_card_vocabulary(card: str) -> None:
    """The card's license and pipeline tag must be ids the Hub knows, or nothing is pushed."""
    from publisher.card.lint import lint_card

    wrong = [f for f in lint_card(card, None)
             if f.rule in ("license-unknown", "pipeline-tag-unknown")]
    if wrong:
        raise BadInputError(
            "The card's metadata has values the Hub does not know: "
            + "; ".join(f.message for f in wrong) + ". Nothing was pushed",
            "Use a Hub license id (--license, or license in training_metadata.json) and a Hub "
            "pipeline tag",
        )


def _write_text(path: Path, text: str) -> None:
    """Write through a temporary file and rename: never through a symlink planted at ``path``."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# Never part of a release, whatever a cache record says: secrets and files useless to users.
_NEVER_PUSHED = ("training_args.bin", "optimizer.pt", "scheduler.pt")


def _release_set(out: Path, paths: dict[str, Path]) -> dict[str, Path]:
    """Check the files about to be pushed: regular files inside ``out``, no symlink, no secret."""
    root = out.resolve()
    for rel, local in paths.items():
        parts = rel.split("/")
        name = parts[-1]
        problem = None
        if rel.startswith("/") or "\\" in rel or any(p in ("", ".", "..") for p in parts):
            problem = "is not a plain relative path inside the output folder"
        elif any(p.startswith(".") for p in parts):
            problem = "is a hidden file"
        elif (name in _NEVER_PUSHED or name.endswith(".pem") or
              (name.startswith("rng_state") and name.endswith(".pth"))):
            problem = "may hold secrets (training state or a key)"
        else:
            node = local
            while node != out and node != node.parent:
                if node.is_symlink():
                    problem = f"goes through the symbolic link {node}"
                    break
                node = node.parent
            if problem is None:
                resolved = local.resolve()
                if root != resolved and root not in resolved.parents:
                    problem = "lies outside the output folder"
                elif not resolved.is_file():
                    problem = "is not a regular file"
        if problem:
            raise BadInputError(
                f"Refusing to push {rel!r} from {out}: it {problem}. Nothing was pushed",
                f"publisher pushes only the regular files its export wrote into the output folder; "
                f"remove {local} (or delete {out / CACHE_DIR} to start afresh) and re-run",
            )
    return paths


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


def _performance(settings: PublishSettings, task: TaskSpec, out: Path, export_key: str,
                 cache: StageCache, progress: Progress, timer: StageTimer, hits: dict[str, bool]) -> Any:
    """IR performance for the card, cached with the export so a re-run changes nothing."""
    if not settings.bench:
        return None
    runner = task.module()
    key = _key("bench", export_key)
    result = cache.get("bench", key, runner.PERFORMANCE_RESULT)
    hits["bench"] = result is not None
    if result is None:
        with progress.stage("Benchmarking the IR on this CPU"), timer.timed("bench"):
            result = runner.benchmark(out)
        cache.put("bench", key, result)
    return result


def _compatibility(settings: PublishSettings, task: TaskSpec, out: Path, export_key: str, cache: StageCache,
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
        rows, description = compat.evaluation_rows(load_release_tokenizer(out), *_evaluation_sample(settings, task))
        with progress.stage(f"Running the IR on OpenVINO {', '.join(settings.openvino)}"), \
                timer.timed("compatibility"):
            result = compat.check_versions(
                out / "openvino_model.xml", rows, list(settings.openvino), cache_dir=compat.default_cache_dir(),
                inputs_description=description, progress=progress.note)
        cache.put("compatibility", key, result)
    for run in result.runs:
        if not run.passed:
            progress.note(f"[yellow]OpenVINO {run.version or run.requested} failed:[/yellow] {run.reason}")
    return result


def _evaluation_sample(settings: PublishSettings, task: TaskSpec) -> tuple[list[str] | str, str]:
    """The evaluation data the run measured on (texts of a classifier, the text of a language
    model), and its name."""
    if task.name == "text-generation":
        from publisher.stages.text_data import load_eval_text
        from publisher.tasks.generation import text_spec

        text = load_eval_text(text_spec(settings))
        return text.text, text.info.name
    from publisher.stages.data import load_eval_data

    data = load_eval_data(settings.eval)
    return data.texts, f"{data.info.name} {data.info.split}"


def _prepare_output(out: Path) -> None:
    try:
        (out / CACHE_DIR).mkdir(parents=True, exist_ok=True)
        probe = out / CACHE_DIR / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise BadInputError(f"The output folder {out} is not writable ({exc.strerror or exc})",
                            "Pass --output with a folder you can write to") from exc


def _push(settings: PublishSettings, client: HubClient, release: Report, files: dict[str, Path],
          progress: Progress) -> tuple[Report, FileChanges, str | None]:
    import difflib

    hub = settings.hub
    repo_id = settings.repo_id
    changes = client.compare(repo_id, files, hub.revision)
    card_diff = None
    if hub.dry_run:
        remote_card = client.download_text(repo_id, CARD, hub.revision) if changes.parent_commit else None
        local_card = files[CARD].read_text(encoding="utf-8")
        card_diff = "".join(difflib.unified_diff(
            (remote_card or "").splitlines(keepends=True), local_card.splitlines(keepends=True),
            fromfile=f"{repo_id}@{hub.revision}/README.md", tofile="README.md (new)"))
        result = HubResult(endpoint=client.endpoint, repo_id=repo_id, revision=hub.revision,
                           commit=None, url=client.repo_url(repo_id), changed=changes.any,
                           files_added=changes.added, files_changed=changes.changed,
                           files_deleted=changes.deleted)
        return release.replace(status="dry_run", hub=result), changes, card_diff

    if not changes.any:
        progress.note(f"Nothing changed against {repo_id}@{hub.revision}: no commit made.")
        result = HubResult(endpoint=client.endpoint, repo_id=repo_id, revision=hub.revision,
                           commit=changes.parent_commit, url=client.repo_url(repo_id), changed=False)
        return release.replace(status="unchanged", hub=result), changes, None

    with progress.stage(f"Pushing to {client.endpoint}/{repo_id} ({hub.revision})"):
        if changes.parent_commit is None:
            client.ensure_repo(repo_id, private=hub.private)
            changes = client.compare(repo_id, files, hub.revision)
        if hub.revision != "main" and not hub.create_pr and not client.branch_exists(repo_id, hub.revision):
            client.create_branch(repo_id, hub.revision)
            changes = client.compare(repo_id, files, hub.revision)
        message = hub.commit_message or default_commit_message(release)
        outcome = client.commit_changes(repo_id, files, changes, message=message,
                                        revision=hub.revision, create_pr=hub.create_pr)
        if hub.tag and outcome.commit:
            client.create_tag(repo_id, hub.tag, outcome.commit, message)
    result = HubResult(endpoint=client.endpoint, repo_id=repo_id, revision=hub.revision,
                       commit=outcome.commit, url=outcome.url, pr_url=outcome.pr_url, tag=hub.tag,
                       changed=outcome.changed, files_added=changes.added,
                       files_changed=changes.changed, files_deleted=changes.deleted)
    return release.replace(status="released", hub=result), changes, None


# Single stages, for the stage subcommands (``publisher inspect/export/verify/sparsity/accuracy``).

def inspect_checkpoint(checkpoint: Path, *, trust_pickle: bool = False) -> CheckpointInfo:
    from publisher.stages.load import load_checkpoint

    return load_checkpoint(checkpoint, trust_pickle=trust_pickle).info


def export_checkpoint(settings: PublishSettings, output: Path) -> ExportResult:
    """Export only, as the task exports for a release (``publisher export``)."""
    from publisher.stages.load import read_config

    ckpt = Path(settings.checkpoint)
    task = infer_task(read_config(ckpt), ckpt, settings.task)
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
