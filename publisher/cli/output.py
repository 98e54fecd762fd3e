"""All printing of results: JSON on stdout for programs, rich tables on stderr/stdout for people."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Any, Iterator

from rich.console import Console
from rich.table import Table

from publisher.results import Report
from publisher.tasks import task_of

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)


@contextlib.contextmanager
def stdout_reserved_for_json(enabled: bool = True) -> Iterator[None]:
    """Send everything written to stdout (libraries such as nncf log there) to stderr meanwhile.

    Done at the file-descriptor level so that handlers holding the original ``sys.stdout``, and
    native code, are redirected too; stdout then carries only the JSON document printed after.
    """
    if not enabled:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


JSON_REQUESTED = "publisher.json"  # key in the click context's meta, shared by every context


def json_requested(ctx: Any, param: Any, value: bool) -> bool:
    """--json callback: remember it, so the error boundary answers in JSON too."""
    if value:
        ctx.meta[JSON_REQUESTED] = True
    return value


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
    sys.stdout.flush()


def report_tables(report: Report) -> list[Table]:
    summary = Table(title=f"{report.card.model_name}: {report.status}", show_header=True)
    summary.add_column("measure")
    summary.add_column("torch", justify="right")
    summary.add_column("OpenVINO IR", justify="right")
    for row in task_of(report).summary_rows(report):
        summary.add_row(*row)
    tables = [summary]
    if report.gates:
        gates = Table(title="Quality gates")
        for col in ("gate", "measured", "threshold", "verdict"):
            gates.add_column(col)
        for g in report.gates:
            gates.add_row(g.name, f"{g.measured:.4f}", f"{g.comparison} {g.threshold}",
                          "[green]pass[/green]" if g.passed else "[red]FAIL[/red]")
        tables.append(gates)
    return tables


def key_figure(report: dict[str, Any]) -> str:
    """The one figure a batch summary shows for a release (from its JSON document)."""
    return task_of(report).key_figure(report)


def print_report(report: Report, console: Console = stderr) -> None:
    for table in report_tables(report):
        console.print(table)
    hub = report.hub
    if hub is None:
        return
    if report.status == "unchanged":
        console.print(f"No change: {hub.repo_id}@{hub.revision} already holds this release "
                      f"({hub.commit}); no commit made.")
    elif report.status == "released":
        console.print(f"Published {hub.repo_id} at {hub.commit}: {hub.url}")
        if hub.pr_url:
            console.print(f"Pull request: {hub.pr_url}")
        if hub.tag:
            console.print(f"Tagged {hub.tag}")


def print_changes(added: list[str], changed: list[str], deleted: list[str], card_diff: str | None,
                  console: Console = stdout) -> None:
    table = Table(title="Dry run: changes against the remote revision")
    table.add_column("change")
    table.add_column("file")
    for kind, paths in (("add", added), ("change", changed), ("delete", deleted)):
        for p in paths:
            table.add_row(kind, p)
    if not (added or changed or deleted):
        table.add_row("-", "nothing would change")
    console.print(table)
    if card_diff:
        console.print(card_diff, markup=False, highlight=False)


def print_batch(rows: list[dict[str, Any]], console: Console = stderr) -> None:
    table = Table(title="Batch summary")
    for col in ("model", "status", "IR figures", "commit / error"):
        table.add_column(col)
    for r in rows:
        rep = r.get("report")
        if rep:
            hub = rep.get("hub") or {}
            table.add_row(str(r["model"]), r["status"], key_figure(rep), str(hub.get("commit") or "-"))
        else:
            table.add_row(str(r["model"]), f"[red]{r['status']}[/red]", "-",
                          (r.get("error") or {}).get("message", "")[:80])
    console.print(table)


_VERDICT_STYLES = {"holds": "green", "holds (partial)": "green", "does not hold": "bold red",
                   "not re-checkable": "yellow"}


def _wide(console: Console) -> Console:
    """A table of six columns needs more than 80 characters; piped output has no width of its own."""
    if console.is_terminal or console.width >= 140:
        return console
    return Console(file=console.file, width=140, highlight=False)


def print_verification(result: Any, console: Console = stdout) -> None:
    """`publisher verify`'s table: one row per claim, then the verdict in one line."""
    from rich.markup import escape

    console = _wide(console)
    kind = "claims ledger" if result.ledger else "no ledger: a repo publisher did not publish"
    title = f"{result.repo_id} @ {result.revision[:12]} ({kind})"
    table = Table(title=title, show_lines=False)
    for col, justify in (("claim", "left"), ("on the card", "right"), ("ledger", "right"),
                         ("re-measured", "right"), ("tolerance", "left"), ("verdict", "left")):
        table.add_column(col, justify=justify, overflow="fold")
    for c in result.checks:
        style = _VERDICT_STYLES.get(c.verdict, "")
        verdict = f"[{style}]{escape(c.verdict)}[/{style}]" if style else escape(c.verdict)
        if c.reason:
            verdict += f"\n[dim]{escape(c.reason)}[/dim]"
        table.add_row(escape(c.claim), escape(c.card or "-"), escape(c.ledger or "-"), escape(c.remeasured or "-"),
                      escape(c.tolerance or "-"), verdict)
    console.print(table)
    if result.environment is not None and not result.environment.threads:
        console.print("Where the ledger's measurements were made is not recorded (a report written before "
                      "publisher kept a ledger).")
    elif result.environment is not None:
        env = result.environment
        console.print(f"Measured for the ledger on {env.cpu} ({', '.join(env.isa[-3:]) or 'ISA not recorded'}; "
                      f"{env.threads} threads, {env.inference_precision or 'default'} inference precision).")
    if result.partial:
        console.print(f"[yellow]Partial check:[/yellow] {result.partial} were re-run; the rest were not.")
    counts: dict[str, int] = {}
    for c in result.checks:
        counts[c.verdict] = counts.get(c.verdict, 0) + 1
    summary = ", ".join(f"{n} {v}" for v, n in counts.items())
    console.print(("[green]All claims that can be re-checked hold[/green]" if result.holds
                   else "[bold red]Some claims do not hold[/bold red]") + f" ({summary}).")


def print_fleet(rows: list[Any], console: Console = stdout) -> None:
    from rich.markup import escape

    from publisher.recheck.fleet import fleet_document

    console = _wide(console)
    document = fleet_document(rows)
    table = Table(title="Releases verified")
    for col in ("repo", "status", "claims", "what failed / error"):
        table.add_column(col, overflow="fold")
    for row, entry in zip(rows, document["releases"]):
        status = entry["status"]
        style = {"holds": "green", "does not hold": "bold red", "error": "red", "skipped": "yellow"}[status]
        if row.result is not None:
            checks = row.result.checks
            held = sum(1 for c in checks if c.verdict.startswith("holds"))
            claims = f"{held} hold, {len(row.result.failed)} fail, {len(checks) - held - len(row.result.failed)} unverifiable"
            detail = ", ".join(entry["failed"]) or "-"
        else:
            claims, detail = "-", entry["error"]["message"][:160]
        table.add_row(escape(row.repo_id), f"[{style}]{status}[/{style}]", claims, escape(detail))
    console.print(table)
