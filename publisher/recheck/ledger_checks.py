"""Re-checking a release publisher published: its files, its ledger, its card, and the IR's figures.

Every claim gets one row. The rules for re-checking a claim (who can re-check it, within what
tolerance) come from publisher's own code applied to report.json's measurements (the *rebuilt*
ledger), never from the ledger being checked, so a tampered ledger cannot loosen them. A row fails
when any of these disagree:

- the stored ledger and the rebuilt one (value, tolerance, who can re-check it; a claim added or
  removed);
- the card (model-index and body) and the ledger, at the precision the card prints; a figure or
  statement on the card that no claim stands behind fails on its own row;
- a re-measurement from the downloaded IR and the ledger, beyond the claim's tolerance; an IR
  whose files are the recorded ones but that does not run is a failure too.

Claims only the training checkpoint can re-measure are "not re-checkable" without ``--checkpoint``
(their card and ledger values are still compared); so are records (a teacher's name) and timings.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from publisher.card import facts
from publisher.card import ledger as ledger_module
from publisher.card import readback
from publisher.card.schema import FRONT_MATTER
from publisher.digest import sha256_file
from publisher.errors import BadInputError
from publisher.options import default
from publisher.progress import Progress
from publisher.recheck import remeasure
from publisher.tasks import task_of
from publisher.tasks.common import SPARSE_THRESHOLD
from publisher.tasks.contract import EVALUATION_ROWS, SPARSITY_OPENVINO, Percent
from publisher.results import (
    FAILS,
    HOLDS,
    PARTIAL,
    RECHECK_CHECKPOINT,
    RECHECK_IR,
    RECHECK_MACHINE,
    UNVERIFIABLE,
    Claim,
    ClaimCheck,
    ClaimsLedger,
    Report,
)

INDEX_TOLERANCE = 0.5 * 10 ** -facts.METRIC_DECIMALS + 1e-12
RE_MEASURABLE = (RECHECK_IR, RECHECK_CHECKPOINT)


@dataclass(frozen=True)
class CheckOptions:
    eval_file: Path | None = None
    dataset: str | None = None  # Hub dataset id, when the ledger's data is a Hub dataset
    max_samples: int | None = None  # rows (classifier) or windows (LM) for a partial check
    accept_other_data: bool = default("accept_other_data")  # run on data (or a checkpoint) whose sha256 differs from the ledger's
    batch_size: int = default("batch_size")
    checkpoint: Path | None = None  # the training checkpoint, to re-measure the torch-side claims
    trust_pickle: bool = False  # let the checkpoint's .bin weights be unpickled
    similarity_model: str | None = None  # the answer-similarity model, when the release's was a local folder


@dataclass(frozen=True)
class Remeasurement:
    """What verify measured for one claim."""

    value: Any  # None: the release does not show what the claim says
    shown: str  # as the table prints it
    note: str = ""  # said in the verdict's reason
    # A partial check compares with the recorded figure on the same subset, within its own tolerance.
    recorded_subset: float | None = None
    tolerance: float | None = None


@dataclass(frozen=True)
class EvaluationSample:
    """The evaluation data as verify loaded it: what compatibility runs feed, as publish did."""

    texts: list[str] | str  # a classifier's rows, or a language model's text
    name: str


@dataclass
class Remeasured:
    """What verify re-measured, claim by claim; a task's ``remeasure_from_ir`` fills it."""

    values: dict[str, Remeasurement] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # claim id -> why the release could not show it
    notes: dict[str, str] = field(default_factory=dict)  # claim id -> why it was not re-measured
    data_note: str = ""
    partial: str | None = None
    eval_input: Any = None  # the classifier's EvalDataSpec, or the LM's EvalText, as loaded
    sample: EvaluationSample | None = None


@dataclass(frozen=True)
class ReleaseCheck:
    rows: list[ClaimCheck]
    partial: str | None  # what a partial check covered (None: all of it)
    sample: EvaluationSample | None


def check_release(report: Report, readme: str, release_dir: Path, options: CheckOptions,
                  progress: Progress, remote_sha256: dict[str, str] | None = None) -> ReleaseCheck:
    """``remote_sha256``: the Hub's sha256 of files verify does not download (PyTorch weights)."""
    ledger = report.claims
    rows = _file_rows(report, release_dir, remote_sha256 or {})
    rebuilt = ledger_module.build_ledger(report, ledger.environment)
    prints, stray = _card_prints(readme, ledger)
    remeasured = _remeasure(report, release_dir, options, progress)
    for claim in ledger.claims:
        rows.append(_claim_row(claim, rebuilt.get(claim.id), prints.get(claim.id, []), remeasured))
    stored = {c.id for c in ledger.claims}
    for claim in rebuilt.claims:
        if claim.id not in stored:
            rows.append(ClaimCheck(claim.id, claim.text, None, None, None, None, FAILS,
                                   "report.json's measurements give this claim, but the ledger leaves it out"))
    return ReleaseCheck(rows + stray, remeasured.partial, remeasured.sample)


# --- files ----------------------------------------------------------------------------------------


def _file_rows(report: Report, release_dir: Path, remote_sha256: dict[str, str]) -> list[ClaimCheck]:
    """One row per file that differs, and one for all those that are as measured. A file verify never
    downloads (weights it would not load) is compared by the sha256 the Hub lists for it."""
    rows, same = [], []
    for f in report.export.files:
        path = inside(release_dir, f.path)
        if path is None:  # never opened: report.json is the repo's, and may name any file
            rows.append(ClaimCheck(
                claim=f"file {f.path}", text="a release file the figures were measured on", card=None,
                ledger=f.sha256[:12], remeasured="not opened", tolerance="identical sha256", verdict=FAILS,
                reason="report.json names a file outside the release (an absolute path, or one with '..'); "
                       "verify opens only the repo's own files"))
            continue
        actual = sha256_file(path) if path.is_file() else remote_sha256.get(f.path)
        if actual == f.sha256:
            same.append(f.path)
            continue
        rows.append(ClaimCheck(
            claim=f"file {f.path}", text="a release file the figures were measured on",
            card=None, ledger=f.sha256[:12], remeasured=actual[:12] if actual else "missing",
            tolerance="identical sha256", verdict=FAILS,
            reason="the repo does not hold this file" if actual is None else "the file in the repo is not the one measured"))
    if same:
        rows.insert(0, ClaimCheck(
            claim=f"files ({len(same)})", text="the release files the figures were measured on", card=None,
            ledger=f"{len(same)} sha256", remeasured=f"{len(same)} identical", tolerance="identical sha256",
            verdict=HOLDS, reason=", ".join(same)))
    recorded = report.claims.inputs.get(ledger_module.IR)
    digest = ledger_module.files_digest(list(report.export.files))
    ok = recorded is not None and recorded.sha256 == digest
    rows.append(ClaimCheck(
        claim="input ir", text="the ledger's digest of the model files", card=None,
        ledger=recorded.sha256[:12] if recorded else None, remeasured=digest[:12], tolerance="identical sha256",
        verdict=HOLDS if ok else FAILS,
        reason="" if ok else "the ledger's digest of the model files does not match report.json's file list"))
    return rows


def inside(release_dir: Path, name: str) -> Path | None:
    """``release_dir / name`` when ``name`` is a path inside the release folder, else None (an
    absolute path, a '..' step, a NUL, or a link out of the folder)."""
    from pathlib import PurePosixPath

    if not name or "\x00" in name or "\\" in name or PurePosixPath(name).is_absolute() or \
            ".." in PurePosixPath(name).parts:
        return None
    path = release_dir / name
    try:
        resolved, root = path.resolve(), release_dir.resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    return path if root in resolved.parents else None


# --- the card ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Print:
    where: str  # "model-index" | "body line N"
    shown: str
    matches: bool


def _card_prints(readme: str, ledger: ClaimsLedger) -> tuple[dict[str, list[_Print]], list[ClaimCheck]]:
    """What the card shows for each claim, and a failing row for each figure, statement or
    model-index result no claim stands behind."""
    prints: dict[str, list[_Print]] = {}
    stray: list[ClaimCheck] = []
    match = FRONT_MATTER.search(readme)
    body, first = readme, 1
    if match:
        body, first = readme[match.end():], readme[: match.end()].count("\n") + 1
        _model_index_prints(readme, ledger, prints, stray)
        _lineage_print(match.group(2), ledger, prints, stray)
    for statement in readback.card_statements(body, first):
        claim = ledger.get(statement.claim_id)
        if readback.statement_matches(statement, claim):
            prints.setdefault(claim.id, []).append(_Print(f"body line {statement.line}", "stated", True))
        else:
            stray.append(ClaimCheck(
                claim=f"card line {statement.line}", text=statement.phrase, card=statement.phrase,
                ledger=claim.printed if claim else None, remeasured=None, tolerance=None, verdict=FAILS,
                reason="a statement on the card that no entry of the claims ledger stands behind"))
    for figure in readback.card_figures(body, first):
        claim, fits = readback.figure_claim(figure, ledger)
        if claim is None:
            stray.append(ClaimCheck(
                claim=f"card line {figure.line}", text=figure.label, card=figure.shown, ledger=None,
                remeasured=None, tolerance=None, verdict=FAILS,
                reason="a figure on the card that no entry of the claims ledger stands behind"))
            continue
        prints.setdefault(claim.id, []).append(_Print(f"body line {figure.line}", figure.shown, fits))
    return prints, stray


def _lineage_print(front_matter: str, ledger: ClaimsLedger, prints: dict[str, list[_Print]],
                   stray: list[ClaimCheck]) -> None:
    import yaml

    try:
        meta = yaml.safe_load(front_matter)
    except yaml.YAMLError:
        return
    stated = meta.get("base_model_relation") if isinstance(meta, dict) else None
    if stated is None:
        return
    claim = ledger.get("lineage.base_model_relation")
    if claim is None:
        stray.append(ClaimCheck("base_model_relation", "front matter", str(stated), None, None, None, FAILS,
                                "a lineage the claims ledger does not record"))
    else:
        prints.setdefault(claim.id, []).append(_Print("front matter", str(stated), str(stated) == claim.value))


def _model_index_prints(readme: str, ledger: ClaimsLedger, prints: dict[str, list[_Print]],
                        stray: list[ClaimCheck]) -> None:
    """Each model-index result must be one ledger claim (metric and config), on the ledger's dataset."""
    from huggingface_hub import ModelCard

    try:
        results = ModelCard(readme, ignore_metadata_errors=True).data.eval_results or []
    except Exception:  # metadata huggingface_hub cannot parse: lint reports it; nothing to compare
        results = []
    for index, result in enumerate(results):
        claim = ledger.get(f"{result.metric_type}.{result.metric_config}")
        where = f"model-index result {index + 1} ({result.metric_type}, config {result.metric_config})"
        if claim is None or "model-index" not in claim.where:
            stray.append(ClaimCheck(
                claim=where, text=str(result.metric_name), card=str(result.metric_value), ledger=None,
                remeasured=None, tolerance=None, verdict=FAILS,
                reason="a model-index result that no entry of the claims ledger stands behind"))
            continue
        value = result.metric_value
        shown, recorded = readback._number(value), readback._number(claim.value)  # None: not a number
        ok = shown is not None and recorded is not None and abs(shown - recorded) <= INDEX_TOLERANCE
        prints.setdefault(claim.id, []).append(_Print("model-index", str(value), ok))


# --- re-measuring -------------------------------------------------------------------------------------


def _remeasure(report: Report, release_dir: Path, options: CheckOptions, progress: Progress) -> Remeasured:
    out = Remeasured()
    task = task_of(report)
    if not options.eval_file and not options.dataset:
        _refuse_local_dataset(getattr(task.eval_dataset(report), "source", None))
    task.remeasure_from_ir(report, release_dir, options, progress, out)
    _remeasure_weights(report, release_dir, out, progress)
    if options.checkpoint is not None and out.eval_input is not None:
        _remeasure_with_checkpoint(report, task, release_dir, options, progress, out)
    return out


# Names ``datasets.load_dataset`` reads as a builder of local files (from the working folder when no
# file is given), not as a Hub dataset.
_PACKAGED_BUILDERS = {"csv", "json", "text", "parquet", "arrow", "pandas", "xml", "sql", "generator", "cache",
                      "imagefolder", "audiofolder", "videofolder", "pdffolder", "webdataset", "hdf5", "spark"}
_HUB_DATASET_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(?:/[\w.-]+)?$")


def _refuse_local_dataset(source: Any) -> None:
    """A report's "hub:NAME" is loaded by name: NAME must be a Hub dataset id, never a path (a folder
    ``datasets`` would read) nor a builder of local files, as the repo's report.json says it."""
    if not isinstance(source, str) or not source.startswith("hub:"):
        return
    name = source[4:]
    if len(name) <= 200 and _HUB_DATASET_ID.match(name) and ".." not in name \
            and name.lower() not in _PACKAGED_BUILDERS and not Path(name).exists():
        return
    raise BadInputError(
        f"The release names its evaluation data {source[:200]!r}, which is not a Hub dataset id (a path or a "
        "builder of local files); verify does not open paths a repo names",
        "Pass --dataset with the Hub dataset id of the data, or --eval-file with its rows")


def ir_failed(report: Report, out: Remeasured, exc: Exception) -> None:
    """An IR that does not run: a finding about the release (its run-based claims fail), not bad input."""
    problem = exc.problem if isinstance(exc, BadInputError) else str(exc).splitlines()[0]
    stage = task_of(report).evaluation_stage
    for claim in report.claims.claims:
        if claim.stage == stage and claim.recheck == RECHECK_IR:
            out.failures[claim.id] = f"the release's IR does not run: {problem}"


def check_data_sha(recorded: str | None, actual: str | None, what: str, options: CheckOptions,
                   out: Remeasured) -> None:
    if not recorded:
        out.data_note = "the ledger names the data without a sha256 (a Hub dataset): identified by name only"
        return
    if recorded == actual:
        return
    if not options.accept_other_data:
        raise BadInputError(
            f"The evaluation data verify found ({what}) has sha256 {actual}, but the ledger's figures "
            f"were measured on data with sha256 {recorded}; figures re-measured on other data would "
            "not re-check the card",
            "Pass --eval-file with the data the release names (its report.json says where it came "
            "from), or --accept-other-data to compare anyway",
        )
    out.data_note = f"on data whose sha256 ({(actual or '')[:12]}) differs from the ledger's ({recorded[:12]})"


def local_data_refused(source: str, sha256: str | None, what: str) -> BadInputError:
    # A path named by the repo's report.json is never opened: the reader names the file.
    return BadInputError(
        f"The release was evaluated on the file {source}; {what}",
        f"Pass --eval-file with that file (sha256 {sha256}); verify does not open paths a repo names")


def _remeasure_weights(report: Report, release_dir: Path, out: Remeasured, progress: Progress) -> None:
    """Sparsity, weight precisions, quantizer ops and NNCF's record, read from the IR's constants."""
    from publisher.card.claims import COMPRESSED_WEIGHT_FORMATS
    from publisher.stages.export import quantizer_ops

    with progress.stage("Counting the IR's weights"):
        try:
            sparsity = remeasure.ir_sparsity(release_dir)
            shares, counts = remeasure.weight_shares(release_dir)
            record = remeasure.compression_record(release_dir)
            ops = sum(quantizer_ops(remeasure.ir_xml(release_dir)).values())
        except (BadInputError, RuntimeError, OSError, SyntaxError) as exc:  # SyntaxError: a damaged .xml
            reason = f"the release's IR cannot be read: {str(exc).splitlines()[0]}"
            for claim in report.claims.claims:
                if claim.recheck == RECHECK_IR:
                    out.failures.setdefault(claim.id, reason)
            return
    if sparsity is not None:
        out.values[SPARSITY_OPENVINO] = Remeasurement(sparsity, task_of(report).shown(SPARSITY_OPENVINO, sparsity))
    sparsity = sparsity or 0.0
    for key, share in shares.items():
        if counts.get(key, 0) > 0:
            out.values[f"weight_precision.{key}"] = Remeasurement(share, Percent(1)(share))
    if "group_size" in record:
        out.values["quantization.group_size"] = Remeasurement(_float(record["group_size"]), record["group_size"])
    if "ratio" in record:
        out.values["quantization.ratio"] = Remeasurement(_float(record["ratio"]), record["ratio"])
    fmt = report.export.weight_format
    if fmt in COMPRESSED_WEIGHT_FORMATS:
        present = shares.get(fmt, 0.0) > 0
        out.values["compression.weights"] = Remeasurement(fmt if present else None,
                                                          f"{fmt.upper() if present else 'none'} ({_shares_text(shares)})")
    else:
        full_float = shares.get("float", 0.0) >= 1.0 - 1e-9
        out.values["compression.weights"] = Remeasurement(fmt if full_float else None, _shares_text(shares))
    qat = report.claims.get("compression.quantization_aware_training")
    if qat is not None and qat.recheck == RECHECK_IR:  # claimed from the IR's own quantizers
        out.values[qat.id] = Remeasurement(ops or None, f"{ops} FakeQuantize/FakeConvert ops")
    out.values["compression.pruning"] = Remeasurement(True if sparsity >= SPARSE_THRESHOLD else None,
                                                      f"{sparsity:.2f} zeros")
    import openvino as ov

    # Running here says nothing about the claimed release itself: only --openvino runs that.
    out.notes["compatibility.openvino"] = (f"the IR ran here on OpenVINO {facts.release_version(ov.get_version())}; "
                                           "pass --openvino with the claimed release to run it there")


def _remeasure_with_checkpoint(report: Report, task: Any, release_dir: Path, options: CheckOptions,
                               progress: Progress, out: Remeasured) -> None:
    from publisher.recheck import checkpoint_checks

    checkpoint = Path(options.checkpoint)
    note = checkpoint_checks.check_identity(report, checkpoint, options.accept_other_data) or ""
    values = task.remeasure_with_checkpoint(report, release_dir, checkpoint, out.eval_input, options, progress)
    for claim_id, value in values.items():
        out.values[claim_id] = Remeasurement(value, task.shown(claim_id, value), note)


def _shares_text(shares: dict[str, float]) -> str:
    return ", ".join(f"{k.upper() if k != 'float' else 'float'} {v:.1%}" for k, v in shares.items() if v > 0)


def _float(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


# --- one row per claim --------------------------------------------------------------------------------


def _claim_row(claim: Claim, rebuilt: Claim | None, prints: list[_Print], remeasured: Remeasured) -> ClaimCheck:
    problems = _ledger_problems(claim, rebuilt)
    rules = rebuilt or claim  # how to re-check: publisher's own rules, not the stored ledger's
    for p in prints:
        if not p.matches:
            problems.append(f"the card's {p.where} shows {p.shown}, the ledger {claim.printed}")
    card = "; ".join(dict.fromkeys(p.shown for p in prints)) or None
    tolerance = _tolerance_text(rules)
    shown_remeasured = None
    verdict, reason = HOLDS, ""
    measured = remeasured.values.get(claim.id) if rules.recheck in RE_MEASURABLE else None
    if claim.id in remeasured.failures:
        problems.append(remeasured.failures[claim.id])
    elif measured is not None:
        shown_remeasured = measured.shown
        ok, why = _within(rules, measured)
        if not ok:
            problems.append(why)
        reason = "; ".join(x for x in (measured.note, remeasured.data_note) if x)
        if measured.recorded_subset is not None:
            verdict = PARTIAL
    else:
        verdict = UNVERIFIABLE
        reason = remeasured.notes.get(claim.id) or {
            RECHECK_IR: "verify does not re-measure this claim",
            RECHECK_CHECKPOINT: "needs the checkpoint, which the release does not hold (pass --checkpoint)",
            RECHECK_MACHINE: rules.tolerance_reason,
        }.get(rules.recheck, f"a record, not a measurement ({rules.tolerance_reason})")
        if not problems:
            reason += "; card and ledger agree"
    if problems:
        return ClaimCheck(claim.id, claim.text, card, claim.printed, shown_remeasured, tolerance, FAILS,
                          "; ".join(problems))
    return ClaimCheck(claim.id, claim.text, card, claim.printed, shown_remeasured, tolerance, verdict, reason)


def _ledger_problems(claim: Claim, rebuilt: Claim | None) -> list[str]:
    """Where the stored entry departs from what publisher's rules give for report.json's measurements."""
    if rebuilt is None:
        return ["the ledger holds a claim that report.json's measurements do not give"]
    problems = []
    if not _same(claim.value, rebuilt.value):
        problems.append(f"the ledger says {claim.printed}, but report.json's measurement ({claim.field}) "
                        f"says {rebuilt.printed}")
    if claim.recheck != rebuilt.recheck or not _same(claim.tolerance, rebuilt.tolerance):
        problems.append(f"the ledger's re-check rule ({claim.recheck}, tolerance {claim.tolerance}) is not "
                        f"publisher's ({rebuilt.recheck}, tolerance {rebuilt.tolerance})")
    return problems


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        x, y = readback._number(a), readback._number(b)  # None: an int past float's range
        if x is None or y is None:
            return a == b
        return math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-15)
    return a == b


def _within(claim: Claim, measured: Remeasurement) -> tuple[bool, str]:
    """Whether a re-measurement bears the claim out."""
    value = measured.value
    if claim.kind == ledger_module.STATEMENT:
        if claim.id == EVALUATION_ROWS:
            return value == claim.value, f"re-ran {measured.shown}, the ledger says {claim.printed}"
        return value is not None, f"the IR does not show it ({claim.tolerance_reason})"
    if value is None:
        return False, "the IR does not record it"
    reference = measured.recorded_subset if measured.recorded_subset is not None else readback._number(claim.value)
    if reference is None:  # a stored entry whose value is text (no rebuilt claim stands in for it)
        return False, f"the ledger's value {str(claim.value)[:40]!r} is not a number"
    tolerance = measured.tolerance if measured.tolerance is not None else (claim.tolerance or 0.0)
    diff = abs(float(value) - reference)
    ok = diff <= tolerance + 1e-12
    return ok, f"re-measured {float(value):.6g}, {diff:.3g} from the recorded {reference:.6g} (tolerance {tolerance:.3g})"


def _tolerance_text(claim: Claim) -> str | None:
    if claim.recheck not in RE_MEASURABLE:
        return None
    if claim.kind == ledger_module.STATEMENT:
        return claim.tolerance_reason
    if claim.tolerance is None or claim.tolerance <= ledger_module.EXACT:
        return "exact"
    return f"±{claim.tolerance:.3g}"
