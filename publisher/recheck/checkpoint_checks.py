"""`publisher verify --checkpoint`: is the reader's checkpoint the one the release was measured from?

Its files' sha256 digest is in the ledger, so that a figure re-measured from another model is never
taken for a re-check. The torch-side figures themselves are re-measured by the task
(``Task.remeasure_with_checkpoint``).
"""

from __future__ import annotations

from pathlib import Path

from publisher.card import ledger as ledger_module
from publisher.errors import BadInputError
from publisher.results import Report


def check_identity(report: Report, checkpoint: Path, accept_other: bool) -> str | None:
    """None when ``checkpoint`` is the one measured; a note when it is not and that was accepted."""
    from publisher.stages.load import digest_folder

    if not checkpoint.is_dir():
        raise BadInputError(f"The checkpoint {checkpoint} is not a folder", "Pass the checkpoint folder")
    recorded = report.claims.inputs.get(ledger_module.CHECKPOINT)
    actual = ledger_module.files_digest(digest_folder(checkpoint))
    if recorded is None or recorded.sha256 == actual:
        return None
    if not accept_other:
        raise BadInputError(
            f"The checkpoint {checkpoint} is not the one the release was measured from (its files' digest "
            f"is {actual[:12]}, the ledger's {recorded.sha256[:12]})",
            "Pass the checkpoint folder the release was published from, or --accept-other-data to compare anyway")
    return f"on a checkpoint whose files differ from the ledger's ({actual[:12]} vs {recorded.sha256[:12]})"
