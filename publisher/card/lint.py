"""Offline card checks: what the Hub would refuse or misread, and figures that disagree with the report.

``lint_card`` needs no network. ``RULES`` lists every check with its severity; errors make
``publisher card lint`` exit 1, warnings are printed only. ``--online`` adds the findings of the
endpoint's own ``/api/validate-yaml``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable

import yaml

from publisher.card import facts, rules
from publisher.card.metadata import FRONT_MATTER
from publisher.card.sections import marker_problems
from publisher.errors import BadInputError
from publisher.results import Report

ERROR = "error"
WARNING = "warning"

RULES: dict[str, tuple[str, str]] = {
    "front-matter-missing": (ERROR, "the README has no YAML front matter"),
    "yaml-python-object": (ERROR, "the YAML holds a Python object tag (e.g. a numpy scalar)"),
    "yaml-invalid": (ERROR, "the front matter is not valid YAML"),
    "metadata-not-mapping": (ERROR, "the front matter is not a mapping"),
    "field-type": (ERROR, "a metadata field has the wrong type"),
    "license-unknown": (ERROR, "license is not a Hub license id"),
    "license-other-unnamed": (WARNING, "license: other without license_name / license_link"),
    "language-invalid": (WARNING, "language is not an ISO 639 code"),
    "pipeline-tag-unknown": (ERROR, "pipeline_tag is not a Hub pipeline tag"),
    "base-model-relation-invalid": (ERROR, "base_model_relation is not adapter|merge|quantized|finetune"),
    "base-model-relation-orphan": (WARNING, "base_model_relation without base_model"),
    "tag-missing": (WARNING, "an OpenVINO card without the openvino tag"),
    "model-index-structure": (ERROR, "model-index is not a list of {name, results} entries"),
    "model-index-missing-field": (ERROR, "a model-index result lacks a field the Hub requires"),
    "model-index-field-type": (ERROR, "a model-index field has the wrong type"),
    "model-index-duplicate": (ERROR, "two model-index results no parser can tell apart"),
    "task-type-unknown": (WARNING, "task.type is not a Hub task"),
    "metric-value-not-number": (ERROR, "a metric value is not a number"),
    "metric-value-not-finite": (ERROR, "a metric value is NaN or infinite"),
    "metric-value-mismatch": (ERROR, "a model-index value differs from the report"),
    "figure-mismatch": (ERROR, "a figure in the body differs from the report"),
    "compatibility-mismatch": (ERROR, "a compatibility line differs from the versions recorded at export"),
    "base-model-mismatch": (WARNING, "base_model differs from the report"),
    "template-leftover": (ERROR, "unrendered Jinja in the body"),
    "section-markers": (ERROR, "broken managed-section markers"),
    "hub-validate-yaml": (ERROR, "the Hub's validate-yaml refused the metadata"),
}

LANGUAGE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
SPECIAL_LANGUAGES = frozenset({"code", "multilingual"})
HUB_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]*/)?[\w.-]+$")
_FIGURE = re.compile(
    r"^\s*[-*+]\s+(?P<label>[^:\n]+?):\s*\*\*(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?P<pct>%?)\*\*"
)
_COMPAT = {
    "openvino": re.compile(r"\bOpenVINO(?:™)?\s+(?:version\s+)?(?P<v>\d+(?:\.\d+)+)\s+and\s+higher"),
    "optimum_intel": re.compile(r"\bOptimum[ -]Intel\s+(?:version\s+)?(?P<v>\d+(?:\.\d+)+)\s+and\s+higher"),
}
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
# model-index values are machine-read: they must be the report's figure at publisher's precision.
_INDEX_TOLERANCE = 0.5 * 10 ** -facts.METRIC_DECIMALS + 1e-12


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # "error" | "warning"
    line: int  # 1-based line in the README
    message: str

    def format(self, source: str) -> str:
        return f"{source}:{self.line}: {self.severity} [{self.rule}] {self.message}"


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == ERROR for f in findings)


def lint_card(text: str, report: Report | None) -> list[Finding]:
    """Every offline finding for README ``text``; figures are checked when ``report`` is given."""
    out = _Collector()
    match = FRONT_MATTER.search(text)
    body_start = 1
    meta: Any = None
    if not match:
        out.add("front-matter-missing", 1, "no YAML front matter: the Hub shows no metadata for this card")
        body = text
    else:
        yaml_line = text[: match.start(2)].count("\n") + 1
        body_start = text[: match.end()].count("\n") + 1
        body = text[match.end():]
        meta, root = _parse_yaml(match.group(2), yaml_line, out)
        if meta is not None:
            locate = _Locator(root, yaml_line)
            _check_metadata(meta, locate, out)
            if report is not None:
                _check_metadata_against_report(meta, report, locate, out)
    _check_body(body, body_start, report, out)
    return sorted(out.findings, key=lambda f: (f.line, f.rule))


class _Collector:
    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def add(self, rule: str, line: int, message: str) -> None:
        self.findings.append(Finding(rule, RULES[rule][0], line, message))


class _Locator:
    """README line of a metadata path, from the composed YAML nodes."""

    def __init__(self, root: yaml.Node | None, first_line: int) -> None:
        self.root = root
        self.first_line = first_line

    def __call__(self, *path: Any) -> int:
        node = self.root
        best = node
        for key in path:
            node = _child(node, key)
            if node is None:
                break
            best = node
        if best is None:
            return self.first_line
        return self.first_line + best.start_mark.line


def _child(node: yaml.Node | None, key: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if getattr(k, "value", None) == key:
                return v
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key]
    return None


def _parse_yaml(block: str, first_line: int, out: _Collector) -> tuple[Any, yaml.Node | None]:
    python_tag = re.search(r"!!?python/", block)
    if python_tag:
        line = first_line + block[: python_tag.start()].count("\n")
        out.add("yaml-python-object", line,
                "a Python object tag (such as a numpy scalar) in the YAML: the Hub cannot read it; "
                "write plain numbers (cast with float())")
        return None, None
    try:
        root = yaml.compose(block, Loader=yaml.SafeLoader)
        data = yaml.safe_load(block)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first_line + (mark.line if mark is not None else 0)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        out.add("yaml-invalid", line, f"the front matter is not valid YAML: {problem}")
        return None, None
    if data is None:
        return {}, root
    if not isinstance(data, dict):
        out.add("metadata-not-mapping", first_line,
                f"the front matter is a {type(data).__name__}, not a mapping of fields")
        return None, None
    return data, root


def _is_str_list(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _check_metadata(meta: dict[str, Any], locate: _Locator, out: _Collector) -> None:
    for key in ("language", "tags", "datasets", "metrics", "base_model"):
        if key in meta and not _is_str_list(meta[key]):
            out.add("field-type", locate(key), f"{key} must be a string or a list of strings")
    for key in ("license", "license_name", "license_link", "library_name", "pipeline_tag",
                "base_model_relation"):
        if key in meta and not isinstance(meta[key], str):
            out.add("field-type", locate(key), f"{key} must be a string, not {_kind(meta[key])}")

    license_id = meta.get("license")
    if isinstance(license_id, str) and license_id not in rules.licenses():
        out.add("license-unknown", locate("license"),
                f"license {license_id!r} is not a Hub license id; use one of the Hub's ids "
                "(e.g. apache-2.0, mit) or 'other' with license_name and license_link")
    if license_id == "other" and not (meta.get("license_name") and meta.get("license_link")):
        out.add("license-other-unnamed", locate("license"),
                "license is 'other' but license_name / license_link are missing")

    if _is_str_list(meta.get("language")):
        for i, code in enumerate(_as_list(meta.get("language"))):
            if code not in SPECIAL_LANGUAGES and not LANGUAGE.match(code):
                where = locate("language", i) if isinstance(meta["language"], list) else locate("language")
                out.add("language-invalid", where, f"language {code!r} is not an ISO 639-1/2/3 code")

    tag = meta.get("pipeline_tag")
    if isinstance(tag, str) and tag not in rules.pipeline_tags():
        out.add("pipeline-tag-unknown", locate("pipeline_tag"),
                f"pipeline_tag {tag!r} is not a Hub pipeline tag (e.g. text-classification)")

    relation = meta.get("base_model_relation")
    if isinstance(relation, str) and relation not in rules.BASE_MODEL_RELATIONS:
        out.add("base-model-relation-invalid", locate("base_model_relation"),
                f"base_model_relation {relation!r} must be one of {', '.join(rules.BASE_MODEL_RELATIONS)}")
    if relation is not None and not meta.get("base_model"):
        out.add("base-model-relation-orphan", locate("base_model_relation"),
                "base_model_relation is set but base_model is not")

    tags = meta.get("tags")
    if _is_str_list(tags) and "openvino" not in _as_list(tags) and _looks_openvino(meta):
        out.add("tag-missing", locate("tags"),
                "the card describes an OpenVINO model but tags lack 'openvino' (the Hub's filter)")

    if "model-index" in meta:
        _check_model_index(meta["model-index"], locate, out)


def _looks_openvino(meta: dict[str, Any]) -> bool:
    return "nncf" in _as_list(meta.get("tags") or []) or meta.get("base_model_relation") == "quantized"


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", bool: "a boolean", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


def _check_model_index(model_index: Any, locate: _Locator, out: _Collector) -> None:
    key = "model-index"
    if not isinstance(model_index, list):
        out.add("model-index-structure", locate(key), f"model-index must be a list, not {_kind(model_index)}")
        return
    identities: dict[tuple[Any, ...], int] = {}
    for i, entry in enumerate(model_index):
        if not isinstance(entry, dict) or not isinstance(entry.get("results"), list):
            out.add("model-index-structure", locate(key, i),
                    "each model-index entry must be a mapping with a 'results' list")
            continue
        if not isinstance(entry.get("name"), str):
            out.add("model-index-missing-field", locate(key, i),
                    "model-index entry lacks 'name' (a string): huggingface_hub cannot parse the card")
        for j, result in enumerate(entry["results"]):
            path = (key, i, "results", j)
            if not isinstance(result, dict):
                out.add("model-index-structure", locate(*path), "a model-index result must be a mapping")
                continue
            _check_result(result, path, locate, out, identities)


def _check_result(result: dict[str, Any], path: tuple[Any, ...], locate: _Locator, out: _Collector,
                  identities: dict[tuple[Any, ...], int]) -> None:
    task, dataset, metrics = result.get("task"), result.get("dataset"), result.get("metrics")
    if not isinstance(task, dict) or "type" not in task:
        out.add("model-index-missing-field", locate(*path), "result lacks task.type")
        task = task if isinstance(task, dict) else {}
    if not isinstance(dataset, dict) or "type" not in dataset or "name" not in dataset:
        out.add("model-index-missing-field", locate(*path, "dataset"), "result lacks dataset.type or dataset.name")
        dataset = dataset if isinstance(dataset, dict) else {}
    if not isinstance(metrics, list) or not metrics:
        out.add("model-index-missing-field", locate(*path), "result lacks a non-empty metrics list")
        metrics = []
    for field_name in ("type", "name"):
        _want_str(task, field_name, "task", locate(*path, "task", field_name), out)
    for field_name in ("type", "name", "config", "split", "revision"):
        _want_str(dataset, field_name, "dataset", locate(*path, "dataset", field_name), out)
    if isinstance(task.get("type"), str) and task["type"] not in rules.task_types():
        out.add("task-type-unknown", locate(*path, "task", "type"),
                f"task.type {task['type']!r} is not a Hub task or subtask")
    if "source" in result and not (isinstance(result["source"], dict) and isinstance(result["source"].get("url"), str)):
        out.add("model-index-field-type", locate(*path, "source"), "source must be a mapping with a url string")
    for k, metric in enumerate(metrics):
        mpath = (*path, "metrics", k)
        if not isinstance(metric, dict):
            out.add("model-index-structure", locate(*mpath), "a metric must be a mapping")
            continue
        if "type" not in metric or "value" not in metric:
            out.add("model-index-missing-field", locate(*mpath), "metric lacks type or value")
        for field_name in ("type", "name", "config"):
            _want_str(metric, field_name, "metric", locate(*mpath, field_name), out)
        if "verified" in metric and not isinstance(metric["verified"], bool):
            out.add("model-index-field-type", locate(*mpath, "verified"), "metric.verified must be true or false")
        if "value" in metric:
            _check_value(metric["value"], locate(*mpath, "value"), out)
        identity = (task.get("type"), dataset.get("type"), dataset.get("config"), dataset.get("split"),
                    dataset.get("revision"), metric.get("type"), metric.get("config"), metric.get("name"))
        if identity in identities:
            out.add("model-index-duplicate", locate(*mpath),
                    f"this metric repeats the one on line {identities[identity]} (same task, dataset, "
                    "split, metric type, name and config): parsers merge them; give each a distinct "
                    "metric config or name")
        else:
            identities[identity] = locate(*mpath)


def _want_str(mapping: dict[str, Any], key: str, owner: str, line: int, out: _Collector) -> None:
    if key in mapping and mapping[key] is not None and not isinstance(mapping[key], str):
        out.add("model-index-field-type", line,
                f"{owner}.{key} must be a string, not {_kind(mapping[key])} (quote it)")


def _check_value(value: Any, line: int, out: _Collector) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        out.add("metric-value-not-number", line,
                f"metric value {value!r} is not a number; write it as a plain number (e.g. 0.9128)")
    elif not math.isfinite(value):
        out.add("metric-value-not-finite", line, f"metric value {value!r} is not finite")


def _check_metadata_against_report(meta: dict[str, Any], report: Report, locate: _Locator,
                                   out: _Collector) -> None:
    figures = facts.figures(report)
    model_index = meta.get("model-index")
    if isinstance(model_index, list):
        for i, entry in enumerate(model_index):
            results = entry.get("results") if isinstance(entry, dict) else None
            for j, result in enumerate(results if isinstance(results, list) else []):
                metrics = result.get("metrics") if isinstance(result, dict) else None
                for k, metric in enumerate(metrics if isinstance(metrics, list) else []):
                    if not isinstance(metric, dict):
                        continue
                    value = metric.get("value")
                    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                        continue
                    candidates = [f for f in figures if f.metric_type == metric.get("type")
                                  and (metric.get("config") in (None, f.config))]
                    if candidates and not any(abs(value - f.value) <= _INDEX_TOLERANCE for f in candidates):
                        want = " or ".join(f"{f.value} ({f.key})" for f in candidates)
                        out.add("metric-value-mismatch",
                                locate("model-index", i, "results", j, "metrics", k, "value"),
                                f"model-index {metric.get('type')} is {value}, the report says {want}")
    base = facts.base_model(report)
    if base and isinstance(meta.get("base_model"), str) and meta["base_model"] != base:
        out.add("base-model-mismatch", locate("base_model"),
                f"base_model is {meta['base_model']!r}, the report says {base!r}")


def _check_body(body: str, first_line: int, report: Report | None, out: _Collector) -> None:
    for problem in marker_problems(body):
        out.add("section-markers", first_line + problem.line - 1, f"managed-section markers: {problem.message}")
    fence: str | None = None
    compat = facts.compatibility(report) if report is not None else {}
    for offset, line in enumerate(body.split("\n")):
        number = first_line + offset
        match = _FENCE.match(line)
        if match:
            marker = match.group(1)
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = None
            continue
        if fence is not None:
            continue
        if "{{" in line or "{%" in line:
            out.add("template-leftover", number, "unrendered Jinja ({{ or {%) in the card text")
        if report is None:
            continue
        figure = _FIGURE.match(line)
        if figure:
            _check_figure(figure, report, number, out)
        for key, pattern in _COMPAT.items():
            for found in pattern.finditer(line):
                want = compat.get(key)
                if want and found.group("v") != want:
                    out.add("compatibility-mismatch", number,
                            f"the card says {found.group(0)!r}, the export recorded {want}")


def _check_figure(match: re.Match[str], report: Report, line: int, out: _Collector) -> None:
    label = match.group("label").strip()
    candidates = _report_values(label, report)
    if not candidates:
        return
    printed = match.group("value")
    percent = bool(match.group("pct"))
    if not any(_matches(printed, value, percent) for _, value in candidates):
        want = " or ".join(f"{value:.6g} ({name})" for name, value in candidates)
        out.add("figure-mismatch", line, f"{label!r} shows {printed}{'%' if percent else ''}, the report says {want}")


def _report_values(label: str, report: Report) -> list[tuple[str, float]]:
    text = label.lower()
    verification = report.verification
    if "agreement" in text:
        return [("verification.argmax_agreement", float(verification.argmax_agreement))]
    if "logit" in text:
        return [("verification.max_abs_logit_diff", float(verification.max_abs_logit_diff))]
    if "sparsity" in text:
        values = {"torch": float(report.sparsity.torch.overall), "openvino": float(report.sparsity.openvino.overall)}
        prefix = "sparsity"
    else:
        metric = report.accuracy.metric.lower()
        if metric not in text and metric.replace("_", " ") not in text:
            return []
        values = {"torch": float(report.accuracy.torch), "openvino": float(report.accuracy.openvino)}
        prefix = report.accuracy.metric
    if "openvino" in text or re.search(r"\bir\b", text):
        side = ["openvino"]
    elif "torch" in text:
        side = ["torch"]
    else:
        side = ["openvino", "torch"]
    return [(f"{prefix}.{s}", values[s]) for s in side]


def _matches(printed: str, value: float, percent: bool) -> bool:
    """Whether ``printed`` is ``value`` rounded to the digits shown."""
    try:
        shown = Decimal(printed)
    except InvalidOperation:
        return False
    exponent = shown.as_tuple().exponent
    if not isinstance(exponent, int):
        return False
    tolerance = Decimal(5) * Decimal(10) ** (exponent - 1)
    target = Decimal(repr(float(value))) * (100 if percent else 1)
    return abs(shown - target) <= tolerance + Decimal("1e-12")


@dataclass(frozen=True)
class LintRun:
    source: str
    findings: list[Finding]


def lint_target(
    target: str,
    *,
    report_path: Path | None = None,
    online: bool = False,
    client_factory: Callable[[], Any] | None = None,
) -> LintRun:
    """Lint a README file, a release folder (README.md + report.json) or a Hub repo id."""
    from publisher.card import remote

    path = Path(target)
    report = remote.load_report(report_path) if report_path else None
    client = None
    if path.exists():
        readme = path / remote.README if path.is_dir() else path
        try:
            text = readme.read_text(encoding="utf-8")
        except OSError as exc:
            raise BadInputError(f"Cannot read {readme} ({exc.strerror})", "Check the path") from exc
        sibling = readme.parent / remote.REPORT_FILENAME
        if report is None and sibling.is_file():
            report = remote.load_report(sibling)
        source = str(readme)
    elif remote.is_repo_id(target):
        if client_factory is None:
            raise BadInputError(f"{target!r} is not a file here", "Pass a README path, or a repo id with a Hub endpoint")
        client = client_factory()
        card = remote.fetch_card(client, target, need_report=report is None)
        if card.readme is None:
            raise BadInputError(f"The repo {target} has no README.md", "Publish a card first")
        text, report, source = card.readme, report or card.report, f"{target}/README.md"
    else:
        raise BadInputError(
            f"{target!r} is neither an existing file or folder nor a repo id (namespace/name)",
            "Pass the path of a README.md, a release folder, or a Hub repo id",
        )
    findings = lint_card(text, report)
    if online:
        client = client or (client_factory() if client_factory else None)
        if client is None:
            raise BadInputError("--online needs a Hub endpoint", "Pass --endpoint or set HF_ENDPOINT")
        findings += [Finding("hub-validate-yaml", ERROR, 1, message) for message in client.validate_yaml(text)]
    return LintRun(source, findings)
