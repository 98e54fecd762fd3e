"""``publisher verify``: re-check the claims of published releases. Options only: the work is in
publisher.recheck."""

from __future__ import annotations

from pathlib import Path

import click

from publisher.cli import output
from publisher.cli.options import click_option
from publisher.options import BY_KEY

ENDPOINT = click_option(BY_KEY["endpoint"])
TOKEN_FILE = click_option(BY_KEY["token_file"])
JSON = click.option("--json", "as_json", is_flag=True, expose_value=True, callback=output.json_requested,
                    help="Print one JSON document on stdout (every claim with its verdict).")


@click.command("verify")
@click.argument("repo_id", metavar="REPO_ID", required=False)
@click.option("--revision", default="main", show_default=True, help="Branch, tag or commit to check.")
@ENDPOINT
@TOKEN_FILE
@click.option("--eval-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The evaluation data, when the file the release names is not on this machine.")
@click.option("--dataset", help="Hub dataset id of the evaluation data, when the release names a Hub dataset.")
@click.option("--accept-other-data", is_flag=True,
              help="Re-measure even on data whose sha256 differs from the one the ledger names.")
@click.option("--max-samples", type=click.IntRange(min=1),
              help="A quick partial check: the first N rows (classifier) or windows (language model), "
                   "compared one by one with the recorded ones.")
@click.option("--openvino", "openvino_versions", metavar="VERSIONS",
              help="Also run the IR on these OpenVINO releases (comma-separated, e.g. 2025.0,2025.4), "
                   "each installed once into a cached environment of its own.")
@click.option("--checkpoint", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="The training checkpoint the release was made from: re-measures the torch-side claims too.")
@click.option("--trust-pickle", is_flag=True, help="Let the checkpoint's pytorch_model.bin be unpickled.")
@click.option("--all", "namespace", metavar="NAMESPACE", help="Verify every model of NAMESPACE.")
@click.option("--repos", "repos_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Verify the repos listed in FILE (one namespace/name per line).")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("artifacts/verify"),
              show_default=True, help="Where releases are downloaded while they are checked.")
@click.option("--keep", is_flag=True, help="Keep the downloaded release files after the check.")
@JSON
def verify_command(repo_id: str | None, revision: str, endpoint: str | None, token_file: str | None,
                   eval_file: Path | None, dataset: str | None, accept_other_data: bool, max_samples: int | None,
                   openvino_versions: str | None, checkpoint: Path | None, trust_pickle: bool, namespace: str | None, repos_file: Path | None,
                   work_dir: Path, keep: bool, as_json: bool) -> None:
    """Re-check every claim of the release REPO_ID from the repository alone.

    Downloads the release's model files (never a checkpoint), checks their sha256 against the
    report's claims ledger, re-runs the IR on the evaluation data the ledger names, re-counts
    sparsity and weight precisions, and compares every figure on the card with the ledger and
    the re-measurement. A repo publisher did not publish gets what its IR can show checked.
    Exit 0 when every claim holds, 6 when one does not.
    """
    from publisher.card.remote import open_client
    from publisher.errors import BadInputError
    from publisher.progress import Progress
    from publisher.recheck import VerifyRequest, verify_fleet, verify_release
    from publisher.recheck.fleet import fleet_document, fleet_failure, fleet_repos
    from publisher.recheck.ledger_checks import CheckOptions
    from publisher.recheck.release import release_failure

    chosen = [x for x in (repo_id, namespace, repos_file) if x]
    if checkpoint is not None and not repo_id:
        raise BadInputError("--checkpoint belongs to one release", "Pass it with a REPO_ID, not with --all/--repos")
    if len(chosen) != 1:
        raise BadInputError("publisher verify needs exactly one of REPO_ID, --all NAMESPACE and --repos FILE",
                            "Pass a repo id to check one release, or --all / --repos for many")
    versions: list[str] = []
    if openvino_versions:
        from publisher.compat import parse_versions

        versions = parse_versions(openvino_versions)
    options = CheckOptions(eval_file=eval_file, dataset=dataset, max_samples=max_samples,
                           accept_other_data=accept_other_data, checkpoint=checkpoint, trust_pickle=trust_pickle)
    progress = Progress(quiet=as_json)

    def request(repo: str) -> VerifyRequest:
        return VerifyRequest(repo_id=repo, revision=revision, endpoint=endpoint, token_file=token_file,
                             options=options, openvino=versions, work_dir=work_dir, keep=keep)

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


COMMANDS = [verify_command]
