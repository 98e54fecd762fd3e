"""The ``publisher`` command group and the one place that turns errors into exit codes."""

from __future__ import annotations

import os
import sys
import traceback

import click

from publisher import __version__
from publisher.cli import output
from publisher.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, PublisherError

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool whose reader went away


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="publisher")
def cli() -> None:
    """Turn a trained (NNCF-compressed) transformer checkpoint into a verified OpenVINO release
    on the Hugging Face Hub, or on the local Hub-compatible server."""


def _register() -> None:
    """Add every command module's ``COMMANDS`` to the group. Their imports stay light (heavy
    libraries are imported inside the commands), so ``publisher --help`` is fast."""
    from publisher.cli import bench_commands, card_commands, hub_commands, stage_commands, verify_commands

    for module in (stage_commands, verify_commands, bench_commands, card_commands, hub_commands):
        for command in module.COMMANDS:
            cli.add_command(command)


def _quiet_libraries() -> None:
    """Import-time chatter of torch/transformers, before any run redirects library output."""
    import warnings

    from publisher.quiet import quiet_python_loggers

    quiet_python_loggers()
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*TracerWarning.*")
    warnings.filterwarnings("ignore", module=r"torch\.jit.*|transformers\..*|optimum\..*")


def _fail(ctx: click.Context | None, exit_code: int, kind: str, message: str, prefix: str,
          document: dict | None = None) -> None:
    """The one way a command fails: one paragraph on stderr (and one JSON document on stdout when
    --json was given: ``document``, if the failure has one, with status and error), then the exit
    code. PUBLISHER_DEBUG=1 adds the traceback, nothing else."""
    if os.environ.get("PUBLISHER_DEBUG") == "1":
        traceback.print_exc()
    click.echo(f"{prefix}{message}", err=True)
    if ctx is not None and ctx.meta.get(output.JSON_REQUESTED):
        status = {"gate_failed": "not_released", "claim_failed": "does not hold"}.get(kind, "error")
        output.print_json({**(document or {}), "status": status,
                           "error": {"exit_code": exit_code, "kind": kind, "message": message}})
    sys.exit(exit_code)


def _legacy_parity(args: list[str]) -> list[str]:
    """`publisher verify CHECKPOINT IR_DIR` was stage 3 before `verify` re-checked releases: two
    local folders still run it (now `publisher parity`), with a note."""
    if args[:1] != ["verify"]:
        return args
    if len(args) >= 3 and all(not a.startswith("-") and os.path.isdir(a) for a in args[1:3]):
        click.echo("Note: `publisher verify CHECKPOINT IR_DIR` is now `publisher parity CHECKPOINT IR_DIR`; "
                   "`publisher verify REPO_ID` re-checks a published release.", err=True)
        return ["parity", *args[1:]]
    return args


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and map every failure to one paragraph on stderr and an exit code."""
    _register()
    if os.environ.get("PUBLISHER_DEBUG") != "1":
        _quiet_libraries()
    args = _legacy_parity(sys.argv[1:] if argv is None else list(argv))
    ctx: click.Context | None = None
    try:
        try:
            with cli.make_context("publisher", args) as ctx:
                rv = cli.invoke(ctx)
        except (EOFError, KeyboardInterrupt):
            raise click.exceptions.Abort() from None
    except click.exceptions.Exit as exc:  # --help, --version
        sys.exit(exc.exit_code)
    except PublisherError as exc:
        _fail(ctx, exc.exit_code, exc.kind, exc.paragraph(), "Error: ", exc.document)
    except click.exceptions.Abort:
        # click turns Ctrl-C into Abort; stages write their cache only when complete.
        _fail(ctx, EXIT_INTERRUPTED, "interrupted", "Interrupted: finished stages are cached in the "
              "output folder; re-run the same command to resume.", "")
    except click.ClickException as exc:
        exc.show()
        code = EXIT_BAD_INPUT if exc.exit_code == 2 else exc.exit_code
        if ctx is not None and ctx.meta.get(output.JSON_REQUESTED):
            output.print_json({"status": "error", "error": {
                "exit_code": code, "kind": "bad_input", "message": exc.format_message()}})
        sys.exit(code)
    except BrokenPipeError:
        # The reader went away (`publisher ... | head`): stop quietly, as a shell tool does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(EXIT_BROKEN_PIPE)
    except Exception as exc:  # the last line of defence: a bug, not a user error
        _fail(ctx, EXIT_INTERNAL, "internal",
              f"{type(exc).__name__}: {exc}. This is a bug in publisher; re-run with "
              "PUBLISHER_DEBUG=1 for the traceback and report it.", "Internal error: ")
    sys.exit(rv if isinstance(rv, int) else 0)
