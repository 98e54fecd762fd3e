"""Verifying many releases (``publisher verify --all NAMESPACE`` or ``--repos FILE``): the repos,
one row per repo (an error in one is that repo's row, not the end), one document for all of them,
and the one error the fleet ends with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from publisher.card import remote
from publisher.errors import BadInputError, ClaimFailedError, PublisherError
from publisher.progress import Progress
from publisher.recheck.release import VerifyRequest, verify_release
from publisher.results import ReleaseVerification


@dataclass(frozen=True)
class FleetRow:
    repo_id: str
    result: ReleaseVerification | None
    error: PublisherError | None


def fleet_repos(client: Any, namespace: str | None, repos_file: Path | None) -> list[str]:
    """The repos of ``namespace`` (every model it holds) or those listed in ``repos_file``."""
    if repos_file is not None:
        try:
            lines = Path(repos_file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise BadInputError(f"Cannot read the repo list {repos_file} ({exc.strerror})", "Check --repos") from exc
        repos = [line.split("#", 1)[0].strip() for line in lines]
        repos = [r for r in repos if r]
        bad = [r for r in repos if not remote.is_repo_id(r)]
        if bad:
            raise BadInputError(f"The repo list {repos_file} holds lines that are not repo ids: {', '.join(bad[:3])}",
                                "Write one namespace/name per line (# starts a comment)")
        if not repos:
            raise BadInputError(f"The repo list {repos_file} names no repos", "Write one namespace/name per line")
        return repos
    repos = client.list_models(namespace)
    if not repos:
        raise BadInputError(f"The namespace {namespace!r} holds no models on {client.endpoint}",
                            "Check the namespace and the endpoint")
    return repos


def verify_fleet(repos: list[str], make_request: Callable[[str], VerifyRequest], client: Any,
                 progress: Progress | None = None) -> list[FleetRow]:
    """Every repo checked in turn; an error in one (bad input, Hub) is that repo's row, not the end."""
    progress = progress or Progress(quiet=True)
    rows = []
    for repo in repos:
        progress.note(f"Verifying {repo}")
        try:
            rows.append(FleetRow(repo, verify_release(make_request(repo), progress, client=client), None))
        except PublisherError as exc:
            rows.append(FleetRow(repo, None, exc))
    return rows


def fleet_document(rows: list[Any]) -> dict[str, Any]:
    """One JSON document for `publisher verify --all/--repos`."""
    releases = []
    for row in rows:
        if row.result is not None:
            releases.append({"repo_id": row.repo_id, "status": "holds" if row.result.holds else "does not hold",
                             "failed": [c.claim for c in row.result.failed], "verification": row.result.to_dict()})
        else:
            status = "skipped" if getattr(row.error, "skippable", False) else "error"
            releases.append({"repo_id": row.repo_id, "status": status, "failed": [],
                             "error": {"exit_code": row.error.exit_code, "kind": row.error.kind,
                                       "message": row.error.paragraph()}})
    holds = all(r["status"] in ("holds", "skipped") for r in releases)
    return {"status": "holds" if holds else "does not hold", "holds": holds, "releases": releases}


def fleet_failure(rows: list[FleetRow], document: dict[str, Any]) -> PublisherError | None:
    """The error the fleet ends with, carrying its document: claims that do not hold first, else
    the gravest error (Hub before bad input) among the releases that could not be checked; None
    when every release holds or was skipped."""
    failing = [r["repo_id"] for r in document["releases"] if r["status"] == "does not hold"]
    if failing:
        return ClaimFailedError(f"{len(failing)} of {len(rows)} releases have claims that do not hold: "
                                f"{', '.join(failing)}", "Run `publisher verify REPO_ID` on each for its table",
                                document=document)
    errors = sorted((r.error for r in rows if r.error is not None and not getattr(r.error, "skippable", False)),
                    key=lambda e: -e.exit_code)
    if errors:
        # The usual code of the gravest error (Hub before bad input), with the fleet's document.
        names = ", ".join(r.repo_id for r in rows if r.error is errors[0])
        return type(errors[0])(f"{len(errors)} of {len(rows)} releases could not be checked ({names}: "
                               f"{errors[0].problem})", errors[0].fix, document=document)
    return None
