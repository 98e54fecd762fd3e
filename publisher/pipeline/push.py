"""The push: the release set compared with the remote revision (an unchanged release makes no
commit), then committed, or, for a dry run, the changes and the card's diff reported."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from publisher.hub.client import FileChanges, HubClient
from publisher.pipeline.release_set import CARD, RELEASE_REPORT, _release_set
from publisher.progress import Progress
from publisher.results import HubResult, Report
from publisher.settings import PublishSettings
from publisher.tasks.run import CACHE_DIR

if TYPE_CHECKING:
    from publisher.pipeline.runner import Checked


def push(settings: PublishSettings, checked: Checked, report: Report, progress: Progress
         ) -> tuple[Report, FileChanges, str | None]:
    from publisher.stages.training_metadata import training_files

    out = checked.output
    if settings.hub.add_to:
        from publisher.pipeline.add_to import push_addition

        return push_addition(settings, HubClient(checked.target), report, out, progress)
    files = {f.path: out / f.path for f in report.export.files}
    files.update({rel: out / rel for rel in training_files(report)})
    files[CARD] = out / CARD
    files[RELEASE_REPORT] = out / CACHE_DIR / RELEASE_REPORT
    files = _release_set(out, files)
    client = HubClient(checked.target)
    if checked.signing_key is not None:
        files = _signed(client, settings, files, checked.signing_key, out, progress)
    return _push(settings, client, report, files, progress)


def _signed(client: HubClient, settings: PublishSettings, files: dict[str, Path], key: Any, out: Path,
            progress: Progress) -> dict[str, Path]:
    """The release set staged into a clean folder and signed there: the signature covers exactly the
    bytes pushed. When nothing but the signature would change and the remote's model.sig already
    holds for these files with this key, it is kept (a signature is never byte-identical twice),
    so an unchanged re-publish still makes no commit."""
    from publisher import signing

    folder = out / CACHE_DIR / signing.SIGNED_DIR
    staged = signing.stage(files, folder)
    changes = client.compare(settings.repo_id, staged, settings.hub.revision)
    only_signature = not changes.added and not changes.changed and changes.deleted == [signing.SIGNATURE]
    if changes.parent_commit and only_signature and client.branch_exists(settings.repo_id, settings.hub.revision):
        remote = client.download_text(settings.repo_id, signing.SIGNATURE, settings.hub.revision)
        if remote is not None:
            (folder / signing.SIGNATURE).write_text(remote, encoding="utf-8")
            if signing.holds_for(folder, key):
                return {**staged, signing.SIGNATURE: folder / signing.SIGNATURE}
    with progress.stage(f"Signing {len(staged)} files with {key.path.name} (sha256:{key.fingerprint[:16]}…)"):
        signature = signing.sign_folder(folder, key)
    return {**staged, signing.SIGNATURE: signature}


def _push(settings: PublishSettings, client: HubClient, release: Report, files: dict[str, Path],
          progress: Progress) -> tuple[Report, FileChanges, str | None]:
    import difflib

    hub = settings.hub
    repo_id = settings.repo_id
    changes = client.compare(repo_id, files, hub.revision)
    card_diff = None
    if hub.dry_run:
        remote_card = client.download_text(repo_id, CARD, hub.revision) if changes.parent_commit else None
        local_card = files[CARD].read_text(encoding="utf-8")
        card_diff = "".join(difflib.unified_diff(
            (remote_card or "").splitlines(keepends=True), local_card.splitlines(keepends=True),
            fromfile=f"{repo_id}@{hub.revision}/README.md", tofile="README.md (new)"))
        result = HubResult(endpoint=client.endpoint, repo_id=repo_id, revision=hub.revision,
                           commit=None, url=client.repo_url(repo_id), changed=changes.any,
                           files_added=changes.added, files_changed=changes.changed,
                           files_deleted=changes.deleted)
        return release.replace(status="dry_run", hub=result), changes, card_diff

    if not changes.any:
        progress.note(f"Nothing changed against {repo_id}@{hub.revision}: no commit made.")
        result = HubResult(endpoint=client.endpoint, repo_id=repo_id, revision=hub.revision,
                           commit=changes.parent_commit, url=client.repo_url(repo_id), changed=False)
        return release.replace(status="unchanged", hub=result), changes, None

    with progress.stage(f"Pushing to {client.endpoint}/{repo_id} ({hub.revision})"):
        if changes.parent_commit is None:
            client.ensure_repo(repo_id, private=hub.private)
            changes = client.compare(repo_id, files, hub.revision)
        if hub.revision != "main" and not hub.create_pr and not client.branch_exists(repo_id, hub.revision):
            client.create_branch(repo_id, hub.revision)
            changes = client.compare(repo_id, files, hub.revision)
        message = hub.commit_message or default_commit_message(release)
        outcome = client.commit_changes(repo_id, files, changes, message=message,
                                        revision=hub.revision, create_pr=hub.create_pr)
        if hub.tag and outcome.commit:
            client.create_tag(repo_id, hub.tag, outcome.commit, message)
    result = HubResult(endpoint=client.endpoint, repo_id=repo_id, revision=hub.revision,
                       commit=outcome.commit, url=outcome.url, pr_url=outcome.pr_url, tag=hub.tag,
                       changed=outcome.changed, files_added=changes.added,
                       files_changed=changes.changed, files_deleted=changes.deleted)
    return release.replace(status="released", hub=result), changes, None


def default_commit_message(report: Report) -> str:
    from publisher.tasks import task_of

    return task_of(report).commit_message(report)
