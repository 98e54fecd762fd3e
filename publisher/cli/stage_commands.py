"""``publisher publish`` and the stage commands. Options only: the work is in publisher.pipeline."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from publisher.cli import output
from publisher.cli.main import cli
from publisher.errors import PublisherError

WEIGHT_FORMATS = click.Choice(["int8", "fp16", "fp32"])


def _opt(*decls: str, **kw: Any):
    return click.option(*decls, **kw)


EVAL_OPTIONS = [
    _opt("--eval-file", type=click.Path(dir_okay=False), help="Local .tsv/.csv/.jsonl evaluation file "
         "(default: the bundled GLUE SST-2 validation split)."),
    _opt("--dataset", help="datasets id of the evaluation data (needs network or a local copy)."),
    _opt("--dataset-config", help="Dataset config name."),
    _opt("--split", help="Evaluation split [default: validation]."),
    _opt("--text-column", help="Text column [default: sentence]."),
    _opt("--label-column", help="Label column [default: label]."),
    _opt("--max-samples", type=int, help="Evaluate on the first N rows only."),
    _opt("--max-length", type=int, help="Tokenizer max length [default: 128]."),
    _opt("--batch-size", type=int, help="Evaluation batch size [default: 32]."),
]
GATE_OPTIONS = [
    _opt("--min-ir-accuracy", type=float, help="Gate: minimum IR accuracy [default: 0.0]."),
    _opt("--max-accuracy-drop", type=float, help="Gate: maximum torch-IR accuracy drop [default: 0.01]."),
    _opt("--min-sparsity", type=float, help="Gate: minimum IR sparsity [default: 0.0]."),
    _opt("--min-argmax-agreement", type=float, help="Gate: minimum argmax agreement [default: 0.98]."),
    _opt("--max-logit-diff", type=float, help="Gate: maximum |logit diff| [default: 0.5]."),
]
CARD_OPTIONS = [
    _opt("--model-name", help="Card title [default: the repo id]."),
    _opt("--license", help="License id for the card (e.g. apache-2.0)."),
    _opt("--language", multiple=True, help="Card language (repeatable) [default: en]."),
    _opt("--model-tag", "tags", multiple=True, help="Extra card tag (repeatable)."),
    _opt("--base-model", help="Hub id of the original model."),
    _opt("--teacher-model", help="Hub id of the distillation teacher."),
    _opt("--nncf-config", type=click.Path(dir_okay=False), help="nncf_config.json [default: the checkpoint's]."),
    _opt("--training-command", type=click.Path(dir_okay=False), help="File holding the training command."),
    _opt("--template", type=click.Path(dir_okay=False), help="Card template (Jinja2)."),
    _opt("--sections-dir", type=click.Path(file_okay=False), help="Folder of card sections to add or override."),
]
HUB_OPTIONS = [
    _opt("--endpoint", help="'local', a URL, or unset: HF_ENDPOINT, else the real Hub when a token "
         "is found, else the local hub."),
    _opt("--token-file", type=click.Path(dir_okay=False), help="File holding the Hub token "
         "[default: HF_TOKEN or the huggingface_hub login]."),
    _opt("--revision", help="Branch to commit to [default: main]."),
    _opt("--create-pr/--no-create-pr", default=None, help="Open a pull request instead of committing."),
    _opt("--tag", help="Hub tag to create on the new commit (e.g. v1.0)."),
    _opt("--private/--public", default=None, help="Visibility when the repo is created."),
    _opt("--commit-message", help="Commit message [default: states the key figures]."),
    _opt("--push/--no-push", default=None, help="Push to the Hub [default: push]."),
    _opt("--dry-run", is_flag=True, default=None, help="Show the files and card diff against the "
         "remote; push nothing."),
]


def _apply(options: list):
    def deco(f):
        for o in reversed(options):
            f = o(f)
        return f
    return deco


def _explicit(ctx: click.Context, params: dict[str, Any]) -> dict[str, Any]:
    """Only the options the user actually gave (so that the config file fills in the rest)."""
    from click.core import ParameterSource

    out = {}
    for name, value in params.items():
        if ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            out[name] = list(value) if isinstance(value, tuple) else value
    return out


@cli.command()
@click.argument("checkpoint", required=False, type=click.Path(file_okay=False))
@click.option("--repo-id", help="Target repo NAMESPACE/NAME.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="publish.toml with "
              "the options (flags override it); may list several models.")
@click.option("-o", "--output", type=click.Path(file_okay=False), help="Output folder [default: artifacts/<name>].")
@click.option("--weight-format", type=WEIGHT_FORMATS, help="IR weight format [default: int8].")
@click.option("--trust-pickle", is_flag=True, default=None, help="Allow loading pytorch_model.bin (pickle).")
@_apply(EVAL_OPTIONS)
@_apply(GATE_OPTIONS)
@_apply(CARD_OPTIONS)
@_apply(HUB_OPTIONS)
@click.option("--cache/--no-cache", default=None, help="Re-use cached stage results [default: cache].")
@click.option("--bench", is_flag=True, default=None, help="Measure IR latency and throughput on this "
              "CPU for the card's Performance section (cached with the measurements).")
@click.option("--fail-fast", is_flag=True, help="Batch: stop at the first model that fails.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@click.pass_context
def publish(ctx: click.Context, config_file: str | None, fail_fast: bool, as_json: bool, **params: Any) -> None:
    """Release CHECKPOINT: export to OpenVINO IR, verify, measure, render the card, push.

    Exit codes: 0 released (or unchanged), 2 bad input, 3 quality gate failed, 4 authentication,
    5 Hub unreachable or refusing, 1 internal error.
    """
    from publisher.config import load_config, settings_from_mapping
    from publisher.pipeline import publish as run_publish
    from publisher.progress import Progress

    flags = _explicit(ctx, params)
    models = load_config(config_file).models if config_file else [{}]
    mappings = [{**m, **flags} for m in models]
    progress = Progress(quiet=as_json and not sys.stderr.isatty())
    if len(mappings) == 1:
        with output.stdout_reserved_for_json(as_json):
            outcome = run_publish(settings_from_mapping(mappings[0]), progress)
        _show_one(outcome, as_json)
        return
    _publish_batch(mappings, fail_fast, as_json, progress)


def _document(outcome: Any) -> dict[str, Any]:
    doc = outcome.report.to_dict()
    doc["status"] = outcome.report.status
    if outcome.changes is not None:
        doc["changes"] = {"added": outcome.changes.added, "changed": outcome.changes.changed,
                          "deleted": outcome.changes.deleted}
    if outcome.card_diff is not None:
        doc["card_diff"] = outcome.card_diff
    return doc


def _show_one(outcome: Any, as_json: bool) -> None:
    if outcome.notice and not as_json:
        output.stderr.print(outcome.notice)
    if as_json:
        output.print_json(_document(outcome))
        return
    output.print_report(outcome.report)
    if outcome.report.status == "dry_run" and outcome.changes is not None:
        c = outcome.changes
        output.print_changes(c.added, c.changed, c.deleted, outcome.card_diff)


def _publish_batch(mappings: list[dict[str, Any]], fail_fast: bool, as_json: bool, progress: Any) -> None:
    from publisher.config import settings_from_mapping
    from publisher.errors import EXIT_INTERNAL
    from publisher.pipeline import publish as run_publish

    rows: list[dict[str, Any]] = []
    worst = 0
    for m in mappings:
        name = m.get("repo_id") or m.get("checkpoint")
        try:
            with output.stdout_reserved_for_json(as_json):
                outcome = run_publish(settings_from_mapping(m), progress)
            rows.append({"model": name, "status": outcome.report.status, "exit_code": 0,
                         "report": _document(outcome)})
        except PublisherError as exc:
            rows.append({"model": name, "status": exc.kind, "exit_code": exc.exit_code,
                         "error": exc.paragraph()})
            worst = worst or exc.exit_code
            if not as_json:
                output.stderr.print(f"[red]{name}[/red]: {exc.paragraph()}")
            if fail_fast:
                break
        except Exception as exc:  # a bug in one model's run must not hide the others' outcomes
            rows.append({"model": name, "status": "internal_error", "exit_code": EXIT_INTERNAL,
                         "error": f"{type(exc).__name__}: {exc}"})
            worst = worst or EXIT_INTERNAL
            if fail_fast:
                break
    if as_json:
        output.print_json({"status": "ok" if worst == 0 else "failed", "models": rows})
    else:
        output.print_batch(rows)
    sys.exit(worst)


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


@cli.command()
@click.argument("checkpoint", type=click.Path(file_okay=False))
@click.option("--trust-pickle", is_flag=True, help="Allow loading pytorch_model.bin (pickle).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def inspect(checkpoint: str, trust_pickle: bool, as_json: bool) -> None:
    """Stage 1: load CHECKPOINT and show what publisher reads from it."""
    from publisher.pipeline import inspect_checkpoint

    _print_result(inspect_checkpoint(Path(checkpoint), trust_pickle=trust_pickle), as_json, "Checkpoint")


@cli.command()
@click.argument("checkpoint", type=click.Path(file_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="IR output folder.")
@click.option("--weight-format", type=WEIGHT_FORMATS, default="int8", show_default=True)
@click.option("--trust-pickle", is_flag=True, help="Allow loading pytorch_model.bin (pickle).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def export(checkpoint: str, output: str, weight_format: str, trust_pickle: bool, as_json: bool) -> None:
    """Stage 2: export CHECKPOINT to OpenVINO IR (loadable with OVModelForSequenceClassification)."""
    from publisher.pipeline import export_checkpoint

    result = export_checkpoint(Path(checkpoint), Path(output), weight_format=weight_format,
                               trust_pickle=trust_pickle)
    _print_result(result, as_json, "Export")


def _measure_command(name: str, help_text: str, pick: int) -> None:
    @cli.command(name=name, help=help_text)
    @click.argument("checkpoint", type=click.Path(file_okay=False))
    @click.argument("ir_dir", type=click.Path(file_okay=False))
    @click.option("--trust-pickle", is_flag=True, help="Allow loading pytorch_model.bin (pickle).")
    @_apply(EVAL_OPTIONS)
    @_apply(GATE_OPTIONS[3:])
    @click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
    @click.pass_context
    def command(ctx: click.Context, checkpoint: str, ir_dir: str, as_json: bool, **params: Any) -> None:
        from publisher.config import settings_from_mapping
        from publisher.pipeline import measure_ir
        from publisher.progress import Progress

        settings = settings_from_mapping({**_explicit(ctx, params), "checkpoint": checkpoint})
        results = measure_ir(Path(checkpoint), Path(ir_dir), settings, Progress(quiet=as_json))
        _print_result(results[pick], as_json, name.capitalize())
        if pick == 0 and not results[0].passed:
            from publisher.errors import GateFailedError

            raise GateFailedError("The IR does not agree with the torch model within the thresholds",
                                  "Check the export, or loosen --max-logit-diff/--min-argmax-agreement")


_measure_command("verify", "Stage 3: compile the IR in IR_DIR and compare its logits with CHECKPOINT's.", 0)


@cli.command()
@click.argument("checkpoint", type=click.Path(file_okay=False))
@click.argument("ir_dir", type=click.Path(file_okay=False))
@click.option("--trust-pickle", is_flag=True, help="Allow loading pytorch_model.bin (pickle).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def sparsity(checkpoint: str, ir_dir: str, trust_pickle: bool, as_json: bool) -> None:
    """Stage 4: sparsity of the transformer-block linear layers, in CHECKPOINT and in the IR."""
    from publisher.pipeline import measure_ir_sparsity

    result = measure_ir_sparsity(Path(checkpoint), Path(ir_dir), trust_pickle=trust_pickle)
    _print_result(result, as_json, "Sparsity")
_measure_command("accuracy", "Stage 5: accuracy of CHECKPOINT and of the IR in IR_DIR.", 2)
