"""``publisher hub serve``: run the local Hub-compatible server in the foreground."""

from __future__ import annotations

from pathlib import Path

import click

from publisher.hub.server.layout import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_ROOT


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
@click.option("--token", "tokens", multiple=True, metavar="T",
              help="Write token (repeatable). Without one, a token is generated once and kept in "
                   "ROOT/auth/token (mode 0600).")
@click.option("--read-token", "read_tokens", multiple=True, metavar="T",
              help="Read-only token (repeatable): sees private repos, writes get 403.")
@click.option("--user", "users", multiple=True, metavar="NAME[=TOKEN]",
              help="NAME: the user whoami reports for --token tokens and the default namespace "
                   "(default: local). NAME=TOKEN: another user and their write token "
                   "(repeatable), e.g. to run tests written for two Hub accounts.")
@click.option("--allow-remote", is_flag=True,
              help="Allow a non-loopback --host (plain HTTP: only on a trusted network).")
def serve_command(root: Path, host: str, port: int, tokens: tuple[str, ...],
                  read_tokens: tuple[str, ...], users: tuple[str, ...], allow_remote: bool) -> None:
    """Serve ROOT as a Hub that huggingface_hub clients reach through HF_ENDPOINT.

    Prints the endpoint and the environment a client needs; runs until Ctrl-C. Token values are
    never printed: the generated token's file path is.
    """
    from publisher.hub.server.runner import ServerConfig, parse_users, serve

    user, user_tokens = parse_users(users)
    serve(ServerConfig(root=root, host=host, port=port, write_tokens=tokens,
                       read_tokens=read_tokens, user=user, user_tokens=user_tokens,
                       allow_remote=allow_remote))


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
