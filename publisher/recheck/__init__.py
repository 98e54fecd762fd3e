"""`publisher verify`: re-check every claim of a published release from the repository alone.

``verify_release`` downloads a release (its model files, card and report, never a checkpoint),
then either re-checks publisher's claims ledger (``ledger_checks``) or, for a repo publisher did
not publish, what its card states that the IR can show (``foreign``). ``verify_fleet`` (``fleet``) does
it for every release of a namespace or a list of repos.
"""

from publisher.recheck.fleet import verify_fleet
from publisher.recheck.release import VerifyRequest, verify_release

__all__ = ["VerifyRequest", "verify_release", "verify_fleet"]
