"""``python -m publisher.hub.server``: run the local hub without the click CLI.

``publisher.hub.local`` starts the hub this way, detached, so the server process never imports
the CLI or anything heavy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from publisher.errors import PublisherError
from publisher.hub.server.layout import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m publisher.hub.server",
                                     description="Run the local Hub-compatible server.")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--token", action="append", default=[], help="write token (repeatable)")
    parser.add_argument("--read-token", action="append", default=[], help="read-only token")
    parser.add_argument("--user", action="append", default=[],
                        help="NAME (the default user) or NAME=TOKEN (a user and their write "
                             "token); repeatable")
    parser.add_argument("--allow-remote", action="store_true")
    args = parser.parse_args(argv)

    from publisher.hub.server.runner import ServerConfig, parse_users, serve

    try:
        user, user_tokens = parse_users(args.user)
        config = ServerConfig(root=args.root, host=args.host, port=args.port,
                              write_tokens=tuple(args.token), read_tokens=tuple(args.read_token),
                              user=user, user_tokens=user_tokens, allow_remote=args.allow_remote)
        serve(config)
    except PublisherError as exc:
        print(f"Error: {exc.paragraph()}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
