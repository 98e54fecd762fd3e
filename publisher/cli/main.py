"""The ``publisher`` command group and the one place that turns errors into exit codes."""

from __future__ import annotations

import os
import sys

import click

from publisher import __version__
from publisher.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_BAD_INPUT, PublisherError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="publisher")
def cli() -> None:
    """Turn a trained (NNCF-compressed) transformer checkpoint into a verified OpenVINO release
    on the Hugging Face Hub, or on the local Hub-compatible server."""


def _register() -> None:
    # Each command module registers its commands on ``cli``; imports stay light (heavy libraries
    # are imported inside the commands) so that ``publisher --help`` is fast.
    from publisher.cli import bench_commands, card_commands, hub_commands, stage_commands  # noqa: F401


def _quiet_libraries() -> None:
    """Tracing and deprecation chatter from torch/transformers is noise to a person releasing a model."""
    import logging
    import warnings

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in ("torch", "torch.utils._pytree", "torch.utils.cpp_extension", "transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*TracerWarning.*")
    warnings.filterwarnings("ignore", module=r"torch\.jit.*|transformers\..*|optimum\..*")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and map every failure to one paragraph on stderr and an exit code."""
    _register()
    debug = os.environ.get("PUBLISHER_DEBUG") == "1"
    if not debug:
        _quiet_libraries()
    try:
        rv = cli.main(args=argv, prog_name="publisher", standalone_mode=False)
    except PublisherError as exc:
        if debug:
            raise
        click.echo(f"Error: {exc.paragraph()}", err=True)
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        # click turns Ctrl-C into Abort; stages write their cache only when complete.
        click.echo("Interrupted: finished stages are cached in the output folder; re-run the same "
                   "command to resume.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_BAD_INPUT if exc.exit_code == 2 else exc.exit_code)
    except Exception as exc:  # the last line of defence: a bug, not a user error
        if debug:
            raise
        click.echo(
            f"Internal error: {type(exc).__name__}: {exc}. This is a bug in publisher; re-run with "
            "PUBLISHER_DEBUG=1 for the traceback and report it.",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(rv if isinstance(rv, int) else 0)
