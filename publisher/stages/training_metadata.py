"""What a checkpoint folder says about how it was made: JSON and text files only, nothing unpickled.

The card states only what this evidence (and the run's measurements) shows, so each field records
the file it came from. A training script that the recorded command runs and that can be found
here is listed for the release (``training/NAME``), so that the card names nothing a reader
cannot get.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
from pathlib import Path
from typing import Any

from publisher.errors import BadInputError
from publisher.results import TrainingMetadata

TRAINING_FOLDER = "training"  # where a release keeps its training script and the recipe's record
RECIPE_RECORD = "recipe_record.json"
_METADATA_KEYS = ("base_model", "teacher_model", "seed", "license", "language", "model_creator",
                  "base_model_relation")


def read_training_metadata(folder: Path) -> tuple[TrainingMetadata, dict[str, Any] | None]:
    """Card inputs the trainer left in ``folder``, and its JSON trainer arguments when present."""
    folder = Path(folder)
    sources: dict[str, str] = {}
    fields: dict[str, Any] = {}

    nncf = _load_json(folder, "nncf_config.json")
    if nncf is not None:
        fields["nncf_config"], sources["nncf_config"] = nncf, "nncf_config.json"
    cmd_file = folder / "training_command.txt"
    if cmd_file.is_file():
        try:
            fields["training_command"] = cmd_file.read_text(encoding="utf-8").strip()
        except UnicodeDecodeError as exc:
            raise BadInputError(f"{cmd_file} is not UTF-8 text ({exc})",
                                "Save the training command as UTF-8, or remove training_command.txt") from exc
        sources["training_command"] = "training_command.txt"
    meta = _load_json(folder, "training_metadata.json") if (folder / "training_metadata.json").is_file() else {}
    if not isinstance(meta, dict):  # null and [] too: the file is there, and says nothing readable
        raise BadInputError(f"{folder / 'training_metadata.json'} does not hold a JSON object",
                            "Write training_metadata.json as an object of fields")
    for key in _METADATA_KEYS:
        if meta.get(key) is not None:
            value = _checked(meta[key], key, folder / "training_metadata.json")
            fields[key] = [value] if key == "language" and isinstance(value, str) else value
            sources[key] = "training_metadata.json"
    dataset = _dataset_name(meta.get("dataset"))
    if dataset:
        fields["training_dataset"], sources["training_dataset"] = dataset, "training_metadata.json"
    record = _load_json(folder, RECIPE_RECORD)
    if isinstance(record, dict):
        fields["recipe_record"], sources["recipe_record"] = record, RECIPE_RECORD
    log = _load_json(folder, "eval_log.json")
    if isinstance(log, list):
        fields["eval_log"], sources["eval_log"] = log, "eval_log.json"
    training_args = _load_json(folder, "training_args.json")
    if (folder / "training_args.json").is_file() and not isinstance(training_args, dict):
        raise BadInputError(f"{folder / 'training_args.json'} does not hold a JSON object",
                            "Write the trainer's arguments as an object (TrainingArguments.to_json_string()), "
                            "or remove training_args.json")
    if training_args is not None and training_args.get("seed") is not None:
        fields.setdefault("seed", _checked(training_args["seed"], "seed", folder / "training_args.json"))
        sources.setdefault("seed", "training_args.json")
    files = find_training_files(folder, fields.get("training_command"))
    if isinstance(record, dict):
        files[f"{TRAINING_FOLDER}/{RECIPE_RECORD}"] = str((folder / RECIPE_RECORD).resolve())
    if files:
        fields["training_files"] = files
    return TrainingMetadata(sources=sources, **fields), training_args


# The type each card field read from a file must have (publisher.results.TrainingMetadata):
# anything else would reach the card renderer, or the Hub's metadata, as it is.
_STRING_KEYS = ("base_model", "teacher_model", "license", "model_creator", "base_model_relation")


def _checked(value: Any, key: str, path: Path) -> Any:
    """``value`` of ``key`` as read from ``path``, refused unless it has the field's type: a
    non-empty string, a language code or a list of them, an integer seed."""
    if key in _STRING_KEYS:
        ok, want = isinstance(value, str) and bool(value.strip()), "a non-empty string"
    elif key == "language":
        items = value if isinstance(value, list) else [value]
        ok, want = bool(items) and all(isinstance(v, str) and v.strip() for v in items), \
            'a language code or a list of them ("en", ["en", "fr"])'
    elif key == "seed":
        ok, want = isinstance(value, int) and not isinstance(value, bool), "an integer"
    else:
        return value
    if not ok:
        raise BadInputError(f"{path} has {key}={json.dumps(value)[:60]}, not {want}",
                            f"Fix {key} in {path.name}, or remove it")
    return value


def _load_json(folder: Path, name: str) -> Any:
    p = folder / name
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError
        raise BadInputError(f"{p} is not valid JSON ({exc})", f"Fix or remove {name}") from exc
    except RecursionError as exc:
        raise BadInputError(f"{p} is not valid JSON (it nests arrays or objects too deeply to read)",
                            f"Fix or remove {name}") from exc


def _dataset_name(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, dict):
        for key in ("name", "type", "id"):
            if isinstance(value.get(key), str) and value[key].strip():
                return value[key].strip()
    return None


def command_scripts(command: str | None) -> list[str]:
    """The Python scripts a training command runs, as written in it (``recipes/x.py``)."""
    if not command:
        return []
    try:
        words = shlex.split(command.replace("\\\n", " "))
    except ValueError:
        return []
    return [w for w in words if w.endswith(".py") and not w.startswith("-")]


def find_training_files(folder: Path, command: str | None) -> dict[str, str]:
    """``training/NAME`` -> local path of each script the command runs that can be found here.

    A relative script path is looked up beside the checkpoint, then in the checkpoint's parent
    folders (a recipe run from the project root writes under ``artifacts/``), then in the
    current folder; a script found nowhere is not listed, and the card says so.
    """
    out: dict[str, str] = {}
    folder = Path(folder).resolve()
    for script in command_scripts(command):
        path = Path(script)
        candidates = [path] if path.is_absolute() else [
            base / path for base in (folder, *folder.parents, Path.cwd())
        ]
        found = next((c for c in candidates if c.is_file() and not c.is_symlink()), None)
        if found is not None:
            out[f"{TRAINING_FOLDER}/{found.name}"] = str(found.resolve())
    return out


def training_files(source: Any) -> dict[str, Path]:
    """Extra files for the release: ``training/NAME`` -> local file, from a Report or TrainingMetadata.

    These are the files the card's training section lists (the script the training command runs,
    the recipe's record), so a release that lists them must ship them: a file that has gone since
    the checkpoint was read is an error, not a silent gap in the card.
    """
    training = source.checkpoint.training if hasattr(source, "checkpoint") else source
    out: dict[str, Path] = {}
    for release_path, local in sorted(training.training_files.items()):
        name = release_path.removeprefix(f"{TRAINING_FOLDER}/")
        if not release_path.startswith(f"{TRAINING_FOLDER}/") or not name or "/" in name or name.startswith("."):
            raise BadInputError(f"The training file path {release_path!r} is not a file of {TRAINING_FOLDER}/",
                                "Re-read the checkpoint (publisher writes these paths itself)")
        path = Path(local)
        if not path.is_file():
            raise BadInputError(
                f"The training file {local} (shipped as {release_path} and listed on the card) is gone",
                "Restore it, or re-run with --no-cache so the checkpoint's records are read again",
            )
        out[release_path] = path
    return out


def refresh_training_files(training: TrainingMetadata, folder: Path) -> TrainingMetadata:
    """``training`` with its scripts looked up again for its (possibly replaced) training command.

    For a command given with ``--training-command``. Not for a command reconstructed from
    training_args.json: its script name is a guess, and a guess must not put a file into a release.
    The recipe's record (if any) stays listed.
    """
    record = f"{TRAINING_FOLDER}/{RECIPE_RECORD}"
    files = {k: v for k, v in training.training_files.items() if k == record}
    files.update(find_training_files(folder, training.training_command))
    return dataclasses.replace(training, training_files=files)
