"""``publisher publish`` and the stage commands. Options only: the work is in publisher.pipeline."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import click

from publisher.cli import output
from publisher.cli.options import given, options_for
from publisher.errors import PublisherError
from publisher.options import ACCURACY, EXPORT, INSPECT, PARITY, PUBLISH, SPARSITY

VERBOSE = click.option("-v", "--verbose", is_flag=True,
                       help="Show other libraries' warnings and tables (default: kept in the output "
                       "folder's .publisher/library.log).")
JSON = click.option("--json", "as_json", is_flag=True, callback=output.json_requested, expose_value=True,
                    help="Print one JSON document on stdout (also for errors).")


@click.command()
@click.argument("checkpoint", required=False, type=click.Path(file_okay=False))
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="publish.toml with "
              "the options (flags override it); may list several models.")
@options_for(PUBLISH)
@click.option("--fail-fast", is_flag=True, help="Batch: stop at the first model that fails.")
@VERBOSE
@JSON
@click.pass_context
def publish(ctx: click.Context, config_file: str | None, fail_fast: bool, verbose: bool, as_json: bool,
            **params: Any) -> None:
    """Release CHECKPOINT: export to OpenVINO IR, verify, measure, render the card, push.

    Exit codes: 0 released (or unchanged), 2 bad input, 3 quality gate failed, 4 authentication,
    5 Hub unreachable or refusing, 1 internal error.
    """
    from publisher.config import load_config
    from publisher.pipeline import publish as run_publish, publish_batch
    from publisher.progress import Progress
    from publisher.settings import settings_from_mapping

    flags = given(ctx, params)
    models = load_config(config_file).models if config_file else [{}]
    mappings = [{**m, **flags} for m in models]
    progress = Progress(quiet=as_json and not sys.stderr.isatty())
    if len(mappings) == 1:
        settings = settings_from_mapping(mappings[0])
        with output.stdout_reserved_for_json(as_json):
            outcome = run_publish(settings, progress, library_output=verbose)
        _show_one(outcome, as_json)
        return

    def said(name: str, exc: PublisherError) -> None:
        if not as_json:
            output.stderr.print(f"[red]{name}[/red]: {exc.paragraph()}")

    with output.stdout_reserved_for_json(as_json):
        rows = publish_batch([(str(m.get("repo_id") or m.get("checkpoint")),
                               functools.partial(settings_from_mapping, m)) for m in mappings],
                             fail_fast=fail_fast, progress=progress, on_error=said,
                             library_output=verbose)
    worst = next((r["exit_code"] for r in rows if r["exit_code"]), 0)
    if as_json:
        output.print_json({"status": "ok" if worst == 0 else "failed", "models": rows})
    else:
        output.print_batch(rows)
    sys.exit(worst)


def _show_one(outcome: Any, as_json: bool) -> None:
    from publisher.pipeline import outcome_document

    if outcome.notice and not as_json:
        output.stderr.print(outcome.notice)
    if as_json:
        output.print_json(outcome_document(outcome))
        return
    output.print_report(outcome.report)
    if outcome.report.status == "dry_run" and outcome.changes is not None:
        c = outcome.changes
        output.print_changes(c.added, c.changed, c.deleted, outcome.card_diff)


def _print_result(result: Any, as_json: bool, title: str) -> None:
    import dataclasses

    from rich.table import Table

    from publisher.results import to_jsonable

    data = to_jsonable(dataclasses.asdict(result))
    if as_json:
        output.print_json(data)
        return
    table = Table(title=title, show_header=False)
    for key, value in data.items():
        if isinstance(value, dict) and len(value) > 8:
            value = f"{{{len(value)} entries}}"
        elif isinstance(value, list) and len(value) > 8:
            value = f"[{len(value)} items]"
        table.add_row(key, str(value))
    output.stdout.print(table)


@click.command()
@click.argument("checkpoint", type=click.Path(file_okay=False))
@options_for(INSPECT)
@JSON
def inspect(checkpoint: str, as_json: bool, trust_pickle: bool | None) -> None:
    """Stage 1: load CHECKPOINT and show what publisher reads from it."""
    from publisher.pipeline import inspect_checkpoint

    with output.stdout_reserved_for_json(as_json):
        result = inspect_checkpoint(Path(checkpoint), trust_pickle=bool(trust_pickle))
    _print_result(result, as_json, "Checkpoint")


@click.command()
@click.argument("checkpoint", type=click.Path(file_okay=False))
@click.option("-o", "--output", "output_dir", required=True, type=click.Path(file_okay=False),
              help="IR output folder.")
@options_for(EXPORT)
@JSON
@click.pass_context
def export(ctx: click.Context, checkpoint: str, output_dir: str, as_json: bool, **params: Any) -> None:
    """Stage 2: export CHECKPOINT to OpenVINO IR (loadable with the task's OVModelFor... class)."""
    from publisher.pipeline import export_checkpoint
    from publisher.settings import settings_from_mapping

    settings = settings_from_mapping({**given(ctx, params), "checkpoint": checkpoint})
    with output.stdout_reserved_for_json(as_json):  # NNCF prints its tables to stdout
        result = export_checkpoint(settings, Path(output_dir))
    _print_result(result, as_json, "Export")


def _measure_command(name: str, help_text: str) -> click.Command:
    @click.command(name=name, help=help_text)
    @click.argument("checkpoint", type=click.Path(file_okay=False))
    @click.argument("ir_dir", type=click.Path(file_okay=False))
    @options_for(name)
    @JSON
    @click.pass_context
    def command(ctx: click.Context, checkpoint: str, ir_dir: str, as_json: bool, **params: Any) -> None:
        from publisher.pipeline import measure_ir
        from publisher.progress import Progress
        from publisher.settings import settings_from_mapping

        settings = settings_from_mapping({**given(ctx, params), "checkpoint": checkpoint})
        with output.stdout_reserved_for_json(as_json):
            task, measurements = measure_ir(Path(checkpoint), Path(ir_dir), settings, Progress(quiet=as_json))
        result, passed = task.stage_result(name, measurements)
        _print_result(result, as_json, name.capitalize())
        if not passed:
            from publisher.errors import GateFailedError

            raise GateFailedError("The IR does not agree with the torch model within the thresholds",
                                  "Check the export, or loosen --max-logit-diff/--min-argmax-agreement")

    return command


parity = _measure_command(PARITY, "Stage 3: compile the IR in IR_DIR and compare its logits with CHECKPOINT's.")


@click.command()
@click.argument("checkpoint", type=click.Path(file_okay=False))
@click.argument("ir_dir", type=click.Path(file_okay=False))
@options_for(SPARSITY)
@JSON
def sparsity(checkpoint: str, ir_dir: str, trust_pickle: bool | None, as_json: bool) -> None:
    """Stage 4: sparsity of the transformer-block linear layers, in CHECKPOINT and in the IR."""
    from publisher.pipeline import measure_ir_sparsity

    with output.stdout_reserved_for_json(as_json):
        result = measure_ir_sparsity(Path(checkpoint), Path(ir_dir), trust_pickle=bool(trust_pickle))
    _print_result(result, as_json, "Sparsity")
accuracy = _measure_command(ACCURACY, "Stage 5: accuracy of CHECKPOINT and of the IR in IR_DIR.")

COMMANDS = [publish, inspect, export, parity, sparsity, accuracy]
