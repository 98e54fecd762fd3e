"""Fetching a release and re-checking it; and doing so for a whole namespace."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from publisher.card import remote
from publisher.errors import BadInputError, PublisherError
from publisher.progress import Progress
from publisher.recheck.ledger_checks import CheckOptions, check_release
from publisher.results import FAILS, UNVERIFIABLE, ClaimCheck, ReleaseVerification

# Files a release's IR needs besides itself: configs and tokenizers. Weights of any other kind
# (PyTorch, safetensors) and pickles such as training_args.bin are never downloaded.
_SIDE_FILES = (".json", ".txt", ".model", ".tiktoken", ".jinja")
_NEVER = ("training_args.bin",)


@dataclass(frozen=True)
class VerifyRequest:
    repo_id: str
    revision: str = "main"
    endpoint: str | None = None
    token_file: str | None = None
    options: CheckOptions = field(default_factory=CheckOptions)
    openvino: list[str] = field(default_factory=list)  # OpenVINO releases to run the IR on
    work_dir: Path = Path("artifacts/verify")  # where releases are downloaded
    keep: bool = False  # keep the downloaded files after the check


def release_files(listing: dict[str, Any], report: Any | None) -> list[str]:
    """What to download: the files the report's figures were measured on, else the IR and its side files."""
    if report is not None:
        return sorted({f.path for f in report.export.files})
    names = set(listing)
    chosen: set[str] = set()
    for path in names:
        if path.endswith(".xml") and path[:-4] + ".bin" in names:
            chosen.update({path, path[:-4] + ".bin"})
        elif path.endswith(_SIDE_FILES) and "/" not in path and path not in _NEVER:
            chosen.add(path)
    return sorted(chosen)


def verify_release(request: VerifyRequest, progress: Progress | None = None, *,
                   client: Any = None) -> ReleaseVerification:
    from publisher.recheck import foreign

    progress = progress or Progress(quiet=True)
    start = time.perf_counter()
    if not remote.is_repo_id(request.repo_id):
        raise BadInputError(f"{request.repo_id!r} is not a Hub repo id (namespace/name)",
                            "Pass the repo id of a release, e.g. my-org/my-model-int8-ov")
    if client is None:
        client, notice = remote.open_client(request.endpoint, request.token_file)
        if notice:
            progress.note(notice)
    with progress.stage(f"Reading {request.repo_id} at {request.revision}"):
        card = remote.fetch_card(client, request.repo_id, request.revision)
        listing = client.list_files(request.repo_id, card.revision)
    if card.readme is None:
        raise BadInputError(f"The repo {request.repo_id} has no README.md, so it makes no claims to check",
                            "Check the repo id and revision")
    report = card.report
    rebuilt_note = None
    if report is not None and report.claims is None:
        # A release published before the ledger: its report.json holds the measurements, so the
        # ledger they give is rebuilt here (the machine they were made on is not recorded).
        from publisher.card.ledger import build_ledger

        report = report.replace(claims=build_ledger(report))
        rebuilt_note = "report.json predates the claims ledger: the ledger was rebuilt from its measurements"
        progress.note(rebuilt_note)
    has_ledger = report is not None
    paths = release_files(listing, report)
    folder = Path(request.work_dir) / request.repo_id.replace("/", "--") / card.revision
    try:
        with progress.stage(f"Downloading {len(paths)} release files"):
            client.download_files(request.repo_id, [p for p in paths if p in listing], card.revision, folder)
        if report is not None:
            checks, partial, sample = check_release(report, card.readme, folder, request.options, progress)
            if rebuilt_note:
                checks.insert(0, ClaimCheck("ledger", "the claims ledger", None, "rebuilt", None, None,
                                            UNVERIFIABLE, rebuilt_note))
            environment = report.claims.environment
        else:
            checks, partial = foreign.check_foreign(card.readme, folder, listing, request.options, progress)
            environment, sample = None, None
        compatibility = None
        if request.openvino:
            compatibility, row = _compatibility(folder, request, report, sample, progress)
            checks.append(row)
    finally:
        if not request.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return ReleaseVerification(
        repo_id=request.repo_id, revision=card.revision, endpoint=client.endpoint, ledger=has_ledger,
        partial=partial, environment=environment, checks=checks, compatibility=compatibility,
        seconds=round(time.perf_counter() - start, 2))


def _compatibility(folder: Path, request: VerifyRequest, report: Any, sample: Any,
                   progress: Progress) -> tuple[Any, ClaimCheck]:
    """Run the IR on each requested OpenVINO release; the card's lowest version must be among those that pass."""
    from publisher import compat
    from publisher.recheck.remeasure import ir_xml, tokenizer_of
    from publisher.results import HOLDS

    from publisher.card.facts import release_version

    tokenizer = tokenizer_of(folder)
    rows, description = compat.evaluation_rows(tokenizer, *sample) if sample else compat.bundled_rows(tokenizer)
    result = compat.check_versions(ir_xml(folder), rows, request.openvino, cache_dir=compat.default_cache_dir(),
                                   inputs_description=description, progress=progress.note)
    tested = "; ".join(f"{r.version or r.requested} {'passed' if r.passed else 'failed: ' + r.reason}"
                       for r in result.runs)
    claim = report.claims.get("compatibility.openvino") if report is not None else None
    claimed = str(claim.value) if claim is not None else None
    supported = release_version(result.supported_from) if result.supported_from else None
    if claimed is None:
        ok = supported is not None
        reason = f"ran on: {tested}"
    else:
        ok = claimed == release_version(result.reference) or (
            supported is not None and _key(supported) <= _key(claimed))
        reason = f"ran on: {tested}" + ("" if ok else f"; the card says {claimed} and higher")
    return result, ClaimCheck("compatibility.tested", "OpenVINO releases the IR runs on", claimed, None,
                              f"{supported} and higher" if supported else "none of those tested",
                              f"top-1 agreement >= {result.min_top1_agreement}", HOLDS if ok else FAILS, reason)


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


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
