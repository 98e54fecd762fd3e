"""Re-checking a release publisher published: its files, its ledger, its card, and the IR's figures.

Every claim of the ledger gets one row. A row fails when any of these disagree:

- the ledger and the measurement in report.json it names (``Claim.field``), rebuilt with the same
  code that wrote the ledger;
- the card (model-index and body) and the ledger, at the precision the card prints;
- a re-measurement from the downloaded IR and the ledger, beyond the claim's tolerance.

Claims only the training checkpoint can re-measure are "not re-checkable" (their card and ledger
values are still compared); so are records (a teacher's name) and timings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from publisher.card import facts
from publisher.card import ledger as ledger_module
from publisher.card.schema import FRONT_MATTER
from publisher.digest import sha256_file
from publisher.errors import BadInputError
from publisher.progress import Progress
from publisher.recheck import remeasure
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
    Report,
)

INDEX_TOLERANCE = 0.5 * 10 ** -facts.METRIC_DECIMALS + 1e-12


@dataclass(frozen=True)
class CheckOptions:
    eval_file: Path | None = None
    dataset: str | None = None  # Hub dataset id, when the ledger's data is a Hub dataset
    max_samples: int | None = None  # rows (classifier) or windows (LM) for a partial check
    accept_other_data: bool = False  # run on data (or a checkpoint) whose sha256 differs from the ledger's
    batch_size: int = 32
    checkpoint: Path | None = None  # the training checkpoint, to re-measure the torch-side claims
    trust_pickle: bool = False  # let the checkpoint's .bin weights be unpickled


@dataclass
class _Remeasured:
    """What the IR showed, by claim id: (value, shown, partial_note)."""

    values: dict[str, tuple[Any, str, str | None]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # claim id -> why it could not be re-measured
    data_note: str = ""
    partial: str | None = None
    eval_input: Any = None  # the classifier's EvalDataSpec, or the LM's EvalText, as loaded
    sample: Any = None  # (texts or text, name): what a compatibility run feeds, as publish did


def check_release(report: Report, readme: str, release_dir: Path, options: CheckOptions,
                  progress: Progress) -> tuple[list[ClaimCheck], str | None, Any]:
    """One row per file and per claim; what a partial check covered (None: all of it); and the
    evaluation sample (texts or text, name) for compatibility runs."""
    ledger = report.claims
    rows = _file_rows(report, release_dir)
    rebuilt = ledger_module.build_ledger(report, ledger.environment)
    card_prints, stray = _card_prints(readme, ledger)
    remeasured = _remeasure(report, release_dir, options, progress)
    for claim in ledger.claims:
        rows.append(_claim_row(claim, rebuilt.get(claim.id), card_prints.get(claim.id, []), remeasured))
    rows += stray
    return rows, remeasured.partial, remeasured.sample


# --- files ----------------------------------------------------------------------------------------


def _file_rows(report: Report, release_dir: Path) -> list[ClaimCheck]:
    rows = []
    for f in report.export.files:
        path = release_dir / f.path
        actual = sha256_file(path) if path.is_file() else None
        ok = actual == f.sha256
        rows.append(ClaimCheck(
            claim=f"file {f.path}", text="the release file the figures were measured on",
            card=None, ledger=f.sha256[:12], remeasured=actual[:12] if actual else "missing",
            tolerance="identical sha256", verdict=HOLDS if ok else FAILS,
            reason="" if ok else ("the repo does not hold this file" if actual is None else
                                  "the file in the repo is not the one measured")))
    recorded = report.claims.inputs.get(ledger_module.IR)
    if recorded is not None:
        digest = ledger_module.files_digest(list(report.export.files))
        ok = recorded.sha256 == digest
        rows.append(ClaimCheck(
            claim="input ir", text=recorded.description, card=None, ledger=recorded.sha256[:12],
            remeasured=digest[:12], tolerance="identical sha256", verdict=HOLDS if ok else FAILS,
            reason="" if ok else "the ledger's digest of the model files does not match report.json's file list"))
    return rows


# --- the card ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Print:
    where: str  # "model-index" | "body line N"
    shown: str
    matches: bool


def _card_prints(readme: str, ledger: Any) -> tuple[dict[str, list[_Print]], list[ClaimCheck]]:
    """What the card shows for each claim, and a failing row for each figure no claim stands behind."""
    prints: dict[str, list[_Print]] = {}
    stray: list[ClaimCheck] = []
    match = FRONT_MATTER.search(readme)
    body, first = readme, 1
    if match:
        body, first = readme[match.end():], readme[: match.end()].count("\n") + 1
        for claim_id, value in _model_index_values(readme, ledger).items():
            claim = ledger.get(claim_id)
            ok = isinstance(value, (int, float)) and abs(float(value) - float(claim.value)) <= INDEX_TOLERANCE
            prints.setdefault(claim_id, []).append(_Print("model-index", str(value), ok))
    statements = {c.printed: c for c in ledger.claims if c.kind == ledger_module.STATEMENT}
    for line, phrase in ledger_module.card_statements(body, first):
        claim = statements.get(phrase)
        if claim is not None:
            prints.setdefault(claim.id, []).append(_Print(f"body line {line}", "stated", True))
        else:
            stray.append(ClaimCheck(
                claim=f"card line {line}", text=phrase, card=phrase, ledger=None, remeasured=None, tolerance=None,
                verdict=FAILS, reason="a statement on the card that no entry of the claims ledger stands behind"))
    for figure in ledger_module.card_figures(body, first):
        candidates = ledger_module.claims_for_label(figure.label, ledger)
        if not candidates:
            stray.append(ClaimCheck(
                claim=f"card line {figure.line}", text=figure.label, card=figure.shown, ledger=None,
                remeasured=None, tolerance=None, verdict=FAILS,
                reason="a figure on the card that no entry of the claims ledger stands behind"))
            continue
        fitting = [c for c in candidates if ledger_module.printed_matches(figure.printed, float(c.value), figure.percent)]
        claim = (fitting or candidates)[0]
        prints.setdefault(claim.id, []).append(_Print(f"body line {figure.line}", figure.shown, bool(fitting)))
    return prints, stray


def _model_index_values(readme: str, ledger: Any) -> dict[str, Any]:
    """Ledger claim id -> the model-index value the card gives for it (metric type and config)."""
    from huggingface_hub import ModelCard

    try:
        results = ModelCard(readme, ignore_metadata_errors=True).data.eval_results or []
    except Exception:  # a card huggingface_hub cannot parse has no model-index to compare
        return {}
    out: dict[str, Any] = {}
    for result in results:
        claim_id = f"{result.metric_type}.{result.metric_config}"
        if ledger.get(claim_id) is not None:
            out[claim_id] = result.metric_value
    return out


# --- re-measuring -------------------------------------------------------------------------------------


def _remeasure(report: Report, release_dir: Path, options: CheckOptions, progress: Progress) -> _Remeasured:
    out = _Remeasured()
    if facts.is_text_generation(report):
        _remeasure_text_generation(report, release_dir, options, progress, out)
    else:
        _remeasure_classifier(report, release_dir, options, progress, out)
    _remeasure_weights(report, release_dir, out, progress)
    if options.checkpoint is not None and out.eval_input is not None:
        _remeasure_with_checkpoint(report, release_dir, options, progress, out)
    return out


def _remeasure_with_checkpoint(report: Report, release_dir: Path, options: CheckOptions, progress: Progress,
                               out: _Remeasured) -> None:
    from publisher.recheck import checkpoint_checks

    checkpoint = Path(options.checkpoint)
    note = checkpoint_checks.check_identity(report, checkpoint, options.accept_other_data)
    if facts.is_text_generation(report):
        values = checkpoint_checks.remeasure_text_generation(report, release_dir, checkpoint, out.eval_input,
                                                             trust_pickle=options.trust_pickle, progress=progress)
    else:
        values = checkpoint_checks.remeasure_classifier(report, release_dir, checkpoint, out.eval_input,
                                                        batch_size=options.batch_size,
                                                        trust_pickle=options.trust_pickle, progress=progress)
    for claim_id, (value, shown, _) in values.items():
        out.values[claim_id] = (value, shown, note)


def _ir_failed(report: Report, out: _Remeasured, exc: BadInputError) -> None:
    """A damaged IR is a finding about the release, not bad input: its run-based claims get the reason."""
    for claim in report.claims.claims:
        if claim.stage in ("accuracy", "perplexity") and claim.recheck == RECHECK_IR:
            out.notes[claim.id] = f"the IR could not be run: {exc.problem}"


def _check_data_sha(recorded: str | None, actual: str | None, what: str, options: CheckOptions,
                    out: _Remeasured) -> None:
    if not recorded or recorded == actual:
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


def _remeasure_classifier(report: Report, release_dir: Path, options: CheckOptions, progress: Progress,
                          out: _Remeasured) -> None:
    from publisher.stages.data import EvalDataSpec, load_eval_data

    acc = report.accuracy
    ds = acc.dataset
    common = dict(split=ds.split, text_column=ds.text_column, label_column=ds.label_column,
                  max_samples=ds.num_samples)
    if options.eval_file:
        spec = EvalDataSpec(eval_file=str(options.eval_file), **common)
    elif ds.source.startswith("bundled:"):
        spec = EvalDataSpec(max_samples=ds.num_samples)
    elif ds.source.startswith("hub:"):
        spec = EvalDataSpec(dataset=options.dataset or ds.source[4:], dataset_config=ds.config, **common)
    elif Path(ds.source).is_file():
        spec = EvalDataSpec(eval_file=ds.source, **common)
    else:
        raise BadInputError(
            f"The release was evaluated on {ds.source}, which is not on this machine; "
            "the evaluation data is needed to re-measure the IR's accuracy",
            f"Pass --eval-file with that file (sha256 {ds.sha256})")
    with progress.stage("Loading the evaluation data"):
        data = load_eval_data(spec)
    _check_data_sha(ds.sha256, data.info.sha256, data.info.source, options, out)
    out.eval_input = spec
    out.sample = (data.texts, f"{data.info.name} {data.info.split}")
    rows = len(data.texts)
    limit = min(options.max_samples, rows) if options.max_samples else rows
    try:
        run = remeasure.classifier_accuracy(
            release_dir, data.texts[:limit], data.labels[:limit], dict(acc.label_mapping),
            max_length=acc.max_length or 128, batch_size=options.batch_size, progress=progress)
    except BadInputError as exc:
        return _ir_failed(report, out, exc)
    claim_id = f"{acc.metric}.openvino"
    if limit == rows:
        out.values[claim_id] = (run.metric, ledger_module.fixed(run.metric, 4), None)
        return
    out.partial = f"{limit} of {rows} samples"
    recorded = list(acc.openvino_predictions)
    if len(recorded) < limit:
        out.notes[claim_id] = ("a partial check compares sample by sample, and this report has no per-sample "
                               "predictions (written before publisher recorded them): run without --max-samples")
        return
    agree = sum(1 for a, b in zip(recorded[:limit], run.predictions) if a == b)
    from publisher.stages.accuracy import score_predictions

    recorded_subset = score_predictions(recorded[:limit], data.labels[:limit])
    note = (f"the first {limit} of {rows} samples: {agree} of {limit} predictions as recorded; accuracy on "
            f"them {run.metric:.4f}, recorded {recorded_subset:.4f}")
    out.values[claim_id] = (run.metric, ledger_module.fixed(run.metric, 4), note)
    out.values[f"{claim_id}#subset"] = (recorded_subset, "", None)


def _remeasure_text_generation(report: Report, release_dir: Path, options: CheckOptions, progress: Progress,
                               out: _Remeasured) -> None:
    from publisher.stages.text_data import TextEvalSpec, load_eval_text

    ppl = report.text_generation.perplexity
    ds = ppl.dataset
    if options.eval_file:
        spec = TextEvalSpec(eval_file=Path(options.eval_file))
    elif ds.source.startswith("bundled:"):
        spec = TextEvalSpec()
    elif ds.source.startswith("hub:"):
        spec = TextEvalSpec(dataset=options.dataset or ds.type, dataset_config=ds.config, split=ds.split or "test")
    elif Path(ds.source).is_file():
        spec = TextEvalSpec(eval_file=Path(ds.source))
    else:
        raise BadInputError(
            f"The release was evaluated on {ds.source}, which is not on this machine; the text is needed "
            "to re-measure the IR's perplexity", f"Pass --eval-file with that file (sha256 of the text {ds.sha256})")
    import hashlib

    loaded_text = load_eval_text(spec)
    text = loaded_text.text[: ds.num_characters]
    _check_data_sha(ds.sha256, hashlib.sha256(text.encode("utf-8")).hexdigest(), "the evaluation text",
                    options, out)
    import dataclasses

    out.eval_input = dataclasses.replace(loaded_text, text=text, info=dataclasses.replace(
        loaded_text.info, num_characters=len(text)))
    out.sample = (text, loaded_text.info.name)
    limit = min(options.max_samples, ppl.windows) if options.max_samples else None
    precision = remeasure.supported_precision(ppl.inference_precision)
    try:
        run = remeasure.causal_lm_perplexity(release_dir, text, window=ppl.window, stride=ppl.stride,
                                             max_windows=ppl.max_windows if ppl.max_windows else ppl.windows,
                                             limit=limit, inference_precision=precision, progress=progress)
    except (BadInputError, RuntimeError) as exc:
        error = exc if isinstance(exc, BadInputError) else BadInputError(str(exc).splitlines()[0])
        return _ir_failed(report, out, error)
    if limit is None or limit >= ppl.windows:
        out.values["perplexity.openvino"] = (run.perplexity, ledger_module.fixed(run.perplexity, 2),
                                             None if precision else f"in {run.inference_precision}")
        return
    out.partial = f"{limit} of {ppl.windows} windows"
    recorded = list(ppl.openvino_window_nll)
    if len(recorded) < limit:
        out.notes["perplexity.openvino"] = ("a partial check compares window by window, and this report has no "
                                            "per-window figures: run without --max-samples")
        return
    tokens = sum(run.window_tokens)
    recorded_ppl = math.exp(sum(recorded[:limit]) / tokens)
    note = (f"the first {limit} of {ppl.windows} windows ({tokens} tokens): perplexity {run.perplexity:.2f}, "
            f"recorded {recorded_ppl:.2f}")
    out.values["perplexity.openvino"] = (run.perplexity, ledger_module.fixed(run.perplexity, 2), note)
    out.values["perplexity.openvino#subset"] = (recorded_ppl, "", None)


def _remeasure_weights(report: Report, release_dir: Path, out: _Remeasured, progress: Progress) -> None:
    """Sparsity, weight precisions and NNCF's record, read from the IR's constants."""
    import openvino as ov

    from publisher.card.claims import COMPRESSED_WEIGHT_FORMATS

    with progress.stage("Counting the IR's weights"):
        try:
            sparsity = remeasure.ir_sparsity(release_dir)
            shares, counts = remeasure.weight_shares(release_dir)
            record = remeasure.compression_record(release_dir)
        except (BadInputError, RuntimeError) as exc:
            for claim in report.claims.claims:
                if claim.recheck == RECHECK_IR:
                    out.notes.setdefault(claim.id, f"the IR could not be read: {str(exc).splitlines()[0]}")
            return
    out.values["sparsity.openvino"] = (sparsity, ledger_module.fixed(sparsity, 2), None)
    for key, share in shares.items():
        if counts.get(key, 0) > 0:
            out.values[f"weight_precision.{key}"] = (share, f"{share * 100:.1f}%", None)
    if "group_size" in record:
        out.values["quantization.group_size"] = (_float(record["group_size"]), record["group_size"], None)
    if "ratio" in record:
        out.values["quantization.ratio"] = (_float(record["ratio"]), record["ratio"], None)
    fmt = report.export.weight_format
    if fmt in COMPRESSED_WEIGHT_FORMATS:
        shown = fmt.upper() if shares.get(fmt, 0.0) > 0 else "none"
        out.values["compression.weights"] = (fmt if shares.get(fmt, 0.0) > 0 else None,
                                             f"{shown} ({_shares_text(shares)})", None)
    else:
        full_float = shares.get("float", 0.0) >= 1.0 - 1e-9
        out.values["compression.weights"] = (fmt if full_float else None, _shares_text(shares), None)
    from publisher.stages.export import quantizer_ops

    ops = sum(quantizer_ops(remeasure.ir_xml(release_dir)).values())
    out.values["compression.quantization_aware_training"] = (ops or None, f"{ops} FakeQuantize/FakeConvert ops", None)
    sparse = sparsity >= facts.SPARSE_THRESHOLD
    out.values["compression.pruning"] = (True if sparse else None, f"{sparsity:.2f} zeros", None)
    current = facts.release_version(ov.get_version()) or ""
    out.values["compatibility.openvino"] = (current, f"ran on {current}", None)


def _shares_text(shares: dict[str, float]) -> str:
    return ", ".join(f"{k.upper() if k != 'float' else 'float'} {v:.1%}" for k, v in shares.items() if v > 0)


def _float(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


# --- one row per claim --------------------------------------------------------------------------------


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _claim_row(claim: Claim, rebuilt: Claim | None, prints: list[_Print], remeasured: _Remeasured) -> ClaimCheck:
    problems: list[str] = []
    if rebuilt is None:
        problems.append("report.json's measurements no longer give this claim")
    elif not _same(claim.value, rebuilt.value):
        problems.append(f"the ledger says {claim.printed}, but report.json's measurement ({claim.field}) "
                        f"says {rebuilt.printed}")
    for p in prints:
        if not p.matches:
            problems.append(f"the card's {p.where} shows {p.shown}, the ledger {claim.printed}")
    card = "; ".join(dict.fromkeys(p.shown for p in prints)) or None
    tolerance = _tolerance_text(claim)
    shown_remeasured = None
    verdict = HOLDS
    reason = ""
    if claim.recheck in (RECHECK_IR, RECHECK_CHECKPOINT) and claim.id in remeasured.values:
        value, shown_remeasured, note = remeasured.values[claim.id]
        subset = remeasured.values.get(f"{claim.id}#subset")
        ok, why = _within(claim, value, subset[0] if subset else None)
        if not ok:
            problems.append(why)
        if note:
            reason = note
        if subset is not None:
            verdict = PARTIAL
        if remeasured.data_note:
            reason = f"{reason}; {remeasured.data_note}" if reason else remeasured.data_note
    elif claim.recheck == RECHECK_IR:
        verdict = UNVERIFIABLE
        reason = remeasured.notes.get(claim.id, "verify does not re-measure this claim")
    else:
        verdict = UNVERIFIABLE
        reason = {RECHECK_CHECKPOINT: "needs the checkpoint, which the release does not hold",
                  RECHECK_MACHINE: claim.tolerance_reason}.get(claim.recheck,
                                                             f"a record, not a measurement ({claim.tolerance_reason})")
        if not problems:
            reason += "; card and ledger agree"
    if problems:
        return ClaimCheck(claim.id, claim.text, card, claim.printed, shown_remeasured, tolerance, FAILS,
                          "; ".join(problems))
    return ClaimCheck(claim.id, claim.text, card, claim.printed, shown_remeasured, tolerance, verdict, reason)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-15)
    return a == b


def _within(claim: Claim, value: Any, subset_recorded: float | None) -> tuple[bool, str]:
    """Whether a re-measured value bears the claim out."""
    if claim.id == "compatibility.openvino":
        ok = bool(value) and _version_key(str(value)) >= _version_key(str(claim.value))
        return ok, f"this machine's OpenVINO {value} is older than the claimed {claim.value}"
    if claim.kind == ledger_module.STATEMENT:
        return value is not None, f"the IR does not show it ({claim.tolerance_reason})"
    if value is None:
        return False, "the IR does not record it"
    reference = subset_recorded if subset_recorded is not None else float(claim.value)
    tolerance = claim.tolerance if claim.tolerance is not None else 0.0
    diff = abs(float(value) - reference)
    ok = diff <= tolerance + 1e-12
    return ok, f"re-measured {float(value):.6g}, {diff:.3g} from the recorded {reference:.6g} (tolerance {tolerance:.3g})"


def _tolerance_text(claim: Claim) -> str | None:
    if claim.recheck not in (RECHECK_IR, RECHECK_CHECKPOINT):
        return None
    if claim.kind == ledger_module.STATEMENT:
        return claim.tolerance_reason
    if claim.tolerance is None or claim.tolerance <= ledger_module.EXACT:
        return "exact"
    return f"±{claim.tolerance:.3g}"
