"""`publisher card regenerate` against the local hub: user text survives, no-op means no commit."""

from __future__ import annotations

import itertools
from pathlib import Path
import pytest

from publisher.card import REPORT_FILENAME, regenerate, regenerate_many, render_card
from publisher.card.regenerate import FAILED, PR_OPENED, SKIPPED, UNCHANGED, UPDATED, WOULD_UPDATE
from publisher.errors import BadInputError
from tests.card.seed import seed_report

_names = itertools.count()
WEIGHTS = "openvino_model.bin"


def publish(client, *, namespace: str = "tester", readme: str | None = None, report=True) -> str:
    """A released repo as `publish` leaves it: weights, README.md and the stored report."""
    repo_id = f"{namespace}/card-regen-{next(_names)}"
    release = seed_report(repo_id=repo_id)
    files = {WEIGHTS: b"\0" * 64, "README.md": (readme or render_card(release)).encode()}
    if report:
        files[REPORT_FILENAME] = release.to_json().encode()
    client.ensure_repo(repo_id)
    client.commit_files(repo_id, files, message="release", parent_commit=client.revision_sha(repo_id))
    return repo_id


def readme(client, repo_id: str, revision: str = "main") -> str:
    return client.download_text(repo_id, "README.md", revision=revision)


def commits(client, repo_id: str) -> list[str]:
    return [c.commit_id for c in client.api.list_repo_commits(repo_id)]


def edit_readme(client, repo_id: str, change) -> None:
    client.commit_files(repo_id, {"README.md": change(readme(client, repo_id)).encode()},
                        message="hand edit", parent_commit=client.revision_sha(repo_id))


@pytest.fixture
def new_template(tmp_path: Path) -> Path:
    """A template change: the default card with a new limitations text."""
    template = tmp_path / "card.md.j2"
    template.write_text('{% extends "openvino.md.j2" %}\n{% block limitations %}## Limitations\n\n'
                        "Evaluated on {{ dataset.name }} only.\n{% endblock %}\n")
    return template


def test_an_unchanged_repo_gets_no_commit(client):
    repo_id = publish(client)
    before = commits(client, repo_id)
    outcome = regenerate(client, repo_id)
    assert outcome.status == UNCHANGED and outcome.commit is None and outcome.diff == ""
    assert commits(client, repo_id) == before


def test_a_template_change_makes_exactly_one_commit_touching_only_the_readme(client, new_template):
    repo_id = publish(client)
    before_commits = commits(client, repo_id)
    before_files = client.list_files(repo_id, "main")
    outcome = regenerate(client, repo_id, template=new_template)
    assert outcome.status == UPDATED and outcome.changes == ["section: limitations"]
    assert commits(client, repo_id) == [outcome.commit] + before_commits
    after_files = client.list_files(repo_id, "main")
    assert set(after_files) == set(before_files)
    changed = {p for p in after_files if after_files[p].git_oid != before_files[p].git_oid}
    assert changed == {"README.md"}
    assert "Evaluated on GLUE SST2 only." in readme(client, repo_id)


def test_regenerating_again_after_the_update_changes_nothing(client, new_template):
    repo_id = publish(client)
    regenerate(client, repo_id, template=new_template)
    assert regenerate(client, repo_id, template=new_template).status == UNCHANGED


def test_text_written_by_hand_outside_managed_sections_survives(client, new_template):
    repo_id = publish(client)
    notes = "## Our benchmark\n\nOn a Xeon 8480 this IR runs 3.1x faster than PyTorch.  \nMeasured by hand."
    edit_readme(client, repo_id, lambda text: text.replace(
        "<!-- publisher:begin limitations -->", notes + "\n\n<!-- publisher:begin limitations -->"))
    outcome = regenerate(client, repo_id, template=new_template)
    assert outcome.status == UPDATED
    text = readme(client, repo_id)
    assert notes in text
    assert text.index(notes) < text.index("Evaluated on GLUE SST2 only.")


def test_metadata_keys_added_by_hand_survive(client, new_template):
    repo_id = publish(client)
    edit_readme(client, repo_id, lambda text: text.replace("---\nlicense:", "---\ninference: false\nlicense:", 1))
    regenerate(client, repo_id, template=new_template)
    assert "\ninference: false\n" in readme(client, repo_id)


def test_a_hand_edit_inside_a_managed_section_is_rendered_back(client):
    repo_id = publish(client)
    edit_readme(client, repo_id, lambda text: text.replace("OpenVINO 2024.3.0 and higher", "OpenVINO 2025.0 and higher"))
    outcome = regenerate(client, repo_id)
    assert outcome.status == UPDATED and outcome.changes == ["section: compatibility"]
    assert "OpenVINO 2024.3.0 and higher" in readme(client, repo_id)


def test_reformatted_yaml_with_the_same_meaning_gets_no_commit(client):
    repo_id = publish(client)
    edit_readme(client, repo_id, lambda text: text.replace("language:\n- en\n", "language: [en]\n", 1))
    before = commits(client, repo_id)
    assert regenerate(client, repo_id).status == UNCHANGED
    assert commits(client, repo_id) == before


def test_a_dry_run_shows_a_unified_diff_and_commits_nothing(client, new_template):
    repo_id = publish(client)
    before = commits(client, repo_id)
    outcome = regenerate(client, repo_id, template=new_template, dry_run=True)
    assert outcome.status == WOULD_UPDATE and outcome.commit is None
    assert outcome.diff.startswith(f"--- a/{repo_id}/README.md\n+++ b/{repo_id}/README.md\n")
    assert "+Evaluated on GLUE SST2 only." in outcome.diff
    assert commits(client, repo_id) == before


def test_create_pr_leaves_main_alone(client, new_template):
    repo_id = publish(client)
    main_before = client.revision_sha(repo_id)
    outcome = regenerate(client, repo_id, template=new_template, create_pr=True)
    assert outcome.status == PR_OPENED and outcome.pr_url
    assert client.revision_sha(repo_id) == main_before


def test_a_repo_without_a_stored_report_is_refused(client):
    repo_id = publish(client, report=False)
    with pytest.raises(BadInputError, match=REPORT_FILENAME):
        regenerate(client, repo_id)


def test_a_card_without_managed_sections_is_refused(client):
    repo_id = publish(client, readme="---\nlicense: mit\n---\n\n# Written by hand\n")
    with pytest.raises(BadInputError, match="no publisher-managed sections"):
        regenerate(client, repo_id)


def test_many_repos_each_get_one_commit_or_none(client, new_template):
    namespace = f"card-org-{next(_names)}"
    changed = publish(client, namespace=namespace)
    unmanaged = publish(client, namespace=namespace, readme="# hand-written\n")
    no_report = publish(client, namespace=namespace, report=False)
    commits_before = {r: commits(client, r) for r in (changed, unmanaged, no_report)}
    outcomes = regenerate_many(client, client.list_models(namespace), template=new_template)
    status = {o.repo_id: o.status for o in outcomes}
    assert status == {changed: UPDATED, unmanaged: FAILED, no_report: SKIPPED}
    assert len(commits(client, changed)) == len(commits_before[changed]) + 1
    assert commits(client, unmanaged) == commits_before[unmanaged]
    assert commits(client, no_report) == commits_before[no_report]


def test_a_dry_run_on_a_signed_repo_without_a_key_refuses_as_the_real_run_does(client, new_template):
    """Issue 25: a dry run promises what the real run would do, and that run refuses a stale signature."""
    repo_id = publish(client)
    client.commit_files(repo_id, {"model.sig": b"{}"}, message="sign", parent_commit=client.revision_sha(repo_id))
    before = commits(client, repo_id)
    messages = []
    for dry_run in (False, True):
        with pytest.raises(BadInputError, match="stale") as exc:
            regenerate(client, repo_id, template=new_template, dry_run=dry_run)
        messages.append(exc.value.paragraph())
    assert messages[0] == messages[1] and "--sign-key" in messages[0] and "--drop-signature" in messages[0]
    assert commits(client, repo_id) == before
