"""The claims ledger: every claim a card makes, figure or statement, with the measurement behind it.

``build_ledger`` turns a report's measurements into ``Claim`` entries (value, the value as the
default template prints it, the stage and the inputs by sha256, who can re-check it and within what
tolerance). Each task declares its figures once, as a table (``publisher.tasks``: ``Task.figures``);
the statements every card makes are built here. The card context reads its figures from these entries, and rendering refuses
a card that shows a figure no entry stands behind (``readback.unledgered``); `publisher verify` re-checks the entries
from the repository alone.

Reading a card back (which claim a line states) is ``publisher.card.readback``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from publisher.card import claims as card_claims
from publisher.card import facts
from publisher.errors import BadInputError
from publisher.results import (
    Claim,
    ClaimsLedger,
    FileDigest,
    Kind,
    LedgerInput,
    MeasurementEnvironment,
    Recheck,
    Report,
    Where,
)
from publisher.tasks import task_of
from publisher.tasks.common import SPARSE_THRESHOLD
from publisher.tasks.contract import CHECKPOINT, DATA, EVALUATION_ROWS, EXACT, IR, Fixed, Significant, Task

QAT_CLAIM = "compression.quantization_aware_training"
SIGNATURE_CLAIM = "signature.key"  # the release set is signed with the key of this fingerprint
__all__ = ["EXACT", "build_ledger", "files_digest", "fixed", "ledger_of", "sig", "value"]


FIGURE, STATEMENT = Kind.FIGURE, Kind.STATEMENT
MODEL_INDEX, BODY = Where.MODEL_INDEX, Where.BODY


def fixed(value: float, digits: int) -> str:
    return Fixed(digits)(value)


def sig(value: float, digits: int) -> str:
    return Significant(digits)(value)


def files_digest(files: list[FileDigest]) -> str:
    """One sha256 for a set of files: of their "sha256  path" lines, sorted (as ``sha256sum`` prints)."""
    lines = sorted(f"{f.sha256}  {f.path}\n" for f in files)
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


# --- building ---------------------------------------------------------------------------------------


def build_ledger(report: Report, environment: MeasurementEnvironment | None = None) -> ClaimsLedger:
    """The ledger of ``report``'s card: the task's figures (its table, publisher.tasks), then the
    statements every card makes. ``environment`` is where the measurements were made (kept from the
    report's own ledger when the report has one)."""
    task = task_of(report)
    if environment is None:
        environment = report.claims.environment if report.claims is not None else _unknown_environment(report)
    claims = task.figure_claims(report) + _statements(report, task)
    return ClaimsLedger(environment=environment, inputs=_inputs(report, task), claims=claims,
                        method=task.ledger_method(report))


def _unknown_environment(report: Report) -> MeasurementEnvironment:
    # A report written before the ledger: its versions are known, the machine is not.
    return MeasurementEnvironment(versions=dict(report.export.versions), cpu="not recorded", isa=[],
                                  threads=0, inference_precision="")


def _inputs(report: Report, task: Task) -> dict[str, LedgerInput]:
    export_files = list(report.export.files)
    out = {IR: LedgerInput(IR, f"the release's model files ({len(export_files)} files: IR, config, tokenizer)",
                           files_digest(export_files), sorted(f.path for f in export_files))}
    dataset = task.eval_dataset(report)
    out[DATA] = LedgerInput(DATA, f"{task.data_description(report)}, from {dataset.source}", dataset.sha256 or "")
    checkpoint_files = list(report.checkpoint.files)
    out[CHECKPOINT] = LedgerInput(CHECKPOINT, f"the training checkpoint ({len(checkpoint_files)} files; "
                                  "not in the release)", files_digest(checkpoint_files),
                                  sorted(f.path for f in checkpoint_files))
    return out


def _statement(claim_id: str, text: str, value: Any, printed: str, stage: str, field: str, inputs: list[str],
               recheck: Recheck, reason: str, where: Where = BODY, tolerance: float | None = None) -> Claim:
    return Claim(claim_id, STATEMENT, text, value, printed, stage, field, inputs, recheck, tolerance, reason,
                 [where])


def _statements(report: Report, task: Task) -> list[Claim]:
    """What the card says about how the model was made and measured, each from its own evidence."""
    rows = task.rows_statement(report)
    out: list[Claim] = [_statement(EVALUATION_ROWS, rows.printed, rows.value, rows.printed, rows.stage, rows.field,
                                   [DATA], Recheck.IR, rows.reason)]
    fmt = report.export.weight_format
    title = fmt.upper()
    if fmt in card_claims.COMPRESSED_WEIGHT_FORMATS:
        text, printed = f"weights compressed to {title} by NNCF", f"compressed to {title}"
    else:
        text, printed = f"{title} weights", f"{title} weights"
    out.append(_statement("compression.weights", text, fmt, printed, "export", "export.weight_format", [IR],
                          Recheck.IR, "the IR's weight constants show the precision"))
    evidence = card_claims.report_compression(report)
    for phrase in evidence.methods:
        if phrase == card_claims.QAT:
            ops = sum(report.export.quantizer_ops.values())
            if ops:  # the quantizers are in the IR itself: anyone can count them
                out.append(_statement(QAT_CLAIM, phrase, ops, phrase, "export", "export.quantizer_ops", [IR],
                                      Recheck.IR, f"{ops} FakeQuantize/FakeConvert ops in the IR"))
            else:
                out.append(_statement(QAT_CLAIM, phrase, True, phrase, "load", "checkpoint.nncf_state", [CHECKPOINT],
                                      Recheck.CHECKPOINT, "NNCF quantizer state in the checkpoint"))
        elif phrase == card_claims.DISTILLATION:
            out.append(_statement("compression.distillation", phrase, report.checkpoint.training.teacher_model,
                                  phrase, "training_metadata", "checkpoint.training.teacher_model", [],
                                  Recheck.RECORD, "a teacher named by the training records; not a measurement"))
        else:
            out.append(_statement("compression.pruning", phrase, True, phrase, "sparsity", "sparsity.torch.overall",
                                  [IR], Recheck.IR, f"the IR's linear weights are at least {SPARSE_THRESHOLD:.0%} zeros",
                                  tolerance=SPARSE_THRESHOLD))
    versions = facts.compatibility(report)
    compat = report.compatibility
    if versions.get("openvino"):
        value = versions["openvino"]
        if compat is not None:
            tested = "; ".join(f"{r.version or r.requested} {'passed' if r.passed else 'failed'}" for r in compat.runs)
            reason = f"the IR was run on OpenVINO {tested} (and {compat.reference}, the reference)"
        else:
            reason = f"the IR was exported and measured with OpenVINO {report.export.versions.get('openvino')}"
        printed = f"OpenVINO {value} and higher" if facts.and_higher(report) else f"OpenVINO {value}"
        out.append(_statement("compatibility.openvino", f"works with {printed}", value, printed,
                              "compatibility" if compat is not None else "export",
                              "compatibility" if compat is not None else "export.versions.openvino", [IR],
                              Recheck.IR, reason))
    signing = report.card.signing
    if signing is not None:  # known from the key before signing: the card is among the signed files
        printed = f"sha256:{signing.fingerprint}"
        out.append(_statement(SIGNATURE_CLAIM, f"signed ({signing.method}); public key fingerprint {printed}",
                              signing.fingerprint, printed, "sign", "card.signing.fingerprint", [],
                              Recheck.RECORD, f"{signing.signature} is checked over the commit's files by "
                              "`publisher verify --public-key`; the fingerprint names a key, not its holder"))
    relation = card_claims.report_relation(report)
    if relation.value:
        out.append(_statement("lineage.base_model_relation", f"base_model_relation: {relation.value}",
                              relation.value, relation.value, "training_metadata", "checkpoint.training", [],
                              Recheck.RECORD, relation.reason, MODEL_INDEX))
    return out


# --- reading ------------------------------------------------------------------------------------------


def ledger_of(report: Report) -> ClaimsLedger:
    """The report's own ledger, else one built from its measurements (reports before the ledger)."""
    return report.claims if report.claims is not None else build_ledger(report)


def value(ledger: ClaimsLedger, claim_id: str) -> Any:
    """The value of a claim for the card; a card cannot show a figure the ledger lacks."""
    claim = ledger.get(claim_id)
    if claim is None:
        raise BadInputError(f"The card asks for {claim_id!r}, which the claims ledger has no entry for",
                            "Re-run `publisher publish`: the ledger is written from the run's measurements")
    return claim.value
