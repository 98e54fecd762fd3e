"""Model card metadata: README front matter for ``cardData``, and ``/api/validate-yaml``.

The Hub rejects metadata that ``huggingface_hub``'s own parser lets through (a metric value given
as ``"91.3%"``, a ``dataset.config`` that is a number), so the checks below follow the Hub's
model-index schema rather than the client's leniency: a release that passes here must not be
refused later by the real Hub.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

import yaml

# Same pattern as huggingface_hub.repocard, so server and client agree on what the front matter is.
_FRONT_MATTER = re.compile(r"^(\s*---[\r\n]+)([\S\s]*?)([\r\n]+---(\r\n|\n|$))")

BASE_MODEL_RELATIONS = {"adapter", "merge", "quantized", "finetune"}
_STR_OR_STR_LIST = ("language", "tags", "datasets", "metrics", "base_model", "license_link")
_STR_FIELDS = ("license", "license_name", "library_name", "pipeline_tag", "thumbnail",
               "new_version", "base_model_relation")


@dataclass
class Validation:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def split_front_matter(text: str) -> tuple[str | None, str]:
    """``(yaml text or None, markdown body)`` of a README."""
    match = _FRONT_MATTER.search(text)
    if not match:
        return None, text
    return match.group(2), text[match.end():]


def card_data(text: str) -> dict[str, Any] | None:
    """The README's metadata as a mapping, or None when absent or unreadable."""
    raw, _ = split_front_matter(text)
    if raw is None:
        return None
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def validate_readme(text: str) -> Validation:
    result = Validation()
    raw, _ = split_front_matter(text)
    if raw is None:
        return result
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        result.errors.append(f"Invalid YAML in README.md metadata: {_one_line(exc)}")
        return result
    if data is None:
        return result
    if not isinstance(data, dict):
        result.errors.append("README.md metadata must be a YAML mapping (key: value pairs), "
                             f"not a {type(data).__name__}")
        return result
    _check_top_level(data, result)
    if "model-index" in data:
        _check_model_index(data["model-index"], result)
    return result


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _is_str_or_str_list(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _check_top_level(data: dict, result: Validation) -> None:
    for key in _STR_OR_STR_LIST:
        if key in data and data[key] is not None and not _is_str_or_str_list(data[key]):
            result.errors.append(f'"{key}" must be a string or a list of strings')
    for key in _STR_FIELDS:
        if key in data and data[key] is not None and not isinstance(data[key], str):
            result.errors.append(f'"{key}" must be a string')
    relation = data.get("base_model_relation")
    if isinstance(relation, str) and relation not in BASE_MODEL_RELATIONS:
        result.errors.append(f'"base_model_relation" must be one of {sorted(BASE_MODEL_RELATIONS)}')


def _expect(value: Any, kinds: tuple[type, ...], where: str, result: Validation,
            required: bool = False) -> None:
    if value is None:
        if required:
            result.errors.append(f'"{where}" is required')
        return
    if bool in kinds or not isinstance(value, bool):
        if isinstance(value, kinds):
            return
    names = " or ".join("number" if k is Real else k.__name__ for k in kinds)
    result.errors.append(f'"{where}" must be a {names}, got {type(value).__name__} {value!r}')


def _check_model_index(model_index: Any, result: Validation) -> None:
    if not isinstance(model_index, list):
        result.errors.append('"model-index" must be a list')
        return
    for i, model in enumerate(model_index):
        where = f"model-index[{i}]"
        if not isinstance(model, dict):
            result.errors.append(f'"{where}" must be a mapping')
            continue
        _expect(model.get("name"), (str,), f"{where}.name", result, required=True)
        results = model.get("results")
        if not isinstance(results, list):
            result.errors.append(f'"{where}.results" must be a list')
            continue
        for j, item in enumerate(results):
            _check_result(item, f"{where}.results[{j}]", result)
    if result.ok:
        # The client must be able to read what the server accepts.
        from huggingface_hub.repocard_data import model_index_to_eval_results

        try:
            model_index_to_eval_results(model_index)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            result.errors.append(f'"model-index" cannot be parsed: {type(exc).__name__}: {exc}')


def _check_result(item: Any, where: str, result: Validation) -> None:
    if not isinstance(item, dict):
        result.errors.append(f'"{where}" must be a mapping')
        return
    task = item.get("task")
    if not isinstance(task, dict):
        result.errors.append(f'"{where}.task" must be a mapping with a "type"')
    else:
        _expect(task.get("type"), (str,), f"{where}.task.type", result, required=True)
        _expect(task.get("name"), (str,), f"{where}.task.name", result)
    dataset = item.get("dataset")
    if not isinstance(dataset, dict):
        result.errors.append(f'"{where}.dataset" must be a mapping with "type" and "name"')
    else:
        _expect(dataset.get("type"), (str,), f"{where}.dataset.type", result, required=True)
        _expect(dataset.get("name"), (str,), f"{where}.dataset.name", result, required=True)
        for key in ("config", "split", "revision"):
            _expect(dataset.get(key), (str,), f"{where}.dataset.{key}", result)
        _expect(dataset.get("args"), (str, dict), f"{where}.dataset.args", result)
    metrics = item.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        result.errors.append(f'"{where}.metrics" must be a non-empty list')
    else:
        for k, metric in enumerate(metrics):
            mwhere = f"{where}.metrics[{k}]"
            if not isinstance(metric, dict):
                result.errors.append(f'"{mwhere}" must be a mapping')
                continue
            _expect(metric.get("type"), (str,), f"{mwhere}.type", result, required=True)
            _expect(metric.get("value"), (Real,), f"{mwhere}.value", result, required=True)
            for key in ("name", "config"):
                _expect(metric.get(key), (str,), f"{mwhere}.{key}", result)
            _expect(metric.get("args"), (str, dict), f"{mwhere}.args", result)
            _expect(metric.get("verified"), (bool,), f"{mwhere}.verified", result)
    source = item.get("source")
    if source is not None:
        if not isinstance(source, dict):
            result.errors.append(f'"{where}.source" must be a mapping')
        else:
            _expect(source.get("url"), (str,), f"{where}.source.url", result, required=True)
            _expect(source.get("name"), (str,), f"{where}.source.name", result)
