"""``--add-to REPO_ID``: a pull request that adds a release's IR to an existing model repo, as
sentence-transformers users add ``openvino/`` to the base model's own repo.

The pull request adds the release's ``openvino/`` files and ``openvino/report.json`` (the measurements and
the claims ledger), and appends one section to the repo's README.md (its results and usage, fenced by
``<!-- publisher:begin openvino -->`` markers and replaced on a re-run). Nothing else is touched: no
other file, and not the card's front matter, which is the repo owner's (rewriting it through the card
helpers would reorder it). A re-run commits to the pull request an earlier run opened, while it is
open. It is refused before any work unless the repo exists and its
``model.safetensors`` is the checkpoint's: an IR of other weights would be added under the repo's name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from publisher.card.schema import split_front_matter
from publisher.card.sections import begin_marker, end_marker, segments
from publisher.digest import sha256_file
from publisher.errors import BadInputError
from publisher.hub.client import FileChanges, HubClient, PullRequest
from publisher.pipeline.release_set import CARD, RELEASE_REPORT, _release_set, _write_text
from publisher.progress import Progress
from publisher.results import HubResult, Report
from publisher.settings import PublishSettings
from publisher.tasks.run import CACHE_DIR

SECTION = "openvino"
IR_FOLDER = "openvino/"
WEIGHTS = "model.safetensors"
_CARD_SECTIONS = ("results", "usage")
PR_TITLE = "Add OpenVINO IR"  # how a re-run finds the pull request an earlier run opened


def check_target(client: HubClient, settings: PublishSettings, checkpoint: Path) -> None:
    """The repo exists and holds the checkpoint's own weights (compared by sha256, nothing downloaded)."""
    repo = settings.hub.add_to
    if not client.repo_exists(repo):
        raise BadInputError(f"--add-to {repo}: the repo does not exist, so there is no model to add the IR to",
                            "Pass the repo id of the model the checkpoint is (or --repo-id to publish a new repo)")
    remote = client.list_files(repo, settings.hub.revision).get(WEIGHTS)
    local = Path(checkpoint) / WEIGHTS
    local_sha = sha256_file(local) if local.is_file() else None
    if remote is None or not remote.sha256 or local_sha is None or remote.sha256 != local_sha:
        got = "no model.safetensors" if remote is None else f"model.safetensors sha256 {str(remote.sha256)[:12]}"
        mine = f"sha256 {local_sha[:12]}" if local_sha else "no model.safetensors"
        raise BadInputError(
            f"--add-to {repo}: the repo holds {got}, but the checkpoint {checkpoint} has {mine}; an IR "
            "of the checkpoint would be added to a repo of other weights",
            f"Pass the repo's own model as CHECKPOINT (e.g. `hf download {repo} --local-dir DIR`), or publish "
            "the checkpoint as a new repo with --repo-id")


def _section(card: str) -> str:
    """The release card's results and usage, one heading level down, under one OpenVINO heading."""
    _, body = split_front_matter(card)
    parts = [s.text for s in segments(body) if s.kind == "managed" and s.name in _CARD_SECTIONS]
    inner = []
    for text in parts:
        lines = [line for line in text.split("\n") if not line.startswith("<!-- publisher:")]
        inner.append("\n".join(re.sub(r"^(#{2,5}) ", r"#\1 ", line) for line in lines).strip("\n"))
    return "\n\n".join(["## OpenVINO", "This repository also holds an OpenVINO IR of the model in `openvino/`, "
                        "added and measured by publisher (`openvino/report.json` holds every figure below and "
                        "how it was measured).", *inner])


def merged_readme(remote: str | None, card: str) -> str:
    """The repo's README.md with its OpenVINO section (re)placed at the end; all else as it was."""
    block = f"{begin_marker(SECTION)}\n{_section(card)}\n{end_marker(SECTION)}\n"
    text = remote or ""
    start, end = text.find(begin_marker(SECTION)), text.find(end_marker(SECTION))
    if start != -1 and end > start:
        return text[:start] + block + text[end + len(end_marker(SECTION)):].lstrip("\n")
    return text.rstrip("\n") + ("\n\n" if text.strip() else "") + block


def push_addition(settings: PublishSettings, client: HubClient, report: Report, out: Path,
                  progress: Progress) -> tuple[Report, FileChanges, str | None]:
    import difflib

    hub = settings.hub
    repo = hub.add_to
    files = {f.path: out / f.path for f in report.export.files if f.path.startswith(IR_FOLDER)}
    files[f"{IR_FOLDER}{RELEASE_REPORT}"] = out / CACHE_DIR / RELEASE_REPORT
    files = _release_set(out, files)
    # A re-run updates the pull request an earlier run opened instead of opening a second one.
    earlier = open_addition(client, repo)
    revision = earlier.ref if earlier else hub.revision
    remote_card = client.download_text(repo, CARD, revision)
    staged = out / CACHE_DIR / "add-to"
    staged.mkdir(parents=True, exist_ok=True)
    _write_text(staged / CARD, merged_readme(remote_card, (out / CARD).read_text(encoding="utf-8")))
    files[CARD] = staged / CARD
    full = client.compare(repo, files, revision)
    # Only what the addition brings: the repo's other files are not the release's to delete.
    changes = FileChanges(full.parent_commit, full.added, full.changed, [], full.unchanged)
    url = client.repo_url(repo)
    if hub.dry_run:
        diff = "".join(difflib.unified_diff((remote_card or "").splitlines(keepends=True),
                                            (staged / CARD).read_text(encoding="utf-8").splitlines(keepends=True),
                                            fromfile=f"{repo}@{revision}/README.md", tofile="README.md (new)"))
        result = HubResult(endpoint=client.endpoint, repo_id=repo, revision=hub.revision, commit=None, url=url,
                           changed=changes.any, files_added=changes.added, files_changed=changes.changed)
        return report.replace(status="dry_run", hub=result), changes, diff
    pr_url = f"{url}/discussions/{earlier.num}" if earlier else None
    if not changes.any:
        where = f"its open pull request #{earlier.num}" if earlier else f"{repo}@{hub.revision}"
        progress.note(f"{where} already holds this IR and section: nothing pushed.")
        result = HubResult(endpoint=client.endpoint, repo_id=repo, revision=revision,
                           commit=changes.parent_commit, url=url, pr_url=pr_url, changed=False)
        return report.replace(status="unchanged", hub=result), changes, None
    from publisher.pipeline.push import default_commit_message

    message = hub.commit_message or f"{PR_TITLE}: {default_commit_message(report)}"
    if earlier:
        with progress.stage(f"Updating pull request #{earlier.num} on {client.endpoint}/{repo}"):
            outcome = client.commit_changes(repo, files, changes, message=message, revision=earlier.ref)
        pr_url = outcome.pr_url or pr_url
    else:
        with progress.stage(f"Opening a pull request on {client.endpoint}/{repo}"):
            outcome = client.commit_changes(repo, files, changes, message=message,
                                            description="Adds `openvino/` (the IR, measured by publisher) and an "
                                                        "OpenVINO section to README.md; no other file is changed.",
                                            revision=hub.revision, create_pr=True)
        pr_url = outcome.pr_url
    result = HubResult(endpoint=client.endpoint, repo_id=repo, revision=revision, commit=outcome.commit,
                       url=outcome.url, pr_url=pr_url, changed=outcome.changed, files_added=changes.added,
                       files_changed=changes.changed)
    return report.replace(status="released", hub=result), changes, None


def open_addition(client: HubClient, repo: str) -> PullRequest | None:
    """The newest open pull request of this user that adds publisher's IR to ``repo``, if any: a
    re-run commits to it. A pull request of someone else is theirs to update, so it is not reused."""
    me = client.whoami()
    mine = [pr for pr in client.open_pull_requests(repo) if pr.author == me and pr.title.startswith(PR_TITLE)]
    return max(mine, key=lambda pr: pr.num) if mine else None


def refuse_with(settings: PublishSettings, task: Any) -> None:
    """What --add-to cannot be combined with, refused before any work."""
    hub = settings.hub
    if not task.adds_to_repos:
        raise BadInputError(f"--add-to is offered for sentence-embedding models, not for a {task.title}",
                            "Publish the release as a repo of its own with --repo-id")
    if settings.repo_id and settings.repo_id != hub.add_to:
        raise BadInputError(f"--add-to {hub.add_to} and --repo-id {settings.repo_id} name two repos",
                            "Pass one: --add-to adds to an existing repo, --repo-id publishes a repo of its own")
    if settings.signing.wanted:
        raise BadInputError("--add-to cannot sign: a signature of the added files alone would not say what the "
                            "repo holds", "Leave --sign-key out with --add-to")
    if hub.tag:
        raise BadInputError("--add-to opens a pull request; a tag cannot name its commit before it is merged",
                            "Leave --tag out with --add-to")
