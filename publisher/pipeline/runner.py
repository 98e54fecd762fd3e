"""The runner: ``publish`` runs check -> measure -> render -> push, for any task; ``publish_batch``
runs several. The task (``publisher.tasks``) decides how the checkpoint is loaded, exported and
measured; the runner owns everything around it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from publisher import __version__
from publisher.errors import EXIT_INTERNAL, BadInputError, GateFailedError, PublisherError
from publisher.hub.client import (FileChanges, HubClient, HubTarget, resolve_target,
                                  validate_release_refs)
from publisher.pipeline.card_settings import _training_with_overrides, card_inputs
from publisher.pipeline.checks import (
    _check_card_options,
    _check_card_vocabulary,
    _check_output_is_not_the_checkpoint,
    _prepare_output,
    validate_repo_id,
)
from publisher.pipeline.extra_stages import _compatibility, _environment, _performance
from publisher.pipeline.push import push
from publisher.pipeline.release_set import CARD, RELEASE_REPORT, _copy_training_files, _write_text
from publisher.pipeline.stage_cache import StageCache, _export_intact, _key
from publisher.progress import Progress
from publisher.results import (
    SCHEMA_VERSION,
    CompatibilityResult,
    ExportResult,
    GateResult,
    Measurements,
    PerformanceResult,
    Report,
)
from publisher.settings import PublishSettings
from publisher.tasks import infer_task
from publisher.tasks.contract import Task
from publisher.tasks.run import CACHE_DIR, MeasureRequest, StageTimer


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

    task: Task
    output: Path
    target: HubTarget | None  # None: nothing is pushed (--no-push)
    signing_key: Any = None  # publisher.signing.SigningKey: the release set is signed before the push


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
        raise _gate_error(rendered.failed, checked.output, outcome_document(outcome), rendered.report)
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


def _bundled_data_key() -> str:
    """The bundled evaluation data, by file names and sizes (each file's sha256 is checked when it is read)."""
    from importlib import resources

    root = Path(str(resources.files("publisher") / "data"))
    return "bundled:" + ",".join(f"{p.relative_to(root).as_posix()}={p.stat().st_size}"
                                 for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts)


# --- the steps ------------------------------------------------------------------------------------

def check(settings: PublishSettings) -> Checked:
    """Everything that can be refused cheaply is refused before any heavy work."""
    from publisher.stages.load import read_config

    push = settings.hub.push or settings.hub.dry_run
    if push:
        if not settings.repo_id:
            raise BadInputError("No --repo-id was given", "Pass --repo-id NAMESPACE/NAME, or --no-push")
        validate_repo_id(settings.repo_id)
        validate_release_refs(settings.hub.revision, settings.hub.tag)
    ckpt = Path(settings.checkpoint)
    config = read_config(ckpt)
    task = infer_task(config, ckpt, settings.task)
    task.check_checkpoint(config, ckpt, settings)
    if settings.int4_search:
        from publisher.pipeline.int4_search import check_search

        check_search(settings, task)
    if settings.hub.add_to:
        from publisher.pipeline.add_to import refuse_with

        refuse_with(settings, task)
    out = settings.output_dir
    _check_output_is_not_the_checkpoint(out, ckpt)
    _check_card_options(settings, task)
    signing_key = _check_signing(settings)
    _prepare_output(out)
    target = resolve_target(settings.hub.endpoint, settings.hub.token) if push else None
    if target is not None and not settings.hub.dry_run:
        # A missing, refused or read-only token is found now, not after a long export.
        HubClient(target).check_write_access()
    if target is not None and settings.hub.add_to:
        from publisher.pipeline.add_to import check_target

        check_target(HubClient(target), settings, ckpt)
    return Checked(task=task, output=out, target=target, signing_key=signing_key)


def _check_signing(settings: PublishSettings) -> Any:
    """The signing key, loaded now: a missing or unreadable key, or --sign sigstore, is refused before any
    work and never falls back to an unsigned release."""
    from publisher import signing

    options = settings.signing
    if not options.wanted:
        return None
    if options.sign == "sigstore":
        raise signing.refuse_sigstore()
    if options.sign_key is None:
        raise BadInputError("Signing was asked for (--sign key or a password option) but no --sign-key was given; "
                            "nothing was pushed", "Pass --sign-key key.pem")
    return signing.load_signing_key(options.sign_key, options.sign_key_password_env,
                                    options.sign_key_password_file)


def stage_keys(settings: PublishSettings, task: Task, digests: list[Any]) -> tuple[str, str]:
    """The cache keys of the export and of the measurements: hashes of everything they depend on."""
    from publisher.digest import sha256_file
    from publisher.stages.export import library_versions

    export_key = _key("export", [d.__dict__ for d in digests], task.name, settings.compression,
                      library_versions(), settings.trust_pickle)
    # The evaluation file by its content, not only its path: a file edited in place is measured again.
    eval_file = Path(settings.eval.eval_file) if settings.eval.eval_file else None
    eval_digest = sha256_file(eval_file) if eval_file is not None and eval_file.is_file() else None
    # Without a file, a task measures on its bundled default, which a publisher upgrade may change
    # (the language models' default became WikiText-2): the bundled data is part of the key.
    if eval_digest is None and not settings.eval.dataset:
        eval_digest = _bundled_data_key()
    measure_key = _key("measure", export_key, settings.eval, eval_digest, settings.batch_size,
                       settings.text_eval, settings.embedding)
    return export_key, measure_key


def measure(settings: PublishSettings, checked: Checked, progress: Progress, timer: StageTimer) -> Measured:
    """The task's export and measurements, from the cache when their inputs are unchanged
    (``--int4-search``: of each setting tried, publisher.pipeline.int4_search)."""
    from publisher.stages.load import digest_folder

    out, task = checked.output, checked.task
    if settings.int4_search:
        from publisher.pipeline.int4_search import search

        return search(settings, checked, progress, timer)
    with timer.timed("hash"):
        export_key, measure_key = stage_keys(settings, task, digest_folder(Path(settings.checkpoint)))
    cache = StageCache(out, settings.use_cache)
    export = cache.get("export", export_key, ExportResult)
    if export is not None and not _export_intact(out, export):
        export = None
    measurements = cache.get("measure", measure_key, Measurements) if export else None
    if measurements is not None:
        measurements = task.retyped(measurements)
    hits = {"export": export is not None, "measure": measurements is not None}
    if measurements is None:
        request = MeasureRequest(settings=settings, output=out, export=export, progress=progress,
                                 timer=timer, on_export=lambda e: cache.put("export", export_key, e))
        measurements, export = task.measure(request)
        measurements = dataclasses.replace(measurements, environment=_environment(export))
        cache.put("measure", measure_key, measurements)
    else:
        progress.note(f"Re-using the cached export and measurements in {out}")
    measurements = task.rejudged(measurements, settings.gates)
    performance = _performance(settings, task, out, export_key, cache, progress, timer, hits)
    compatibility = _compatibility(settings, task, out, export_key, cache, progress, timer, hits)
    return Measured(export=export, measurements=measurements, performance=performance, cache_hits=hits,
                    compatibility=compatibility)


def render(settings: PublishSettings, checked: Checked, measured: Measured,
           progress: Progress) -> Rendered:
    """The report and the card, written to the output folder; gates judged (a failed gate marks
    both "not released"). What the card leaves out for want of evidence is said as warnings."""
    report = _build_report(settings, checked, measured)
    report = _judge_gates(settings, checked, report)
    report = _add_ledger(report, measured)
    card = _render_card(settings, checked, report)
    _check_card_vocabulary(card)
    failed = [g for g in report.gates if not g.passed]
    if failed:
        report = report.replace(status="not_released")
        card = _mark_not_released(card, failed)
    _write_release_folder(checked.output, report, card)
    warnings = _say_warnings(report, progress)
    return Rendered(report=report, failed=failed, warnings=warnings)


# --- render's steps -------------------------------------------------------------------------------

def _build_report(settings: PublishSettings, checked: Checked, measured: Measured) -> Report:
    """The release's report from the measurements, with the card's inputs from the settings."""
    m = measured.measurements
    training = _training_with_overrides(settings, m.checkpoint, m.training_args)
    card = card_inputs(settings, training, checked.task)
    if checked.signing_key is not None:
        from publisher.signing import signing_record

        card = dataclasses.replace(card, signing=signing_record(checked.signing_key))
    return Report(
        schema_version=SCHEMA_VERSION,
        tool_version=__version__,
        created=m.created,
        status="released",
        checkpoint=dataclasses.replace(m.checkpoint, training=training),
        export=measured.export,
        verification=m.verification,
        sparsity=m.sparsity,
        accuracy=m.accuracy,
        card=card,
        task=checked.task.name,
        performance=measured.performance,
        text_generation=m.text_generation,
        task_results=m.task_results,
        compatibility=measured.compatibility,
    )


def _judge_gates(settings: PublishSettings, checked: Checked, report: Report) -> Report:
    return report.replace(gates=checked.task.evaluate_gates(settings.gates, report))


def _add_ledger(report: Report, measured: Measured) -> Report:
    """The ledger of the card's claims, each with its evidence."""
    from publisher.card.ledger import build_ledger

    return report.replace(claims=build_ledger(report, measured.measurements.environment))


def _render_card(settings: PublishSettings, checked: Checked, report: Report) -> str:
    from publisher.card import render_card

    template = settings.card.template or checked.task.template
    return render_card(report, template=template, sections_dir=settings.card.sections_dir)


def _mark_not_released(card: str, failed: list[GateResult]) -> str:
    reasons = "; ".join(f"{g.name} measured {g.measured:.4f}, needs {g.comparison} {g.threshold}"
                        for g in failed)
    banner = f"> **Not released**: quality gates failed ({reasons}).\n\n"
    if card.startswith("---\n"):
        end = card.index("\n---\n", 4) + 5
        return card[:end] + "\n" + banner + card[end:].lstrip("\n")
    return banner + card


def _write_release_folder(out: Path, report: Report, card: str) -> None:
    """The card, the release's report and the training files the card lists, in the output folder."""
    _write_text(out / CARD, card)
    _write_text(out / CACHE_DIR / RELEASE_REPORT, report.to_json())
    _copy_training_files(report, out)


def _say_warnings(report: Report, progress: Progress) -> tuple[str, ...]:
    """What the card leaves out or doubts, said on the terminal and returned."""
    from publisher.card import card_warnings

    warnings = tuple(card_warnings(report))
    for warning in warnings:
        progress.note(f"[yellow]Warning:[/yellow] {warning}")
    return warnings


# --- the outcome ----------------------------------------------------------------------------------

def _finish(checked: Checked, report: Report, timer: StageTimer, measured: Measured, *,
            changes: FileChanges | None = None, card_diff: str | None = None,
            warnings: tuple[str, ...] = ()) -> PublishOutcome:
    report = report.replace(timings=timer.rounded(), cache=measured.cache_hits)
    _write_text(checked.output / RELEASE_REPORT, report.to_json())
    notice = checked.target.notice if checked.target else None
    return PublishOutcome(report=report, changes=changes, card_diff=card_diff, notice=notice,
                          warnings=warnings)


def _gate_error(failed: list[GateResult], out: Path, document: dict[str, Any],
                report: Report | None = None) -> GateFailedError:
    from publisher.pipeline.int4_search import no_setting_passed, search_of

    if report is not None and search_of(report) is not None:
        return no_setting_passed(search_of(report), out, document)
    names = ", ".join(f"{g.name} ({g.measured:.4f} vs {g.comparison} {g.threshold})" for g in failed)
    flags = ", ".join("--" + g.name.replace("_", "-") for g in failed)
    return GateFailedError(
        f"Quality gates failed: {names}. Nothing was pushed; the report and the card are in "
        f"{out}, marked as not released",
        f"Improve the model, or change the thresholds ({flags}) if they are wrong",
        document=document,
    )
