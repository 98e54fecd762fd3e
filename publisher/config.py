"""``publish.toml``: every ``publish`` option, for one model or a list of models.

Layout::

    [publish]                 # defaults for every model (any key below)
    endpoint = "local"
    min_ir_accuracy = 0.84

    [[models]]                # one table per checkpoint; its keys override [publish]
    checkpoint = "artifacts/checkpoints/sst2-minilm"
    repo_id = "me/minilm-sst2-int8-ov"

A file with no ``[[models]]`` publishes the one model that ``[publish]`` describes. Relative paths
are relative to the config file. Command-line flags override both. Unknown keys and wrong types
are errors that name the key and its line.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from publisher.errors import BadInputError
from publisher.options import OPTIONS, Option

# The config file takes every option the table marks as a config key.
KEYS: dict[str, Option] = {o.key: o for o in OPTIONS if o.config}


@dataclass(frozen=True)
class ConfigFile:
    path: Path
    models: list[dict[str, Any]]  # one merged mapping per model (defaults + model table)


def _line_of(text: str, key: str, occurrence_after: int = 0) -> int | None:
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=", re.M)
    for m in pattern.finditer(text):
        if m.start() >= occurrence_after:
            return text.count("\n", 0, m.start()) + 1
    return None


def _check(table: dict[str, Any], text: str, path: Path, where: str) -> dict[str, Any]:
    out = {}
    for key, value in table.items():
        line = _line_of(text, key)
        at = f"{path}:{line}" if line else str(path)
        if key not in KEYS:
            close = [k for k in KEYS if k.replace("_", "") == key.replace("_", "").replace("-", "")]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise BadInputError(f"{at}: unknown key {key!r} in {where}{hint}",
                                "See the config file format in the README for the known keys")
        option = KEYS[key]
        expected = option.config_type
        ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if expected is list:
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        if not ok:
            raise BadInputError(
                f"{at}: {key!r} must be {'a list of strings' if expected is list else expected.__name__}, "
                f"not {type(value).__name__} ({value!r})",
                f"Fix the value of {key} in the config file",
            )
        if option.choices and value not in option.choices:
            raise BadInputError(f"{at}: {key!r} must be one of {', '.join(option.choices)}, not {value!r}",
                                f"Fix the value of {key} in the config file")
        if option.is_path:
            value = str((path.parent / value)) if not Path(value).is_absolute() else value
        out[key] = value
    return out


def load_config(path: str | Path) -> ConfigFile:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInputError(f"The config file {path} cannot be read ({exc.strerror})",
                            "Check the --config path") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInputError(f"{path} is not valid TOML: {exc}", "Fix the syntax at that line") from exc
    unknown = [k for k in data if k not in ("publish", "models")]
    if unknown:
        line = _line_of(text, unknown[0]) or next(
            (i + 1 for i, l in enumerate(text.splitlines()) if unknown[0] in l), None)
        raise BadInputError(f"{path}:{line}: unknown table or key {unknown[0]!r}",
                            "The file holds a [publish] table and [[models]] tables only")
    defaults = _check(data.get("publish", {}), text, path, "[publish]")
    models = [{**defaults, **_check(m, text, path, f"[[models]] #{i + 1}")}
              for i, m in enumerate(data.get("models", []))]
    return ConfigFile(path=path, models=models or [defaults])
