"""`publisher card ...`: exit codes and what each command prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from publisher.card import render_card
from publisher.cli.main import main
from tests.card.seed import seed_report


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture
def report_file(tmp_path: Path) -> Path:
    path = tmp_path / "report.json"
    path.write_text(seed_report().to_json(), encoding="utf-8")
    return path


def test_render_writes_the_card_of_a_report(report_file, tmp_path, capsys):
    target = tmp_path / "README.md"
    code, _, _ = run(["card", "render", str(report_file), "-o", str(target)], capsys)
    assert code == 0
    assert target.read_text(encoding="utf-8") == render_card(seed_report())


def test_render_prints_to_stdout_without_output(report_file, capsys):
    code, out, _ = run(["card", "render", str(report_file)], capsys)
    assert code == 0 and out == render_card(seed_report())


def test_render_with_a_broken_template_is_bad_input(report_file, tmp_path, capsys):
    template = tmp_path / "t.md.j2"
    template.write_text("{{ nope }}\n")
    code, _, err = run(["card", "render", str(report_file), "--template", str(template)], capsys)
    assert code == 2 and "'nope' is undefined" in err


def test_variables_lists_each_variable_on_a_line(capsys):
    code, out, _ = run(["card", "variables"], capsys)
    assert code == 0
    assert any(line.startswith("dataset: ") and "dataset.name" in line for line in out.splitlines())


def test_lint_of_a_clean_release_folder_exits_0(report_file, capsys):
    (report_file.parent / "README.md").write_text(render_card(seed_report()), encoding="utf-8")
    code, out, err = run(["card", "lint", str(report_file.parent)], capsys)
    assert (code, out) == (0, "")
    assert "0 error(s)" in err


def test_lint_with_errors_exits_1_with_one_line_per_finding(report_file, capsys):
    card = render_card(seed_report()).replace("license: apache-2.0", "license: apache2")
    card = card.replace("OpenVINO IR accuracy: **0.9128**", "OpenVINO IR accuracy: **0.9900**")
    (report_file.parent / "README.md").write_text(card, encoding="utf-8")
    code, out, _ = run(["card", "lint", str(report_file.parent / "README.md")], capsys)
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 2
    assert "error [license-unknown]" in lines[0] and "error [figure-mismatch]" in lines[1]


def test_lint_of_something_that_is_neither_a_file_nor_a_repo_id_is_bad_input(capsys):
    code, _, err = run(["card", "lint", "no such thing"], capsys)
    assert code == 2 and "neither an existing file" in err


def test_regenerate_needs_exactly_one_target(capsys):
    code, _, err = run(["card", "regenerate", "a/b", "--all", "a", "--endpoint", "http://127.0.0.1:9"], capsys)
    assert code == 2 and "exactly one" in err


def test_regenerate_dry_run_prints_the_diff_and_a_summary(hub_server, client, tmp_path, capsys):
    repo_id = "tester/card-cli-regen"
    release = seed_report(repo_id=repo_id)
    client.ensure_repo(repo_id)
    stale = render_card(release).replace("Optimum Intel 1.19.0 (", "Optimum Intel 1.0 (")
    client.commit_files(repo_id, {"README.md": stale.encode(), "report.json": release.to_json().encode()},
                        message="release", parent_commit=client.revision_sha(repo_id))
    token_file = tmp_path / "token"
    token_file.write_text(hub_server.token)
    code, out, _ = run(["card", "regenerate", repo_id, "--endpoint", hub_server.endpoint,
                        "--token-file", str(token_file), "--dry-run"], capsys)
    assert code == 0
    assert "-* Optimum Intel 1.0 (the release" in out and "+* Optimum Intel 1.19.0 (the release" in out
    assert f"{repo_id}  would-update" in out
