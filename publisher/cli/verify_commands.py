"""``publisher verify``: re-check the claims of published releases. Options only: the work is in
publisher.recheck."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from publisher.cli import output
from publisher.cli.options import options_for
from publisher.options import VERIFY, default

JSON = click.option("--json", "as_json", is_flag=True, expose_value=True, callback=output.json_requested,
                    help="Print one JSON document on stdout (every claim with its verdict).")


@click.command("verify")
@click.argument("repo_id", metavar="REPO_ID", required=False)
@options_for(VERIFY)
@JSON
def verify_command(repo_id: str | None, as_json: bool, **given: Any) -> None:
    """Re-check every claim of the release REPO_ID from the repository alone.

    Downloads the release's model files (never a checkpoint), checks their sha256 against the
    report's claims ledger, re-runs the IR on the evaluation data the ledger names, re-counts
    sparsity and weight precisions, and compares every figure on the card with the ledger and
    the re-measurement. A repo publisher did not publish gets what its IR can show checked.
    With --public-key, the release's model.sig is checked first, over every file of the commit.
    Exit 0 when every claim holds, 6 when one does not.
    """
    from publisher.card.remote import open_client
    from publisher.errors import BadInputError
    from publisher.progress import Progress
    from publisher.recheck import VerifyRequest, verify_fleet, verify_release
    from publisher.recheck.fleet import fleet_document, fleet_failure, fleet_repos
    from publisher.recheck.ledger_checks import CheckOptions
    from publisher.recheck.release import release_failure

    o = {k: (v if v not in (None, ()) else default(k)) for k, v in given.items()}
    checkpoint = Path(o["checkpoint"]) if o["checkpoint"] else None
    namespace, repos_file = o["namespace"], Path(o["repos_file"]) if o["repos_file"] else None
    chosen = [x for x in (repo_id, namespace, repos_file) if x]
    if checkpoint is not None and not repo_id:
        raise BadInputError("--checkpoint belongs to one release", "Pass it with a REPO_ID, not with --all/--repos")
    if len(chosen) != 1:
        raise BadInputError("publisher verify needs exactly one of REPO_ID, --all NAMESPACE and --repos FILE",
                            "Pass a repo id to check one release, or --all / --repos for many")
    versions: list[str] = []
    if o["openvino"]:
        from publisher.compat import parse_versions

        versions = list(dict.fromkeys(v for item in o["openvino"] for v in parse_versions(item)))
    if o["max_samples"] is not None and o["max_samples"] < 1:
        raise BadInputError(f"--max-samples must be at least 1, not {o['max_samples']}", "Fix --max-samples")
    options = CheckOptions(eval_file=_existing(o["eval_file"], "--eval-file"), dataset=o["dataset"],
                           max_samples=o["max_samples"], accept_other_data=bool(o["accept_other_data"]),
                           checkpoint=checkpoint, trust_pickle=bool(o["trust_pickle"]),
                           similarity_model=o["similarity_model"])
    revision, endpoint, token_file = o["revision"], o["endpoint"], o["token_file"]
    work_dir, keep = Path(o["work_dir"]), bool(o["keep"])
    public_key = _existing(o["public_key"], "--public-key")
    progress = Progress(quiet=as_json)

    def request(repo: str) -> VerifyRequest:
        return VerifyRequest(repo_id=repo, revision=revision, endpoint=endpoint, token_file=token_file,
                             options=options, openvino=versions, work_dir=work_dir, keep=keep,
                             public_key=public_key)

    if repo_id:
        with output.stdout_reserved_for_json(as_json):
            result = verify_release(request(repo_id), progress)
        document = result.to_dict()
        if as_json:
            if result.holds:
                output.print_json(document)
        else:
            output.print_verification(result)
        failure = release_failure(result, document)
        if failure is not None:
            raise failure
        return
    client, notice = open_client(endpoint, token_file)
    if notice:
        progress.note(notice)
    repos = fleet_repos(client, namespace, repos_file)
    with output.stdout_reserved_for_json(as_json):
        rows = verify_fleet(repos, request, client, progress)
    document = fleet_document(rows)
    if as_json:
        if document["holds"]:
            output.print_json(document)
    else:
        output.print_fleet(rows)
    failure = fleet_failure(rows, document)
    if failure is not None:
        raise failure


def _existing(path: str | None, flag: str) -> Path | None:
    from publisher.errors import BadInputError

    if path is None:
        return None
    if not Path(path).is_file():
        raise BadInputError(f"{flag} {path} is not a file", f"Pass {flag} with an existing file")
    return Path(path)


COMMANDS = [verify_command]
