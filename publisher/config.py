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
from publisher.settings import CardOptions, Gates, HubOptions, PublishSettings
from publisher.stages.data import EvalDataSpec

PATH_KEYS = {"checkpoint", "output", "eval_file", "nncf_config", "training_command", "template",
             "sections_dir", "token_file"}
# key -> (type, help). The one table of options: the CLI, the config file and the README use it.
KEYS: dict[str, tuple[type, str]] = {
    "checkpoint": (str, "Hugging Face model folder to release"),
    "repo_id": (str, "target repo, NAMESPACE/NAME"),
    "output": (str, "output folder (default artifacts/<name>)"),
    "weight_format": (str, "int8 | fp16 | fp32 (default int8)"),
    "trust_pickle": (bool, "allow loading pytorch_model.bin (pickle)"),
    "eval_file": (str, "local .tsv/.csv/.jsonl evaluation file"),
    "dataset": (str, "datasets id of the evaluation data (needs network)"),
    "dataset_config": (str, "dataset config name"),
    "split": (str, "evaluation split (default validation)"),
    "text_column": (str, "text column (default sentence)"),
    "label_column": (str, "label column (default label)"),
    "max_samples": (int, "evaluate on the first N rows only"),
    "max_length": (int, "tokenizer max length (default 128)"),
    "batch_size": (int, "evaluation batch size (default 32)"),
    "min_ir_accuracy": (float, "gate: minimum IR accuracy (default 0.0)"),
    "max_accuracy_drop": (float, "gate: maximum torch - IR accuracy (default 0.01)"),
    "min_sparsity": (float, "gate: minimum IR sparsity (default 0.0)"),
    "min_argmax_agreement": (float, "gate: minimum torch/IR argmax agreement (default 0.98)"),
    "max_logit_diff": (float, "gate: maximum |torch - IR| logit (default 0.5)"),
    "model_name": (str, "card title (default: the repo id)"),
    "license": (str, "license id for the card"),
    "language": (list, "card languages"),
    "tags": (list, "extra card tags"),
    "base_model": (str, "Hub id of the original model"),
    "teacher_model": (str, "Hub id of the distillation teacher"),
    "nncf_config": (str, "nncf_config.json (default: the checkpoint's)"),
    "training_command": (str, "file holding the training command"),
    "template": (str, "card template (Jinja2)"),
    "sections_dir": (str, "folder of card sections that add to or override the template's"),
    "endpoint": (str, "'local', a URL, or unset (HF_ENDPOINT, real Hub with a token, local hub)"),
    "token_file": (str, "file holding the Hub token"),
    "revision": (str, "branch to commit to (default main)"),
    "create_pr": (bool, "open a pull request instead of committing to the branch"),
    "tag": (str, "Hub tag to create on the new commit, e.g. v1.0"),
    "private": (bool, "create the repo private"),
    "commit_message": (str, "commit message (default states the key figures)"),
    "push": (bool, "push to the Hub (default true)"),
    "dry_run": (bool, "show what would change, push nothing"),
    "cache": (bool, "re-use cached stage results (default true)"),
    "bench": (bool, "measure IR latency/throughput for the card's Performance section"),
}


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
        expected, _ = KEYS[key]
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
        if key in PATH_KEYS:
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


def settings_from_mapping(m: dict[str, Any]) -> PublishSettings:
    """Build settings from a flat mapping of KEYS (config file merged with CLI flags)."""
    if not m.get("checkpoint"):
        raise BadInputError("No checkpoint was given", "Pass CHECKPOINT, or set checkpoint in the config")
    token = None
    if m.get("token_file"):
        try:
            token = Path(m["token_file"]).read_text().strip() or None
        except OSError as exc:
            raise BadInputError(f"The token file {m['token_file']} cannot be read ({exc.strerror})",
                                "Check --token-file") from exc
    if m.get("token"):
        token = m["token"]
    gates = Gates(**{k: m[k] for k in ("min_ir_accuracy", "max_accuracy_drop", "min_sparsity",
                                       "min_argmax_agreement", "max_logit_diff") if k in m})
    eval_spec = EvalDataSpec(**{k: m[k] for k in ("eval_file", "dataset", "dataset_config", "split",
                                                 "text_column", "label_column", "max_samples",
                                                 "max_length") if m.get(k) is not None})
    opt_path = lambda k: Path(m[k]) if m.get(k) else None  # noqa: E731
    card = CardOptions(
        model_name=m.get("model_name"), license=m.get("license"),
        language=tuple(m.get("language") or ()), tags=tuple(m.get("tags") or ()),
        base_model=m.get("base_model"), teacher_model=m.get("teacher_model"),
        nncf_config=opt_path("nncf_config"), training_command=opt_path("training_command"),
        template=opt_path("template"), sections_dir=opt_path("sections_dir"),
    )
    hub = HubOptions(
        endpoint=m.get("endpoint"), token=token, revision=m.get("revision") or "main",
        create_pr=bool(m.get("create_pr", False)), tag=m.get("tag"), private=m.get("private"),
        commit_message=m.get("commit_message"), push=bool(m.get("push", True)),
        dry_run=bool(m.get("dry_run", False)),
    )
    if m.get("batch_size") is not None and m["batch_size"] < 1:
        raise BadInputError(f"batch_size must be at least 1, not {m['batch_size']}", "Fix --batch-size")
    return PublishSettings(
        checkpoint=Path(m["checkpoint"]), repo_id=m.get("repo_id"),
        output=opt_path("output"), weight_format=m.get("weight_format") or "int8",
        trust_pickle=bool(m.get("trust_pickle", False)), eval=eval_spec,
        batch_size=m.get("batch_size") or 32, gates=gates, card=card, hub=hub,
        use_cache=bool(m.get("cache", True)), bench=bool(m.get("bench", False)),
    )
