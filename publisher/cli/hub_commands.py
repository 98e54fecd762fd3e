"""``publisher hub serve``: run the local Hub-compatible server in the foreground."""

from __future__ import annotations

from pathlib import Path

import click

from publisher.hub.server.layout import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_ROOT
from publisher.hub.server.limits import DEFAULT_BODY_TIMEOUT_S, DEFAULT_MAX_UPLOADS


@click.group("hub")
def hub() -> None:
    """The local Hugging Face Hub-compatible server (the default publishing target)."""


@hub.command("serve")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_ROOT,
              show_default=True, help="Storage folder: git repositories, LFS objects, tokens.")
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="Address to listen on; only loopback unless --allow-remote.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="Port to listen on; 0 picks a free one.")
@click.option("--token-file", "token_files", multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help="File holding a write token (one per line; repeatable). Also "
                   "$PUBLISHER_HUB_TOKEN. Without any, a token is generated once and kept in "
                   "ROOT/auth/token (mode 0600).")
@click.option("--read-token-file", "read_token_files", multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help="File holding a read-only token (repeatable; also $PUBLISHER_HUB_READ_TOKEN): "
                   "sees private repos, writes get 403.")
@click.option("--users-file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="File of NAME=TOKEN lines: further users and their write tokens, e.g. to run "
                   "tests written for two Hub accounts.")
@click.option("--user", "users", multiple=True, metavar="NAME",
              help="The user whoami reports for the --token-file tokens and the default "
                   "namespace (default: the first --users-file user, else local).")
@click.option("--allow-remote", is_flag=True,
              help="Allow a non-loopback --host (plain HTTP: only on a trusted network).")
@click.option("--body-timeout", type=click.FloatRange(min=0, min_open=True),
              default=DEFAULT_BODY_TIMEOUT_S, show_default=True, metavar="SECONDS",
              help="A request body that sends nothing this long is answered 408.")
@click.option("--max-uploads", type=click.IntRange(min=1), default=DEFAULT_MAX_UPLOADS,
              show_default=True, metavar="N",
              help="Request bodies received at once; one more is answered 503.")
# Refused, with the reason, rather than removed: a token on the command line is visible to
# every user of the machine in ps and /proc, and an old script must not start a hub that
# silently ignores its token.
@click.option("--token", "tokens", multiple=True, hidden=True)
@click.option("--read-token", "read_tokens", multiple=True, hidden=True)
def serve_command(root: Path, host: str, port: int, token_files: tuple[Path, ...],
                  read_token_files: tuple[Path, ...], users_file: Path | None,
                  users: tuple[str, ...], allow_remote: bool, body_timeout: float,
                  max_uploads: int, tokens: tuple[str, ...], read_tokens: tuple[str, ...]) -> None:
    """Serve ROOT as a Hub that huggingface_hub clients reach through HF_ENDPOINT.

    Prints the endpoint and the environment a client needs; runs until Ctrl-C. Tokens come from
    files or the environment, never the command line (where ps shows them); their values are
    never printed: the generated token's file path is.
    """
    from publisher.hub.server.runner import config_from_options, serve

    serve(config_from_options(
        root=root, host=host, port=port, token_files=token_files,
        read_token_files=read_token_files, users_file=users_file, users=users,
        allow_remote=allow_remote, body_timeout_s=body_timeout, max_uploads=max_uploads,
        tokens=tokens, read_tokens=read_tokens))


@hub.command("status")
@click.option("--root", "roots", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="Also look at this root (repeatable); servers register themselves anyway.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def status_command(roots: tuple[Path, ...], as_json: bool) -> None:
    """List the local hubs running for this user: root, address, pid."""
    import json as json_module

    from publisher.hub.local import running_hubs

    hubs = running_hubs((DEFAULT_ROOT, *roots))
    if as_json:
        click.echo(json_module.dumps([{"root": str(h.root), "endpoint": h.endpoint, "pid": h.pid}
                                      for h in hubs], indent=1))
        return
    if not hubs:
        click.echo("No local hub is running.")
        return
    for h in hubs:
        click.echo(f"{h.endpoint}  pid {h.pid}  root {h.root}")
    click.echo("Stop one with: publisher hub stop --root ROOT")


@hub.command("stop")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_ROOT,
              show_default=True, help="The root whose server to stop.")
def stop_command(root: Path) -> None:
    """Stop the local hub serving ROOT cleanly (it finishes requests in flight)."""
    from publisher.hub.local import stop_hub_at

    hub = stop_hub_at(root)
    if hub is None:
        click.echo(f"No local hub is running for {root.resolve()}.")
        return
    click.echo(f"Stopped the local hub at {hub.endpoint} (pid {hub.pid}, root {hub.root}).")

COMMANDS = [hub]
