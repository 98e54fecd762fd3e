"""``publisher card``: render, variables, lint, regenerate. Options only: the work is in publisher.card."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from publisher.cli.options import click_option
from publisher.options import BY_KEY, TASKS

TEMPLATE = click.option("--template", type=click.Path(dir_okay=False),
                        help="Card template (Jinja2) [default: the bundled card of the report's task].")
SECTIONS = click.option("--sections-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
                        help="Folder of NAME.md.j2 files that replace or add card sections.")
ENDPOINT = click_option(BY_KEY["endpoint"])
TOKEN_FILE = click_option(BY_KEY["token_file"])


@click.group("card")
def card_group() -> None:
    """Render, inspect, lint and regenerate model cards."""


@card_group.command("render")
@click.argument("report_path", metavar="REPORT.json", type=click.Path(dir_okay=False, exists=True))
@TEMPLATE
@SECTIONS
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the card here [default: stdout].")
def render_command(report_path: str, template: str | None, sections_dir: Path | None,
                   output: Path | None) -> None:
    """Render a README.md from a report.

    The YAML front matter is always generated from the report; the template renders the body.
    """
    from publisher.card import card_warnings, render_card
    from publisher.card.remote import load_report

    report = load_report(report_path)
    text = render_card(report, template=template, sections_dir=sections_dir)
    for warning in card_warnings(report):
        click.echo(f"Warning: {warning}", err=True)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {output}", err=True)


@card_group.command("variables")
@TEMPLATE
@SECTIONS
@click.option("--task", type=click.Choice(list(TASKS)), default=TASKS[0], show_default=True,
              help="Whose bundled card to read when --template is not given.")
def variables_command(template: str | None, sections_dir: Path | None, task: str) -> None:
    """List the variables a template uses.

    Each line names a variable, what publisher puts in it, and the attributes the template reads.
    """
    from publisher.card import template_variables

    for var in template_variables(template, sections_dir, task=task):
        uses = f"  (uses {', '.join(var.uses)})" if var.uses else ""
        description = var.description or "NOT PROVIDED by publisher: rendering this template fails"
        click.echo(f"{var.name}: {description}{uses}")


@card_group.command("lint")
@click.argument("target", metavar="PATH|REPO_ID")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Report to check figures against [default: report.json beside the README, or the "
                   "repo's stored report].")
@click.option("--online", is_flag=True, help="Also run the endpoint's /api/validate-yaml.")
@ENDPOINT
@TOKEN_FILE
def lint_command(target: str, report_path: Path | None, online: bool, endpoint: str | None,
                 token_file: str | None) -> None:
    """Check a card: README path, release folder or repo id.

    Prints one finding per line (FILE:LINE: SEVERITY [RULE] MESSAGE). Exit code 0: no errors
    (warnings allowed); 1: errors found.
    """
    from publisher.card import lint_target
    from publisher.card.lint import has_errors
    from publisher.card.remote import open_client

    def client_factory():
        client, notice = open_client(endpoint, token_file)
        if notice:
            click.echo(notice, err=True)
        return client

    run = lint_target(target, report_path=report_path, online=online, client_factory=client_factory)
    for finding in run.findings:
        click.echo(finding.format(run.source))
    errors = sum(f.severity == "error" for f in run.findings)
    warnings = len(run.findings) - errors
    click.echo(f"{run.source}: {errors} error(s), {warnings} warning(s)", err=True)
    if has_errors(run.findings):
        sys.exit(1)


@card_group.command("regenerate")
@click.argument("repo_id", required=False)
@click.option("--all", "namespace", metavar="NAMESPACE", help="Regenerate every model repo of NAMESPACE.")
@click.option("--repos", "repos_file", type=click.Path(dir_okay=False, exists=True),
              help="File of repo ids, one a line.")
@ENDPOINT
@TOKEN_FILE
@click.option("--revision", default="main", show_default=True, help="Branch to read and commit to.")
@click.option("--dry-run", is_flag=True, help="Show the README diff; commit nothing.")
@click.option("--create-pr", is_flag=True, help="Open a pull request instead of committing.")
@TEMPLATE
@SECTIONS
@click_option(BY_KEY["sign_key"])
@click_option(BY_KEY["sign_key_password_env"])
@click_option(BY_KEY["sign_key_password_file"])
@click.option("--drop-signature", is_flag=True,
              help="Remove a signed repo's model.sig in the regenerating commit (instead of re-signing it).")
def regenerate_command(repo_id: str | None, namespace: str | None, repos_file: str | None,
                       endpoint: str | None, token_file: str | None, revision: str, dry_run: bool,
                       create_pr: bool, template: str | None, sections_dir: Path | None,
                       sign_key: str | None, sign_key_password_env: str | None,
                       sign_key_password_file: str | None, drop_signature: bool) -> None:
    """Re-render published cards from their stored reports.

    Downloads README.md and report.json only. Managed sections and publisher's metadata keys are
    re-rendered; text outside the managed sections is kept. README.md is committed (one commit per
    repo) only when the card's meaning changed.
    """
    from publisher.card import format_summary, regenerate, regenerate_many, repo_ids_from_file
    from publisher.card.remote import open_client

    chosen = [x for x in (repo_id, namespace, repos_file) if x]
    if len(chosen) != 1:
        raise click.UsageError("Give exactly one of REPO_ID, --all NAMESPACE or --repos FILE.")
    key = None
    if sign_key and drop_signature:
        raise click.UsageError("Give --sign-key or --drop-signature, not both.")
    if sign_key:
        from publisher.signing import load_signing_key

        key = load_signing_key(sign_key, sign_key_password_env, sign_key_password_file)
    elif sign_key_password_env or sign_key_password_file:
        raise click.UsageError("A password option was given without --sign-key.")
    client, notice = open_client(endpoint, token_file)
    if notice:
        click.echo(notice, err=True)
    options = dict(revision=revision, dry_run=dry_run, create_pr=create_pr, template=template,
                   sections_dir=sections_dir, sign_key=key, drop_signature=drop_signature)
    if repo_id:
        outcomes = [regenerate(client, repo_id, **options)]
    else:
        ids = client.list_models(namespace) if namespace else repo_ids_from_file(repos_file)
        outcomes = regenerate_many(client, ids, **options)
    for outcome in outcomes:
        if dry_run and outcome.diff:
            click.echo(outcome.diff, nl=False)
    click.echo(format_summary(outcomes))
    failures = [o.error for o in outcomes if o.status == "failed" and o.error is not None]
    if failures:
        sys.exit(max(e.exit_code for e in failures))

COMMANDS = [card_group]
