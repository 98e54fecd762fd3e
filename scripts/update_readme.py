"""Regenerate the README's generated blocks (CLI reference, config keys) from the code.

`python scripts/update_readme.py` rewrites README.md; `--check` exits 1 when it is stale (tests).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

README = Path(__file__).resolve().parent.parent / "README.md"


def cli_reference() -> str:
    from publisher.cli.main import _register, cli

    _register()
    parts = []

    def walk(cmd: click.Command, path: list[str]) -> None:
        ctx = click.Context(cmd, info_name=" ".join(path), terminal_width=100, max_content_width=100)
        parts.append(f"### `{' '.join(path)}`\n\n```text\n{cmd.get_help(ctx)}\n```\n")
        if isinstance(cmd, click.Group):
            for name in sorted(cmd.commands):
                walk(cmd.commands[name], path + [name])

    walk(cli, ["publisher"])
    return "\n".join(parts)


def config_keys() -> str:
    from publisher.config import KEYS

    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key, o in KEYS.items():
        name = {"list": "list of strings", "file": "path", "dir": "path",
                "choice": " \\| ".join(o.choices)}.get(o.type, o.type)
        shown = "" if o.default_text is None else o.default_text
        if o.type == "bool" and o.default is not None:
            shown = str(o.default).lower()
        rows.append(f"| `{key}` | {name} | {shown} | {o.help} |")
    return "\n".join(rows)


def render(text: str) -> str:
    for name, body in (("cli", cli_reference()), ("config-keys", config_keys())):
        text = re.sub(rf"<!-- {name}:begin -->.*?<!-- {name}:end -->",
                      lambda _: f"<!-- {name}:begin -->\n{body}\n<!-- {name}:end -->", text, flags=re.S)
    return text


if __name__ == "__main__":
    current = README.read_text()
    new = render(current)
    if "--check" in sys.argv:
        sys.exit(0 if new == current else 1)
    README.write_text(new)
