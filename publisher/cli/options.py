"""Click options made from the options table (``publisher.options``): declared there, once."""

from __future__ import annotations

from typing import Any, Callable

import click

from publisher.options import Option, for_command

_TYPES = {
    "str": None, "int": int, "float": float, "bool": None, "list": None,
    "file": click.Path(dir_okay=False), "dir": click.Path(file_okay=False),
}


def _help(o: Option, command: str | None = None) -> str:
    text = o.help_in(command) + "."
    if o.type == "list":
        text = text[:-1] + " (repeatable)."
    # A command that reads the option its own way words its default itself; only a literal one is shown.
    own = command in dict(o.help_for)
    shown = (o.show_default is None and o.default_text) if own else o.default_text
    if shown:
        text += f" [default: {shown}]"
    return text


def click_option(o: Option, command: str | None = None) -> Callable:
    """Every option defaults to None on the command line, so a config file can fill in what the
    user did not type; the settings apply the table's defaults last."""
    decls = [d for d in (o.short, o.cli_flag) if d]
    kw: dict[str, Any] = {"default": None, "help": _help(o, command)}
    if o.type == "bool":
        if o.negatable:
            off = o.off_flag or "--no-" + o.cli_flag[2:]
            decls = [f"{o.cli_flag}/{off}"]
        else:
            kw["is_flag"] = True
    elif o.type == "list":
        kw["multiple"] = True
        kw["default"] = None
    elif o.type == "choice":
        kw["type"] = click.Choice(list(o.choices))
    elif _TYPES[o.type] is not None:
        kw["type"] = _TYPES[o.type]
    return click.option(*decls, o.key, **kw)


def options_for(command: str) -> Callable:
    """Decorate a command with the table's options for ``command``, in table order."""
    options = for_command(command)

    def deco(f: Callable) -> Callable:
        for o in reversed(options):
            f = click_option(o, command)(f)
        return f

    return deco


def given(ctx: click.Context, params: dict[str, Any]) -> dict[str, Any]:
    """Only the options the user actually gave (so that the config file fills in the rest)."""
    from click.core import ParameterSource

    out = {}
    for name, value in params.items():
        if ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            out[name] = list(value) if isinstance(value, tuple) else value
    return out
