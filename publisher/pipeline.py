"""``publish``: checkpoint -> IR -> verification -> sparsity -> accuracy -> card -> gates -> Hub.

Stage results are cached in ``OUTPUT/.publisher/cache.json``, keyed by the hashes of their inputs
and settings, so a re-run with unchanged inputs re-uses the export and the measurements without
loading the model. The files pushed are exactly the release set (IR, config, tokenizer, README.md,
report.json), compared with the remote revision first, so an unchanged release makes no commit.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from publisher import __version__
from publisher.errors import BadInputError, GateFailedError
from publisher.hub.client import FileChanges, HubClient, HubTarget, resolve_target
from publisher.progress import Progress
from publisher.results import (
    SCHEMA_VERSION,
    AccuracyResult,
    CardInputs,
    CheckpointInfo,
    ExportResult,
    GateResult,
    HubResult,
    PerformanceResult,
    Report,
    SparsityResult,
    TrainingMetadata,
    VerificationResult,
    from_dict,
    to_jsonable,
)
from publisher.settings import Gates, PublishSettings
from publisher.stages.verify import rejudge, thresholds_from

CACHE_DIR = ".publisher"
RELEASE_REPORT = "report.json"
CARD = "README.md"


@dataclass(frozen=True)
class PublishOutcome:
    report: Report
    changes: FileChanges | None  # what the push (or dry run) found against the remote
    card_diff: str | None  # unified diff of README.md against the remote (dry run)
    notice: str | None  # e.g. "started the local hub"


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


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


def evaluate_gates(gates: Gates, verification: VerificationResult, sparsity: SparsityResult,
                   accuracy: AccuracyResult) -> list[GateResult]:
    checks = [
        ("min_ir_accuracy", accuracy.openvino, gates.min_ir_accuracy, ">="),
        ("max_accuracy_drop", accuracy.torch - accuracy.openvino, gates.max_accuracy_drop, "<="),
        ("min_sparsity", sparsity.openvino.overall, gates.min_sparsity, ">="),
        ("min_argmax_agreement", verification.argmax_agreement, gates.min_argmax_agreement, ">="),
        ("max_logit_diff", verification.max_abs_logit_diff, gates.max_logit_diff, "<="),
    ]
    out = []
    for name, measured, threshold, op in checks:
        if threshold is None:
            continue
        # A tolerance of 1e-9 keeps float noise (0.1 - 0.1 = 1e-17) from failing a gate at 0.
        passed = measured >= threshold - 1e-9 if op == ">=" else measured <= threshold + 1e-9
        out.append(GateResult(name, float(measured), float(threshold), op, passed))
    return out


class _Cache:
    """JSON records keyed by input hashes; a missing or corrupt file is an empty cache."""

    def __init__(self, folder: Path, enabled: bool) -> None:
        self.path = folder / CACHE_DIR / "cache.json"
        self.enabled = enabled
        try:
            self.data = json.loads(self.path.read_text()) if enabled else {}
        except (OSError, ValueError):
            self.data = {}

    def get(self, stage: str, key: str) -> dict[str, Any] | None:
        rec = self.data.get(stage)
        return rec["value"] if self.enabled and rec and rec.get("key") == key else None

    def put(self, stage: str, key: str, value: dict[str, Any]) -> None:
        self.data[stage] = {"key": key, "value": value}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        os.replace(tmp, self.path)


def _export_intact(output: Path, export: ExportResult) -> bool:
    from publisher.stages.load import sha256_file

    for f in export.files:
        p = output / f.path
        if not p.is_file() or p.stat().st_size != f.size or sha256_file(p) != f.sha256:
            return False
    return True


def _card_inputs(settings: PublishSettings, training: TrainingMetadata) -> CardInputs:
    language = list(settings.card.language) or list(training.language or []) or ["en"]
    return CardInputs(
        model_name=settings.card.model_name or settings.name,
        repo_id=settings.repo_id,
        license=settings.card.license or training.license,
        language=language,
        tags=list(settings.card.tags),
    )


def _training_with_overrides(settings: PublishSettings, info: CheckpointInfo,
                             training_args: dict | None) -> TrainingMetadata:
    """Card inputs from flags override what the checkpoint folder says."""
    import dataclasses

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
    for name in ("base_model", "teacher_model", "license"):
        value = getattr(c, name)
        if value:
            changes[name], sources[name] = value, "flag"
    return dataclasses.replace(t, sources=sources, **changes)


def _mark_not_released(card: str, failed: list[GateResult]) -> str:
    reasons = "; ".join(f"{g.name} measured {g.measured:.4f}, needs {g.comparison} {g.threshold}"
                        for g in failed)
    banner = f"> **Not released**: quality gates failed ({reasons}).\n\n"
    if card.startswith("---\n"):
        end = card.index("\n---\n", 4) + 5
        return card[:end] + "\n" + banner + card[end:].lstrip("\n")
    return banner + card


def default_commit_message(report: Report) -> str:
    a, s = report.accuracy, report.sparsity
    return (f"Release {report.card.model_name.split('/')[-1]}: IR accuracy {a.openvino:.4f} "
            f"(torch {a.torch:.4f}), sparsity {s.openvino.overall:.2f}, "
            f"{report.export.weight_format.upper()} weights")


def publish(settings: PublishSettings, progress: Progress | None = None) -> PublishOutcome:
    """Run the whole release. Raises ``PublisherError`` subclasses; pushes only if gates pass."""
    from publisher.stages.load import check_architecture, digest_folder, read_config

    progress = progress or Progress(quiet=True)
    timings: dict[str, float] = {}
    cache_hits: dict[str, bool] = {}
    out = settings.output_dir
    push = settings.hub.push or settings.hub.dry_run

    # Everything that can be refused cheaply is refused before any heavy work.
    if push:
        if not settings.repo_id:
            raise BadInputError("No --repo-id was given", "Pass --repo-id NAMESPACE/NAME, or --no-push")
        validate_repo_id(settings.repo_id)
    ckpt = Path(settings.checkpoint)
    check_architecture(read_config(ckpt), ckpt)
    _check_output_is_not_the_checkpoint(out, ckpt)
    _check_card_options(settings)
    _prepare_output(out)
    target: HubTarget | None = resolve_target(settings.hub.endpoint, settings.hub.token) if push else None
    if target is not None and not settings.hub.dry_run:
        # A missing, refused or read-only token is found now, not after a long export.
        HubClient(target).check_write_access()

    t0 = time.perf_counter()
    digests = digest_folder(ckpt)
    from publisher.stages.export import library_versions

    versions = library_versions()
    export_key = _key("export", [d.__dict__ for d in digests], settings.weight_format, versions,
                      settings.trust_pickle)
    measure_key = _key("measure", export_key, settings.eval, settings.batch_size)
    timings["hash"] = time.perf_counter() - t0
    cache = _Cache(out, settings.use_cache)

    export = measured = None
    rec = cache.get("export", export_key)
    if rec:
        export = from_dict(ExportResult, rec)
        if not _export_intact(out, export):
            export = None
    if export:
        rec = cache.get("measure", measure_key)
        measured = rec if rec else None
    cache_hits["export"] = export is not None
    cache_hits["measure"] = measured is not None

    if measured is None:
        measured, export = _measure(settings, out, export, export_key, measure_key, cache, progress,
                                    timings)
    else:
        progress.note(f"Re-using the cached export and measurements in {out}")

    info = from_dict(CheckpointInfo, measured["checkpoint"])
    training = _training_with_overrides(settings, info, measured.get("training_args"))
    import dataclasses

    info = dataclasses.replace(info, training=training)
    # Thresholds are settings, not measurements: a cached verification is judged afresh.
    verification = rejudge(from_dict(VerificationResult, measured["verification"]),
                           thresholds_from(settings.gates))
    sparsity = from_dict(SparsityResult, measured["sparsity"])
    accuracy = from_dict(AccuracyResult, measured["accuracy"])
    performance = _performance(settings, out, export_key, cache, progress, timings, cache_hits)
    gate_results = evaluate_gates(settings.gates, verification, sparsity, accuracy)

    release = Report(
        schema_version=SCHEMA_VERSION,
        tool_version=__version__,
        created=measured["created"],
        status="released",
        checkpoint=info,
        export=export,
        verification=verification,
        sparsity=sparsity,
        accuracy=accuracy,
        card=_card_inputs(settings, training),
        gates=gate_results,
        performance=performance,
    )

    t0 = time.perf_counter()
    from publisher.card import render_card

    card = render_card(release, template=settings.card.template, sections_dir=settings.card.sections_dir)
    timings["card"] = time.perf_counter() - t0
    _check_card_vocabulary(card)
    failed = [g for g in gate_results if not g.passed]
    if failed:
        release = release.replace(status="not_released")
        card = _mark_not_released(card, failed)
    _write_text(out / CARD, card)
    release_report_path = out / CACHE_DIR / RELEASE_REPORT
    _write_text(release_report_path, release.to_json())

    def finish(report: Report, **kw: Any) -> PublishOutcome:
        report = report.replace(timings={k: round(v, 3) for k, v in timings.items()}, cache=cache_hits)
        _write_text(out / RELEASE_REPORT, report.to_json())
        return PublishOutcome(report=report, notice=target.notice if target else None, **kw)

    if failed:
        finish(release, changes=None, card_diff=None)
        names = ", ".join(f"{g.name} ({g.measured:.4f} vs {g.comparison} {g.threshold})" for g in failed)
        raise GateFailedError(
            f"Quality gates failed: {names}. Nothing was pushed; the report and the card are in "
            f"{out}, marked as not released",
            "Improve the model, or change the thresholds (--min-ir-accuracy, --max-accuracy-drop, "
            "--min-sparsity, --min-argmax-agreement, --max-logit-diff) if they are wrong",
        )
    if not push:
        return finish(release.replace(status="built"), changes=None, card_diff=None)

    files = {f.path: out / f.path for f in export.files}
    files[CARD] = out / CARD
    files[RELEASE_REPORT] = release_report_path
    files = _release_set(out, files)
    t0 = time.perf_counter()
    client = HubClient(target)
    outcome = _push(settings, client, release, files, progress)
    timings["push"] = time.perf_counter() - t0
    return finish(outcome[0], changes=outcome[1], card_diff=outcome[2])


def _check_output_is_not_the_checkpoint(out: Path, ckpt: Path) -> None:
    """The export writes config.json and tokenizer files: never over the user's checkpoint."""
    out_r, ckpt_r = out.resolve(), ckpt.resolve()
    if out_r == ckpt_r or ckpt_r in out_r.parents:
        raise BadInputError(
            f"The output folder {out} is the checkpoint folder {ckpt} or lies inside it; the export "
            "would overwrite the checkpoint's config.json and tokenizer files",
            "Pass --output with a folder outside the checkpoint folder",
        )


def _check_card_options(settings: PublishSettings) -> None:
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

        check_template(settings.card.template, settings.card.sections_dir)


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


def _performance(settings, out, export_key, cache, progress, timings, cache_hits):
    """IR latency/throughput for the card, cached with the export so a re-run changes nothing."""
    if not settings.bench:
        return None
    from publisher.bench import benchmark_ir

    key = _key("bench", export_key)
    rec = cache.get("bench", key)
    cache_hits["bench"] = rec is not None
    if rec is None:
        import dataclasses

        with progress.stage("Benchmarking the IR on this CPU"):
            t0 = time.perf_counter()
            rec = dataclasses.asdict(benchmark_ir(out))
            timings["bench"] = time.perf_counter() - t0
        cache.put("bench", key, to_jsonable(rec))
    return from_dict(PerformanceResult, rec)


def _prepare_output(out: Path) -> None:
    try:
        (out / CACHE_DIR).mkdir(parents=True, exist_ok=True)
        probe = out / CACHE_DIR / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise BadInputError(f"The output folder {out} is not writable ({exc.strerror or exc})",
                            "Pass --output with a folder you can write to") from exc


@dataclass(frozen=True)
class _Prepared:
    """The model loaded once, and the evaluation data tokenized once, shared by every pass."""

    loaded: Any
    data: Any
    mapping: dict[int, int]
    tokenized: Any
    tokenize_seconds: float


def _prepare(checkpoint: Path, settings: PublishSettings, progress: Progress,
             timings: dict[str, float]) -> _Prepared:
    from publisher.stages import data as data_stage
    from publisher.stages.load import load_checkpoint

    with progress.stage(f"Loading {checkpoint}"):
        t0 = time.perf_counter()
        loaded = load_checkpoint(checkpoint, trust_pickle=settings.trust_pickle)
        timings["load"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    data = data_stage.load_eval_data(settings.eval)
    mapping = data_stage.map_labels(loaded.info.id2label, data)
    tokenized = data_stage.tokenize(loaded.tokenizer, data.texts, max_length=settings.eval.max_length,
                                    batch_size=settings.batch_size)
    timings["data"] = time.perf_counter() - t0
    return _Prepared(loaded, data, mapping, tokenized, timings["data"])


def _torch_pass(p: _Prepared, progress: Progress, timings: dict[str, float]) -> Any:
    from publisher.stages.inference import run_torch
    from publisher.stages.verify import check_finite

    with progress.bar("torch    ", p.data.info.num_samples) as advance:
        logits = run_torch(p.loaded.model, p.tokenized, advance)
    timings["eval_torch"] = logits.seconds
    check_finite("torch model", logits.values)
    return logits


def _measure_against_ir(p: _Prepared, torch_logits: Any, ir_xml: Path, settings: PublishSettings,
                        progress: Progress, timings: dict[str, float]):
    """One IR pass; verification re-uses both passes' logits, sparsity reads the IR's weights."""
    from publisher.stages import accuracy as acc
    from publisher.stages.inference import compile_ir, run_openvino
    from publisher.stages.sparsity import measure_sparsity
    from publisher.stages.verify import verify

    t0 = time.perf_counter()
    compiled = compile_ir(ir_xml)
    timings["compile"] = time.perf_counter() - t0
    with progress.bar("OpenVINO ", p.data.info.num_samples) as advance:
        ir_logits = run_openvino(compiled, p.tokenized, advance)
    timings["eval_openvino"] = ir_logits.seconds
    verification = verify(torch_logits, ir_logits, thresholds_from(settings.gates))
    t0 = time.perf_counter()
    sparsity = measure_sparsity(p.loaded.model, _read_ir(ir_xml))
    timings["sparsity"] = time.perf_counter() - t0
    accuracy = acc.measure_accuracy(p.data, p.mapping, torch_logits, ir_logits, p.tokenize_seconds)
    return verification, sparsity, accuracy


def _measure(settings, out, export, export_key, measure_key, cache, progress, timings):
    """Load the model once and run every measuring stage on it; cache what they return."""
    import dataclasses

    from publisher.stages.export import IR_XML, export_ir

    # Bad evaluation data, and a model whose logits are NaN, are found before the (slow) export.
    prepared = _prepare(settings.checkpoint, settings, progress, timings)
    torch_logits = _torch_pass(prepared, progress, timings)
    loaded = prepared.loaded
    if export is None:
        with progress.stage(f"Exporting to OpenVINO IR ({settings.weight_format} weights)"):
            t0 = time.perf_counter()
            export = export_ir(loaded.model, loaded.tokenizer, out, weight_format=settings.weight_format,
                               staging_dir=out / CACHE_DIR / "staging")
            timings["export"] = time.perf_counter() - t0
        cache.put("export", export_key, dataclasses.asdict(export))
    verification, sparsity, accuracy = _measure_against_ir(prepared, torch_logits, out / IR_XML,
                                                           settings, progress, timings)
    measured = {
        "created": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "checkpoint": dataclasses.asdict(loaded.info),
        # Token-like keys (hub_token, ...) are never needed and never kept, not even in the cache.
        "training_args": {k: v for k, v in loaded.training_args.items() if "token" not in str(k).lower()}
        if loaded.training_args else loaded.training_args,
        "verification": dataclasses.asdict(verification),
        "sparsity": dataclasses.asdict(sparsity),
        "accuracy": dataclasses.asdict(accuracy),
    }
    measured = to_jsonable(measured)
    cache.put("measure", measure_key, measured)
    return measured, export


def _read_ir(xml: Path) -> Any:
    import openvino as ov

    return ov.Core().read_model(str(xml))


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


def export_checkpoint(checkpoint: Path, output: Path, *, weight_format: str = "int8",
                      trust_pickle: bool = False) -> ExportResult:
    from publisher.stages.export import export_ir
    from publisher.stages.load import load_checkpoint

    loaded = load_checkpoint(checkpoint, trust_pickle=trust_pickle)
    _prepare_output(output)
    return export_ir(loaded.model, loaded.tokenizer, output, weight_format=weight_format,
                     staging_dir=output / CACHE_DIR / "staging")


def measure_ir(checkpoint: Path, ir_dir: Path, settings: PublishSettings,
               progress: Progress | None = None) -> tuple[VerificationResult, SparsityResult, AccuracyResult]:
    """Verification, sparsity and accuracy of an existing IR against its checkpoint (one pass each)."""
    from publisher.stages.export import IR_XML

    progress = progress or Progress(quiet=True)
    timings: dict[str, float] = {}
    prepared = _prepare(Path(checkpoint), settings, progress, timings)
    torch_logits = _torch_pass(prepared, progress, timings)
    return _measure_against_ir(prepared, torch_logits, Path(ir_dir) / IR_XML, settings, progress, timings)


def measure_ir_sparsity(checkpoint: Path, ir_dir: Path, *, trust_pickle: bool = False) -> SparsityResult:
    """Sparsity only: needs the weights of both models, no evaluation pass."""
    from publisher.stages.export import IR_XML
    from publisher.stages.inference import compile_ir
    from publisher.stages.load import load_checkpoint
    from publisher.stages.sparsity import measure_sparsity

    loaded = load_checkpoint(checkpoint, trust_pickle=trust_pickle)
    compile_ir(Path(ir_dir) / IR_XML)  # refuses an .xml without (or with the wrong) .bin
    return measure_sparsity(loaded.model, _read_ir(Path(ir_dir) / IR_XML))
