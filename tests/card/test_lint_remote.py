"""`publisher card lint REPO_ID` and `--online` against the local hub."""

from __future__ import annotations

from publisher.card import lint_target, render_card
from tests.card.seed import seed_report


def _publish(client, repo_id: str, readme: str) -> None:
    client.ensure_repo(repo_id)
    client.commit_files(repo_id, {"README.md": readme.encode(), "report.json": seed_report().to_json().encode()},
                        message="release", parent_commit=client.revision_sha(repo_id))


def test_a_published_card_is_linted_against_its_stored_report(client):
    repo_id = "tester/card-lint-remote"
    _publish(client, repo_id, render_card(seed_report()))
    run = lint_target(repo_id, client_factory=lambda: client)
    assert run.source == f"{repo_id}/README.md" and run.findings == []


def test_a_stored_report_that_disagrees_with_the_card_is_found(client):
    repo_id = "tester/card-lint-remote-stale"
    _publish(client, repo_id, render_card(seed_report()).replace("**0.9128**", "**0.9300**"))
    rules = {f.rule for f in lint_target(repo_id, client_factory=lambda: client).findings}
    assert rules == {"figure-mismatch"}


def test_online_adds_the_endpoints_validate_yaml_findings(client, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(render_card(seed_report()).replace("value: 0.91284", 'value: "91.3%"', 1))
    offline = {f.rule for f in lint_target(str(readme)).findings}
    online = {f.rule for f in lint_target(str(readme), online=True, client_factory=lambda: client).findings}
    assert "hub-validate-yaml" not in offline
    assert "hub-validate-yaml" in online and "metric-value-not-number" in online


def test_online_lint_of_a_clean_card_adds_nothing(client, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(render_card(seed_report()))
    assert lint_target(str(readme), online=True, client_factory=lambda: client).findings == []
