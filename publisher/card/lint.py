"""Offline card checks: what the Hub would refuse or misread, and figures that disagree with the report.

``lint_card`` needs no network. ``RULES`` lists every check with its severity; errors make
``publisher card lint`` exit 1, warnings are printed only. ``--online`` adds the findings of the
endpoint's own ``/api/validate-yaml``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from publisher.card import claims, facts, rules, schema
from publisher.card import ledger as ledger_module
from publisher.card import readback
from publisher.card.schema import FRONT_MATTER
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
    "model-index-not-dataset-result": (ERROR, "a model-index metric that describes the weights, not a dataset result"),
    "task-type-unknown": (WARNING, "task.type is not a Hub task"),
    "metric-value-not-number": (ERROR, "a metric value is not a number"),
    "metric-value-not-finite": (ERROR, "a metric value is NaN or infinite"),
    "metric-value-mismatch": (ERROR, "a model-index value differs from the report"),
    "figure-mismatch": (ERROR, "a figure in the body differs from the report"),
    "compatibility-mismatch": (ERROR, "a compatibility line differs from the versions recorded at export"),
    "base-model-mismatch": (WARNING, "base_model differs from the report"),
    "base-model-relation-mismatch": (ERROR, "base_model_relation differs from what the report's evidence shows"),
    "template-leftover": (ERROR, "unrendered Jinja in the body"),
    "section-markers": (ERROR, "broken managed-section markers"),
    "hub-validate-yaml": (ERROR, "the Hub's validate-yaml refused the metadata"),
}

LANGUAGE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
SPECIAL_LANGUAGES = frozenset({"code", "multilingual"})
HUB_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]*/)?[\w.-]+$")
_FIGURE = readback.FIGURE_LINE
_COMPAT = {
    "openvino": re.compile(r"\bOpenVINO(?:™)?\s+(?:version\s+)?(?P<v>\d+(?:\.\d+)+)\s+and\s+higher"),
    # No "and higher" for these two: publisher states the release it ran with, having tested no other.
    "optimum_intel": re.compile(r"\bOptimum[ -]Intel\s+(?:version\s+)?(?P<v>\d+(?:\.\d+)+)"),
    "openvino_genai": re.compile(r"\bOpenVINO(?:™)?[ -]GenAI\s+(?:version\s+)?(?P<v>\d+(?:\.\d+)+)"),
}
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
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first_line + (mark.line if mark is not None else 0)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        out.add("yaml-invalid", line, f"the front matter is not valid YAML: {problem}")
        return None, None
    data, problem = schema.load_metadata(block)
    if problem is not None:
        out.add(problem.rule, first_line, problem.message)
        return None, None
    return data, root


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _check_metadata(meta: dict[str, Any], locate: _Locator, out: _Collector) -> None:
    for problem in schema.check_metadata(meta):
        out.add(problem.rule, locate(*problem.path), problem.message)

    license_id = meta.get("license")
    if isinstance(license_id, str) and license_id not in rules.licenses():
        out.add("license-unknown", locate("license"),
                f"license {license_id!r} is not a Hub license id; use one of the Hub's ids "
                "(e.g. apache-2.0, mit) or 'other' with license_name and license_link")
    if license_id == "other" and not (meta.get("license_name") and meta.get("license_link")):
        out.add("license-other-unnamed", locate("license"),
                "license is 'other' but license_name / license_link are missing")

    if schema.is_str_or_str_list(meta.get("language")):
        for i, code in enumerate(_as_list(meta.get("language"))):
            if code not in SPECIAL_LANGUAGES and not LANGUAGE.match(code):
                where = locate("language", i) if isinstance(meta["language"], list) else locate("language")
                out.add("language-invalid", where, f"language {code!r} is not an ISO 639-1/2/3 code")

    tag = meta.get("pipeline_tag")
    if isinstance(tag, str) and tag not in rules.pipeline_tags():
        out.add("pipeline-tag-unknown", locate("pipeline_tag"),
                f"pipeline_tag {tag!r} is not a Hub pipeline tag (e.g. text-classification)")

    tags = meta.get("tags")
    if schema.is_str_or_str_list(tags) and "openvino" not in _as_list(tags) and _looks_openvino(meta):
        out.add("tag-missing", locate("tags"),
                "the card describes an OpenVINO model but tags lack 'openvino' (the Hub's filter)")

    if isinstance(meta.get("model-index"), list):
        _check_model_index_results(meta["model-index"], locate, out)


def _looks_openvino(meta: dict[str, Any]) -> bool:
    return ("nncf" in _as_list(meta.get("tags") or []) or meta.get("library_name") == "openvino"
            or meta.get("base_model_relation") == "quantized")


def _check_model_index_results(model_index: list[Any], locate: _Locator, out: _Collector) -> None:
    """Lint's own advice on top of the schema: Hub task names, and results a parser would merge."""
    identities: dict[tuple[Any, ...], int] = {}
    for i, entry in enumerate(model_index):
        results = entry.get("results") if isinstance(entry, dict) else None
        for j, result in enumerate(results if isinstance(results, list) else []):
            if not isinstance(result, dict):
                continue
            path = ("model-index", i, "results", j)
            task = result.get("task") if isinstance(result.get("task"), dict) else {}
            dataset = result.get("dataset") if isinstance(result.get("dataset"), dict) else {}
            if isinstance(task.get("type"), str) and task["type"] not in rules.task_types():
                out.add("task-type-unknown", locate(*path, "task", "type"),
                        f"task.type {task['type']!r} is not a Hub task or subtask")
            metrics = result.get("metrics")
            for k, metric in enumerate(metrics if isinstance(metrics, list) else []):
                if not isinstance(metric, dict):
                    continue
                mpath = (*path, "metrics", k)
                identity = (task.get("type"), dataset.get("type"), dataset.get("config"), dataset.get("split"),
                            dataset.get("revision"), metric.get("type"), metric.get("config"), metric.get("name"))
                if identity in identities:
                    out.add("model-index-duplicate", locate(*mpath),
                            f"this metric repeats the one on line {identities[identity]} (same task, dataset, "
                            "split, metric type, name and config): parsers merge them; give each a distinct "
                            "metric config or name")
                else:
                    identities[identity] = locate(*mpath)


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
    stated = meta.get("base_model_relation")
    if isinstance(stated, str) and stated in schema.BASE_MODEL_RELATIONS:
        derived = claims.report_relation(report)
        if derived.value is None:
            out.add("base-model-relation-mismatch", locate("base_model_relation"),
                    f"base_model_relation is {stated!r}, but the report cannot tell ({derived.reason}); "
                    "state it at publish time with --base-model-relation, or remove it")
        elif derived.value != stated:
            out.add("base-model-relation-mismatch", locate("base_model_relation"),
                    f"base_model_relation is {stated!r}, the report says {derived.value!r} "
                    f"({derived.reason}); run `publisher card regenerate`")


def _check_body(body: str, first_line: int, report: Report | None, out: _Collector) -> None:
    for problem in marker_problems(body):
        out.add("section-markers", first_line + problem.line - 1, f"managed-section markers: {problem.message}")
    compat = facts.compatibility(report) if report is not None else {}
    ledger = ledger_module.ledger_of(report) if report is not None else None
    for number, line in readback.lines_outside_fences(body, first_line):
        if "{{" in line or "{%" in line:
            out.add("template-leftover", number, "unrendered Jinja ({{ or {%) in the card text")
        if report is None:
            continue
        figure = _FIGURE.match(line)
        if figure:
            _check_figure(figure, ledger, number, out)
        for key, pattern in _COMPAT.items():
            for found in pattern.finditer(line):
                want = compat.get(key)
                if want and found.group("v") != want:
                    out.add("compatibility-mismatch", number,
                            f"the card says {found.group(0)!r}, the export recorded {want}")


def _check_figure(match: re.Match[str], ledger: Any, line: int, out: _Collector) -> None:
    label = match.group("label").strip()
    candidates = readback.claims_for_label(label, ledger)
    if not candidates:
        return
    printed = match.group("value")
    percent = bool(match.group("pct"))
    if not any(readback.printed_matches(printed, float(c.value), percent, c.printed) for c in candidates):
        want = " or ".join(f"{float(c.value):.6g} ({c.id})" for c in candidates)
        out.add("figure-mismatch", line, f"{label!r} shows {printed}{'%' if percent else ''}, the report says {want}")


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
