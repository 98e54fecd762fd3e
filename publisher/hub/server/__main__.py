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
from publisher.hub.server.limits import DEFAULT_BODY_TIMEOUT_S, DEFAULT_MAX_UPLOADS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m publisher.hub.server",
                                     description="Run the local Hub-compatible server.")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--token-file", action="append", default=[], type=Path,
                        help="file holding write token(s), one per line (repeatable)")
    parser.add_argument("--read-token-file", action="append", default=[], type=Path,
                        help="file holding read-only token(s), one per line (repeatable)")
    parser.add_argument("--users-file", type=Path,
                        help="file of NAME=TOKEN lines: further users and their write tokens")
    parser.add_argument("--user", action="append", default=[],
                        help="NAME: the default user (the namespace of new repositories)")
    parser.add_argument("--allow-remote", action="store_true")
    parser.add_argument("--body-timeout", type=float, default=DEFAULT_BODY_TIMEOUT_S,
                        help="seconds a request body may send nothing before a 408")
    parser.add_argument("--max-uploads", type=int, default=DEFAULT_MAX_UPLOADS,
                        help="request bodies received at once; one more gets a 503")
    # Refused with the reason (a token on the command line is visible in ps), not removed.
    parser.add_argument("--token", action="append", default=[], help=argparse.SUPPRESS)
    parser.add_argument("--read-token", action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    from publisher.hub.server.runner import config_from_options, serve

    try:
        serve(config_from_options(
            root=args.root, host=args.host, port=args.port, token_files=args.token_file,
            read_token_files=args.read_token_file, users_file=args.users_file, users=args.user,
            allow_remote=args.allow_remote, body_timeout_s=args.body_timeout,
            max_uploads=args.max_uploads, tokens=args.token, read_tokens=args.read_token))
    except PublisherError as exc:
        print(f"Error: {exc.paragraph()}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
