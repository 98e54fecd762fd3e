"""Re-render the card of a published release from its stored report, keeping what users wrote.

Only README.md and the stored report are downloaded. The managed sections and the metadata keys
publisher owns are re-rendered; user text outside the markers and metadata keys publisher does
not write are kept. A commit is made only when the card's meaning changed (whitespace, key order
and YAML style do not count), and it touches README.md alone.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from publisher import __version__
from publisher.card import remote, sections
from publisher.card.metadata import MANAGED_KEYS, canonicalize, compose, parse_metadata, split_front_matter
from publisher.card.render import render_card
from publisher.errors import BadInputError, PublisherError
from publisher.results import Report

UNCHANGED = "unchanged"
UPDATED = "updated"
PR_OPENED = "pr-opened"
WOULD_UPDATE = "would-update"
SKIPPED = "skipped"
FAILED = "failed"


class NoStoredReportError(BadInputError):
    """The repo has no stored report, so there is nothing to regenerate the card from."""


@dataclass(frozen=True)
class RegenerateOutcome:
    repo_id: str
    status: str  # unchanged | updated | pr-opened | would-update | skipped | failed
    revision: str | None = None  # the commit the card was read at
    commit: str | None = None  # the new commit, when one was made
    url: str | None = None
    pr_url: str | None = None
    changes: list[str] = field(default_factory=list)  # what changed in meaning
    diff: str = ""  # unified diff of README.md ("" when unchanged)
    message: str | None = None  # why it was skipped or failed
    error: PublisherError | None = field(default=None, repr=False, compare=False)

    @property
    def committed(self) -> bool:
        return self.commit is not None


def regenerate(
    client: Any,
    repo_id: str,
    *,
    revision: str = "main",
    dry_run: bool = False,
    create_pr: bool = False,
    template: str | Path | None = None,
    sections_dir: Path | None = None,
    sign_key: Any = None,
    drop_signature: bool = False,
) -> RegenerateOutcome:
    """Re-render ``repo_id``'s card with the current template; commit README.md if its meaning changed.

    A signed repo (model.sig) is re-signed in the same commit with ``sign_key``
    (``publisher.signing.SigningKey``), or its signature dropped with ``drop_signature``; without
    either, a changed card is refused rather than leaving a signature that no longer holds."""
    from publisher import signing

    card = remote.fetch_card(client, repo_id, revision)
    if card.report is None:
        raise NoStoredReportError(
            f"The repo {repo_id} has no {remote.REPORT_FILENAME}, so its card cannot be re-rendered "
            "from stored measurements",
            "Publish it with `publisher publish`, which stores the report next to the card",
        )
    report = _for_repo(card.report, repo_id)
    if sign_key is not None or drop_signature:
        report = _with_signing(report, signing.signing_record(sign_key) if sign_key is not None else None)
    report_changed = report.card.signing != card.report.card.signing
    fresh = render_card(report, template=template, sections_dir=sections_dir)
    old = card.readme or ""
    new = merge_card(card.readme, fresh) if card.readme else fresh
    changes = semantic_changes(old, new)
    if report_changed:
        changes.append(f"{remote.REPORT_FILENAME}: card.signing")
    listing = client.list_files(repo_id, card.revision)
    signed = signing.SIGNATURE in listing
    if not changes and not (drop_signature and signed):
        return RegenerateOutcome(repo_id, UNCHANGED, revision=card.revision, url=f"{client.endpoint}/{repo_id}")
    if signed and sign_key is None and not drop_signature:
        raise BadInputError(
            f"The repo {repo_id} is signed (model.sig), and a regenerated card would leave that signature "
            "stale; nothing was committed",
            "Re-sign with --sign-key KEY.pem (the key the release was signed with, or a new one), or pass "
            "--drop-signature to remove model.sig in the same commit")
    diff = unified_diff(old, new, repo_id)
    if dry_run:
        return RegenerateOutcome(repo_id, WOULD_UPDATE, revision=card.revision, changes=changes, diff=diff)
    files = {remote.README: new.encode("utf-8")}
    if report_changed:
        files[remote.REPORT_FILENAME] = report.to_json().encode("utf-8")
    delete: list[str] = []
    if sign_key is not None:
        files[signing.SIGNATURE] = _re_signed(client, repo_id, card.revision, listing, files, sign_key)
    elif drop_signature and signed:
        delete.append(signing.SIGNATURE)
    outcome = client.commit_files(
        repo_id,
        files,
        message=f"Regenerate model card (publisher {__version__})",
        revision=revision,
        create_pr=create_pr,
        parent_commit=card.revision,
        delete=delete,
    )
    if not outcome.changed:
        return RegenerateOutcome(repo_id, UNCHANGED, revision=card.revision, url=outcome.url)
    return RegenerateOutcome(
        repo_id,
        PR_OPENED if outcome.pr_url else UPDATED,
        revision=card.revision,
        commit=outcome.commit,
        url=outcome.url,
        pr_url=outcome.pr_url,
        changes=changes,
        diff=diff,
    )


def regenerate_many(client: Any, repo_ids: Iterable[str], **options: Any) -> list[RegenerateOutcome]:
    """``regenerate`` each repo; one repo's failure is recorded and does not stop the others."""
    outcomes = []
    for repo_id in repo_ids:
        try:
            outcomes.append(regenerate(client, repo_id, **options))
        except NoStoredReportError as exc:
            outcomes.append(RegenerateOutcome(repo_id, SKIPPED, message=exc.problem, error=exc))
        except PublisherError as exc:
            outcomes.append(RegenerateOutcome(repo_id, FAILED, message=exc.paragraph(), error=exc))
    return outcomes


def repo_ids_from_file(path: str | Path) -> list[str]:
    """Repo ids, one a line; blank lines and ``#`` comments are ignored."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BadInputError(f"Cannot read the repo list {path} ({exc.strerror})", "Check the path") from exc
    ids = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if not remote.is_repo_id(text):
            raise BadInputError(
                f"{path}, line {number}: {text!r} is not a repo id",
                "Write one namespace/name per line",
            )
        if text not in ids:
            ids.append(text)
    return ids


def merge_card(old_text: str, fresh_text: str) -> str:
    """The fresh card's managed parts inside the old card's user-written parts."""
    try:
        old_meta = parse_metadata(old_text)
    except (yaml.YAMLError, BadInputError):
        old_meta = {}  # unreadable front matter: the fresh metadata replaces it
    fresh_meta = parse_metadata(fresh_text)
    kept = {k: v for k, v in old_meta.items() if k not in MANAGED_KEYS}
    meta = canonicalize({**fresh_meta, **kept})
    body = sections.merge(split_front_matter(old_text)[1], split_front_matter(fresh_text)[1])
    return compose(meta, body)


def semantic_changes(old_text: str, new_text: str) -> list[str]:
    """What differs in meaning between two cards: metadata keys and body sections, by name."""
    changes: list[str] = []
    try:
        old_meta = parse_metadata(old_text)
    except (yaml.YAMLError, BadInputError):
        old_meta = None
    new_meta = parse_metadata(new_text)
    if old_meta is None:
        changes.append("metadata: unreadable front matter replaced")
    else:
        for key in list(dict.fromkeys([*new_meta, *old_meta])):
            if old_meta.get(key) != new_meta.get(key):
                changes.append(f"metadata: {key}")
    old_body = split_front_matter(old_text)[1]
    new_body = split_front_matter(new_text)[1]
    if _normalized(old_body) == _normalized(new_body):
        return changes
    old_parts = _parts(old_body)
    new_parts = _parts(new_body)
    for name in list(dict.fromkeys([*new_parts, *old_parts])):
        if old_parts.get(name) != new_parts.get(name):
            changes.append(f"section: {name}" if not name.startswith("#") else "text outside managed sections")
    return changes or ["body layout"]


def _normalized(body: str) -> str:
    lines = [line.rstrip() for line in body.replace("\r\n", "\n").split("\n")]
    return sections.normalize_blank_lines("\n".join(lines)).strip()


def _parts(body: str) -> dict[str, str]:
    try:
        segs = sections.segments(body)
    except BadInputError:
        return {"#all": _normalized(body)}
    parts: dict[str, str] = {}
    text = []
    for seg in segs:
        if seg.kind == "managed" and seg.name:
            parts[seg.name] = _normalized(seg.text)
        else:
            text.append(_normalized(seg.text))
    parts["#text"] = "\n".join(t for t in text if t)
    return parts


def unified_diff(old: str, new: str, repo_id: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{repo_id}/README.md",
            tofile=f"b/{repo_id}/README.md",
        )
    )


def format_summary(outcomes: list[RegenerateOutcome]) -> str:
    """A plain-text table: repo, status, commit, what changed or why not."""
    rows = [("REPO", "STATUS", "COMMIT", "DETAIL")]
    for o in outcomes:
        detail = o.pr_url or "; ".join(o.changes) or (o.message or "")
        rows.append((o.repo_id, o.status, (o.commit or "-")[:12], _one_line(detail)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [
        "  ".join([r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2]), r[3]]).rstrip()
        for r in rows
    ]
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    lines.append(", ".join(f"{n} {status}" for status, n in counts.items()) or "no repos")
    return "\n".join(lines)


def _one_line(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _with_signing(report: Report, record: Any) -> Report:
    """The report with its signing record replaced, and the ledger rebuilt (the card states it)."""
    from publisher.card.ledger import build_ledger

    report = report.replace(card=dataclasses.replace(report.card, signing=record))
    return report.replace(claims=build_ledger(report))


def _re_signed(client: Any, repo_id: str, revision: str, listing: dict[str, Any], new_files: dict[str, bytes],
               key: Any) -> bytes:
    """model.sig over the commit's files with the new card (and report) in place of the old."""
    import glob
    import shutil
    import tempfile

    from publisher import signing

    names = [p for p in listing if p not in signing.NOT_SIGNED]
    with tempfile.TemporaryDirectory() as tmp:
        download = Path(tmp) / "download"
        client.download_files(repo_id, [glob.escape(p) for p in names], revision, download)
        staged = signing.stage({p: download / p for p in names}, Path(tmp) / "signed")
        for rel, data in new_files.items():
            staged.setdefault(rel, Path(tmp) / "signed" / rel).write_bytes(data)
        shutil.rmtree(download, ignore_errors=True)
        return signing.sign_folder(Path(tmp) / "signed", key).read_bytes()


def _for_repo(report: Report, repo_id: str) -> Report:
    if report.card.repo_id:
        return report
    return report.replace(card=dataclasses.replace(report.card, repo_id=repo_id))
