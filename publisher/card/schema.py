"""The card-metadata rules, written once: used by `publisher card lint` and the local hub's
``/api/validate-yaml``.

Light on purpose (PyYAML and huggingface_hub's card module only): the local hub server imports it
and must not pull in torch or OpenVINO. The front-matter pattern is huggingface_hub's own, so
server, client and lint agree on where the metadata ends. Each problem carries a rule name and the
path of the offending value (``("model-index", 0, "results", 1, "metrics", 0, "value")``): lint
turns the path into a README line and the rule into a severity, the server keeps the problems the
Hub itself refuses (``HUB_REFUSES``) and words them with a dotted path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Any

import yaml
from huggingface_hub.repocard import REGEX_YAML_BLOCK as FRONT_MATTER

__all__ = [
    "BASE_MODEL_RELATIONS",
    "FRONT_MATTER",
    "HUB_REFUSES",
    "MODEL_INDEX_SCHEMA",
    "NON_DATASET_METRIC_TYPES",
    "NO_METADATA_WARNING",
    "Problem",
    "check_metadata",
    "dotted",
    "load_metadata",
    "split_front_matter",
]

# The Hub's values for base_model_relation (hub-docs, model cards: "Specifying a base model").
BASE_MODEL_RELATIONS = ("adapter", "merge", "quantized", "finetune")

# What the Hub answers for a README without metadata (a warning, not an error).
NO_METADATA_WARNING = (
    "empty or missing yaml metadata in repo card "
    "(https://huggingface.co/docs/hub/model-cards#model-card-metadata)"
)

STR_FIELDS = ("license", "license_name", "license_link", "library_name", "pipeline_tag",
              "thumbnail", "new_version", "base_model_relation")
STR_OR_STR_LIST_FIELDS = ("language", "tags", "datasets", "metrics", "base_model")

# Metric types that describe the weights or the IR, not a result on a dataset: they belong in the
# card body and report.json. In model-index the Hub's evaluation widgets (and anything that
# aggregates model-index) would read them as scores on the named dataset.
NON_DATASET_METRIC_TYPES = frozenset({
    "sparsity", "weight_sparsity", "compression_ratio", "model_size", "size", "parameters",
    "num_parameters", "weight_precision", "bits", "argmax_agreement", "top1_agreement",
    "logit_diff", "max_abs_logit_diff", "latency", "throughput",
    # An LLM release's parity and speed figures: how the IR compares with torch, or how fast it runs
    # on one CPU, not a score on the evaluation text (perplexity is one, and belongs there).
    "mean_abs_logit_diff", "generation_match", "generation_exact_match", "ttft", "time_to_first_token",
    "tokens_per_second", "int4_share", "int8_share",
})


@dataclass(frozen=True)
class Field:
    key: str
    kinds: tuple[type, ...]
    required: bool = False


# The model-index schema (hub-docs modelcard spec; the Hub refuses wrong types): per part of a
# result, its fields, their types, and which are required.
MODEL_INDEX_SCHEMA: dict[str, tuple[Field, ...]] = {
    "task": (Field("type", (str,), True), Field("name", (str,))),
    "dataset": (Field("type", (str,), True), Field("name", (str,), True), Field("config", (str,)),
                Field("split", (str,)), Field("revision", (str,)), Field("args", (str, dict))),
    "metric": (Field("type", (str,), True), Field("value", (Real,), True), Field("name", (str,)),
               Field("config", (str,)), Field("args", (str, dict)), Field("verified", (bool,))),
    "source": (Field("url", (str,), True), Field("name", (str,))),
}

# Rules whose problems the Hub refuses on upload; the rest are publisher's own advice.
HUB_REFUSES = frozenset({
    "yaml-invalid", "metadata-not-mapping", "field-type", "base-model-relation-invalid",
    "model-index-structure", "model-index-missing-field", "model-index-field-type",
    "metric-value-not-number", "metric-value-not-finite",
})


@dataclass(frozen=True)
class Problem:
    rule: str
    path: tuple[Any, ...]  # where the offending value sits in the metadata; () for the whole block
    message: str


def split_front_matter(text: str) -> tuple[str | None, str]:
    """``(YAML text or None, body)`` the way huggingface_hub (and the Hub) split a README."""
    match = FRONT_MATTER.search(text)
    if not match:
        return None, text
    return match.group(2), text[match.end():]


def load_metadata(block: str) -> tuple[dict[str, Any] | None, Problem | None]:
    """The parsed front matter (``{}`` when empty), or the problem that stops reading it."""
    try:
        data = yaml.safe_load(block)
    except yaml.YAMLError as exc:
        return None, Problem("yaml-invalid", (), f"Invalid YAML in README.md metadata: {' '.join(str(exc).split())}")
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        return None, Problem("metadata-not-mapping", (),
                             f"README.md metadata must be a YAML mapping (key: value pairs), not a "
                             f"{type(data).__name__}")
    return data, None


def dotted(path: tuple[Any, ...]) -> str:
    """``model-index[0].results[1].dataset.config`` for a problem's path."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", bool: "a boolean", int: "a number",
            float: "a number", str: "a string"}.get(type(value), type(value).__name__)


def is_str_or_str_list(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def check_metadata(meta: dict[str, Any]) -> list[Problem]:
    """Every schema problem of a parsed front matter, in document order of the checks."""
    out: list[Problem] = []
    for key in STR_OR_STR_LIST_FIELDS:
        if meta.get(key) is not None and not is_str_or_str_list(meta[key]):
            out.append(Problem("field-type", (key,), f"{key} must be a string or a list of strings"))
    for key in STR_FIELDS:
        if meta.get(key) is not None and not isinstance(meta[key], str):
            out.append(Problem("field-type", (key,), f"{key} must be a string, not {kind(meta[key])}"))
    relation = meta.get("base_model_relation")
    if isinstance(relation, str) and relation not in BASE_MODEL_RELATIONS:
        out.append(Problem("base-model-relation-invalid", ("base_model_relation",),
                           f"base_model_relation {relation!r} must be one of {', '.join(BASE_MODEL_RELATIONS)}"))
    if relation is not None and not meta.get("base_model"):
        out.append(Problem("base-model-relation-orphan", ("base_model_relation",),
                           "base_model_relation is set but base_model is not"))
    if "model-index" in meta:
        out += model_index_problems(meta["model-index"])
    return out


def model_index_problems(model_index: Any) -> list[Problem]:
    key = "model-index"
    if not isinstance(model_index, list):
        return [Problem("model-index-structure", (key,), f"model-index must be a list, not {kind(model_index)}")]
    out: list[Problem] = []
    for i, entry in enumerate(model_index):
        if not isinstance(entry, dict) or not isinstance(entry.get("results"), list):
            out.append(Problem("model-index-structure", (key, i),
                               "each model-index entry must be a mapping with a 'results' list"))
            continue
        if not isinstance(entry.get("name"), str):
            out.append(Problem("model-index-missing-field", (key, i, "name"),
                               "model-index entry lacks 'name' (a string): huggingface_hub cannot parse the card"))
        for j, result in enumerate(entry["results"]):
            path = (key, i, "results", j)
            if not isinstance(result, dict):
                out.append(Problem("model-index-structure", path, "a model-index result must be a mapping"))
                continue
            out += _result_problems(result, path)
    return out


def _result_problems(result: dict[str, Any], path: tuple[Any, ...]) -> list[Problem]:
    out: list[Problem] = []
    for part in ("task", "dataset"):
        if not isinstance(result.get(part), dict):
            out.append(Problem("model-index-missing-field", (*path, part),
                               f"result lacks {part} (a mapping with {_required(part)})"))
        else:
            out += _fields(result[part], part, (*path, part))
    if "source" in result:
        if not isinstance(result["source"], dict):
            out.append(Problem("model-index-field-type", (*path, "source"), "source must be a mapping with a url string"))
        else:
            out += _fields(result["source"], "source", (*path, "source"))
    metrics = result.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        return out + [Problem("model-index-missing-field", (*path, "metrics"), "result lacks a non-empty metrics list")]
    for k, metric in enumerate(metrics):
        mpath = (*path, "metrics", k)
        if not isinstance(metric, dict):
            out.append(Problem("model-index-structure", mpath, "a metric must be a mapping"))
            continue
        out += _fields(metric, "metric", mpath)
        metric_type = metric.get("type")
        if isinstance(metric_type, str) and metric_type.lower() in NON_DATASET_METRIC_TYPES:
            out.append(Problem(
                "model-index-not-dataset-result", (*mpath, "type"),
                f"metric type {metric_type!r} describes the weights, not a result on the dataset: "
                "model-index readers take it for a score on that dataset; state it in the card body "
                "(`publisher card regenerate` moves publisher's own figures out of model-index)"))
    return out


def _required(part: str) -> str:
    return " and ".join(f.key for f in MODEL_INDEX_SCHEMA[part] if f.required)


def _fields(mapping: dict[str, Any], part: str, path: tuple[Any, ...]) -> list[Problem]:
    out: list[Problem] = []
    for spec in MODEL_INDEX_SCHEMA[part]:
        value = mapping.get(spec.key)
        where = (*path, spec.key)
        if value is None:
            if spec.required:
                out.append(Problem("model-index-missing-field", where, f"{part} lacks {spec.key}"))
            continue
        if spec.kinds == (Real,):
            if isinstance(value, bool) or not isinstance(value, Real):
                out.append(Problem("metric-value-not-number", where,
                                   f"metric value {value!r} is not a number; write it as a plain number (e.g. 0.9128)"))
            elif not math.isfinite(value):
                out.append(Problem("metric-value-not-finite", where, f"metric value {value!r} is not finite"))
            continue
        if isinstance(value, spec.kinds) and (bool in spec.kinds or not isinstance(value, bool)):
            continue
        names = " or ".join("a mapping" if k is dict else kind(k()) for k in spec.kinds)
        out.append(Problem("model-index-field-type", where,
                           f"{part}.{spec.key} must be {names}, not {kind(value)} (quote it)"))
    return out
