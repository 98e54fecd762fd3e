"""Fetching a release and re-checking it (``publisher.recheck.fleet`` does it for many)."""

from __future__ import annotations

import glob
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from publisher.card import remote
from publisher.errors import BadInputError, ClaimFailedError
from publisher.progress import Progress
from publisher.recheck.ledger_checks import CheckOptions, EvaluationSample, check_release
from publisher.results import FAILS, HOLDS, UNVERIFIABLE, ClaimCheck, CompatibilityResult, ReleaseVerification

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
    public_key: Path | None = None  # check model.sig with this key first (issue 25)


def _safe(path: str) -> bool:
    """Never a pickle, PyTorch or safetensors weights, or a file outside the repo's model files."""
    name = path.rsplit("/", 1)[-1]
    return (name not in _NEVER and not name.endswith((".safetensors", ".pt", ".pth", ".pkl", ".ckpt"))
            and not path.startswith(("training/", ".", "/")) and ".." not in path.split("/")
            and "\\" not in path and "\x00" not in path)


def release_files(listing: dict[str, Any], report: Any | None) -> list[str]:
    """What to download: the files the report's figures were measured on (a .bin only beside its
    .xml), else the IR and its side files. Whatever report.json lists, nothing else is fetched."""
    names = set(listing)
    ir_bins = {p[:-4] + ".bin" for p in names if p.endswith(".xml")}
    if report is not None:
        wanted = {f.path for f in report.export.files}
    else:
        wanted = {p for p in names if (p.endswith(".xml") and p[:-4] + ".bin" in names) or p in ir_bins
                  or (p.endswith(_SIDE_FILES) and "/" not in p)}
    return sorted(p for p in wanted if _safe(p) and (not p.endswith(".bin") or p in ir_bins))


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
    check_front_matter(request.repo_id, card.readme)
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
    # The signature first, over every file of the commit (it is hashed, never loaded).
    signature_rows = _signature_rows(client, request, card.revision, listing, report, progress)
    try:
        with progress.stage(f"Downloading {len(paths)} release files"):
            client.download_files(request.repo_id, [glob.escape(p) for p in paths if p in listing], card.revision,
                                  folder)
        if report is not None:
            remote_sha256 = {p: f.sha256 for p, f in listing.items() if p not in paths and f.sha256}
            checked = check_release(report, card.readme, folder, request.options, progress, remote_sha256)
            checks, partial, sample = checked.rows, checked.partial, checked.sample
            if rebuilt_note:
                checks.insert(0, ClaimCheck("ledger", "the claims ledger", None, "rebuilt", None, None,
                                            UNVERIFIABLE, rebuilt_note))
            environment = report.claims.environment
        else:
            checks, partial = foreign.check_foreign(card.readme, folder, request.options, progress)
            environment, sample = None, None
        checks = signature_rows + _with_signature_verdict(checks, signature_rows)
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


FRONT_MATTER_NODES = 100_000  # YAML aliases can make a few lines stand for billions of values


def check_front_matter(repo_id: str, readme: str) -> None:
    """Refuse front matter whose values no reader can use: text with no UTF-8 form (YAML's
    "\\ud800" escape) that no table could print, or aliases that expand beyond any card's size.
    Front matter that is not YAML at all is left to the checks (nothing on it is then compared)."""
    import yaml

    from publisher.card.schema import split_front_matter

    block, _ = split_front_matter(readme)
    if block is None:
        return
    try:
        data = yaml.safe_load(block)
    except (yaml.YAMLError, RecursionError, ValueError):
        return
    fix = "Fix README.md's front matter (`publisher card lint` says what is wrong), or re-publish the release"
    stack, seen = [data], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > FRONT_MATTER_NODES:
            raise BadInputError(f"README.md of {repo_id} has front matter that expands to more than "
                                f"{FRONT_MATTER_NODES} values (YAML aliases)", fix)
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
        elif isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                raise BadInputError(f"README.md of {repo_id} has front matter holding text with no UTF-8 form "
                                    f"(an escaped lone surrogate in {node[:40]!r})", fix) from None


def _compatibility(folder: Path, request: VerifyRequest, report: Any, sample: EvaluationSample | None,
                   progress: Progress) -> tuple[CompatibilityResult, ClaimCheck]:
    """Run the IR on each requested OpenVINO release and judge the card's "OpenVINO X and higher":
    it holds when X itself ran and passed and no tested release above X failed."""
    from publisher import compat
    from publisher.recheck.remeasure import ir_xml, tokenizer_of
    from publisher.versions import failed_at_or_above, release_version

    tokenizer = tokenizer_of(folder)
    rows, description = (compat.evaluation_rows(tokenizer, sample.texts, sample.name) if sample
                         else compat.bundled_rows(tokenizer))
    result = compat.check_versions(ir_xml(folder), rows, request.openvino, cache_dir=compat.default_cache_dir(),
                                   inputs_description=description, progress=progress.note)
    tested = "; ".join(f"{r.version or r.requested} {'passed' if r.passed else 'failed: ' + r.reason}"
                       for r in result.runs)
    notes = [f"ran on: {tested}"]
    if report is not None and report.compatibility is not None and \
            report.compatibility.inputs_sha256 != compat.rows_sha256(rows):
        notes.append("the rows fed differ from those publish fed")
    claim = report.claims.get("compatibility.openvino") if report is not None else None
    claimed = str(claim.value) if claim is not None else None
    if claimed is None:
        verdict = HOLDS if result.supported_from else FAILS
    else:
        failed_above = failed_at_or_above(result.runs, claimed)
        claimed_ran = [r for r in result.runs if r.version and release_version(r.version) == claimed]
        if failed_above:
            verdict = FAILS
            notes.append(f"the card says {claimed} and higher, and {', '.join(failed_above)} failed")
        elif claimed_ran and all(r.passed for r in claimed_ran):
            verdict = HOLDS
        else:
            verdict = UNVERIFIABLE
            notes.append(f"the card's {claimed} was not among the releases run (pass --openvino {claimed})")
    supported = release_version(result.supported_from) if result.supported_from else None
    return result, ClaimCheck("compatibility.tested", "OpenVINO releases the IR runs on", claimed, None,
                              f"{supported} and higher" if supported else "none of those tested",
                              f"top-1 agreement >= {result.min_top1_agreement}", verdict, "; ".join(notes))


SIGNATURE_ROW = "signature"


def _signature_rows(client: Any, request: VerifyRequest, revision: str, listing: dict[str, Any], report: Any,
                    progress: Progress) -> list[ClaimCheck]:
    """One row for model.sig: checked with --public-key over the commit's files, else "signed, not
    checked" with the card's key fingerprint compared with the signature's."""
    from publisher import signing

    signed = signing.SIGNATURE in listing
    record = report.card.signing if report is not None else None
    claimed = f"sha256:{record.fingerprint[:16]}…" if record else None
    text = "the commit's files are the ones signed in model.sig"
    if not signed:
        if request.public_key is None and record is None:
            return []
        why = "the repo is not signed: the commit holds no model.sig"
        if record is not None:
            why += ", though its card says it is signed"
        return [ClaimCheck(SIGNATURE_ROW, text, None, claimed, "unsigned", None, FAILS, why)]
    folder = Path(request.work_dir) / request.repo_id.replace("/", "--") / f"{revision}-signed"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        names = sorted(listing)
        with progress.stage(f"Checking the signature over {len(names) - 1} files"):
            client.download_files(request.repo_id, [glob.escape(p) for p in names], revision, folder)
            if not any(p.startswith(".cache/") for p in names):
                shutil.rmtree(folder / ".cache", ignore_errors=True)  # huggingface_hub's download records
            if request.public_key is None:
                return [_unchecked_row(folder, record, claimed, text, listing)]
            result = signing.check_folder(folder, request.public_key, listing=names)
            from cryptography.hazmat.primitives import serialization

            key = serialization.load_pem_public_key(request.public_key.read_bytes())
            fingerprint = signing.key_fingerprints(key)[0]
    finally:
        if not request.keep:
            shutil.rmtree(folder, ignore_errors=True)
    shown = f"sha256:{fingerprint[:16]}…"
    tolerance = "identical sha256 of every file, a valid signature by this key"
    if result.ok:
        notes = [f"every file of the commit is as signed, by the key {request.public_key.name}"]
        if record is not None and record.fingerprint != fingerprint:
            return [ClaimCheck(SIGNATURE_ROW, text, None, claimed, shown, tolerance, FAILS,
                               "the signature holds with this key, but the card names another key's fingerprint")]
        return [ClaimCheck(SIGNATURE_ROW, text, None, claimed, shown, tolerance, HOLDS, "; ".join(notes))]
    if result.problem == "files":
        parts = [f"{label} after signing: {', '.join(paths)}" for label, paths in
                 (("changed", result.changed), ("added", result.added), ("removed", result.removed)) if paths]
        why = "; ".join(parts) or "the files differ from the signed ones"
    elif result.problem == "wrong key":
        why = f"wrong key: {result.detail}"
    else:
        why = f"malformed signature: {result.detail}"
    return [ClaimCheck(SIGNATURE_ROW, text, None, claimed, shown, tolerance, FAILS, why)]


def _unchecked_row(folder: Path, record: Any, claimed: str | None, text: str,
                   listing: dict[str, Any] | None = None) -> ClaimCheck:
    from publisher import signing
    from publisher.errors import BadInputError as _Bad

    try:
        info = signing.read_signature(folder / signing.SIGNATURE)
    except _Bad as exc:
        return ClaimCheck(SIGNATURE_ROW, text, None, claimed, None, None, FAILS, f"malformed signature: {exc.problem}")
    differences = _unsigned_differences(info, listing) if listing is not None else []
    if differences:
        # Without the key the signature proves nothing, but a commit whose files are not even those its
        # own model.sig lists was changed after signing.
        return ClaimCheck(SIGNATURE_ROW, text, None, claimed, "signed", "the files model.sig lists", FAILS,
                          "signed, not checked; the commit's files are not those model.sig lists: "
                          + "; ".join(differences))
    if record is None:
        return ClaimCheck(SIGNATURE_ROW, text, None, None, "signed", None, UNVERIFIABLE,
                          "signed, not checked (pass --public-key KEY.pub); the card names no key")
    if info.key_hint != record.key_hint:
        return ClaimCheck(SIGNATURE_ROW, text, None, claimed, "signed", None, FAILS,
                          "signed, not checked; model.sig was made with another key than the one the card names")
    return ClaimCheck(SIGNATURE_ROW, text, None, claimed, "signed", None, UNVERIFIABLE,
                      "signed, not checked (pass --public-key KEY.pub); the card's key fingerprint is the "
                      "signature's")


def _unsigned_differences(info: Any, listing: dict[str, Any]) -> list[str]:
    """How the commit's files differ from model.sig's manifest: by name, and by the sha256 the Hub
    lists for its LFS files (nothing is hashed here)."""
    from publisher import signing

    signed = info.files
    added = sorted(p for p in listing if p not in signed and p not in signing.NOT_SIGNED)
    removed = sorted(p for p in signed if p not in listing)
    changed = sorted(p for p in signed if p in listing and getattr(listing[p], "sha256", None)
                     and str(signed[p]) != listing[p].sha256)
    return [f"{label} after signing: {', '.join(paths)}" for label, paths in
            (("changed", changed), ("added", added), ("removed", removed)) if paths]


def _with_signature_verdict(checks: list[ClaimCheck], signature_rows: list[ClaimCheck]) -> list[ClaimCheck]:
    """The card's signing statement holds when the signature was checked with the key it names."""
    import dataclasses

    from publisher.card.ledger import SIGNATURE_CLAIM

    if not signature_rows:
        return checks
    row = signature_rows[0]
    out = []
    for check in checks:
        if check.claim == SIGNATURE_CLAIM and check.verdict != FAILS:
            if row.verdict == HOLDS:
                check = dataclasses.replace(check, verdict=HOLDS, remeasured=row.remeasured,
                                            reason="model.sig holds with the key of this fingerprint")
            elif row.verdict == FAILS:
                check = dataclasses.replace(check, verdict=FAILS, reason=f"the signature does not hold: {row.reason}")
            else:
                check = dataclasses.replace(check, reason="signed, not checked (pass --public-key KEY.pub)")
        out.append(check)
    return out


def _claim_name(claim: str) -> str:
    """A claim id as the one-line error names it: a repo's ledger may hold an empty, very long or
    unprintable id."""
    if claim and claim.isprintable() and len(claim) <= 80:
        return claim
    text = repr(claim)
    return text if len(text) <= 80 else text[:77] + "..."


def release_failure(result: ReleaseVerification, document: dict[str, Any]) -> ClaimFailedError | None:
    """The error a release whose claims do not all hold ends with (None when they hold)."""
    if result.holds:
        return None
    names = ", ".join(_claim_name(c.claim) for c in result.failed)
    return ClaimFailedError(f"{len(result.failed)} claim(s) of {result.repo_id} do not hold: {names}",
                            "The table says why for each; re-publish the release, or fix its card",
                            document=document)
