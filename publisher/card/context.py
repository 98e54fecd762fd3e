"""The variables a card template sees, built from a ``Report``.

Every variable is always defined (``None`` or empty when the input is missing), so templates can
test for presence with ``{% if %}`` while a misspelt name still fails under strict rendering.
The catalogue in ``publisher.card.variables`` documents each name; a test keeps the two in step.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from publisher.card import claims, facts
from publisher.card.ledger import ledger_of, value
from publisher.card.rules import licenses, task_display_name
from publisher.results import ClaimsLedger, Report
from publisher.tasks import TASKS, task_of
from publisher.tasks.contract import SPARSITY_OPENVINO, SPARSITY_TORCH
from publisher.stages.training_metadata import command_scripts

HUB = "https://huggingface.co"

LINKS = {
    "openvino_ir_docs": "https://docs.openvino.ai/2024/documentation/openvino-ir-format.html",
    "optimization_guide": "https://docs.openvino.ai/2024/openvino-workflow/model-optimization.html",
    "nncf": "https://github.com/openvinotoolkit/nncf",
    "optimum_intel": "https://github.com/huggingface/optimum-intel",
    "openvino_genai": "https://github.com/openvinotoolkit/openvino.genai",
    "weight_compression": (
        "https://docs.openvino.ai/2024/openvino-workflow/model-optimization-guide/weight-compression.html"
    ),
    "notebooks": "https://github.com/openvinotoolkit/openvino_notebooks",
    "sparsity_notebook": (
        "https://github.com/openvinotoolkit/openvino_notebooks/blob/latest/notebooks/"
        "sparsity-optimization/sparsity-optimization.ipynb"
    ),
}

WEIGHT_FORMAT_TITLES = {"int8": "INT8", "int4": "INT4", "fp16": "FP16", "fp32": "FP32"}


def hub_url(repo_id: str | None) -> str | None:
    return f"{HUB}/{repo_id}" if repo_id else None


def build_context(report: Report) -> dict[str, Any]:
    """Template variables for ``report``: plain strings, numbers, lists and dicts only.

    Every task gets every variable; what a task does not measure is ``None`` (a classifier has no
    ``perplexity``, a causal LM no ``accuracy``), so one template can serve several with ``{% if %}``
    and a misspelt name still fails. The task's own variables come from its module (publisher.tasks).
    """
    ledger = ledger_of(report)
    context = _common(report, ledger)
    # Every task's own variables are defined (None) on every card; the report's task fills its own.
    context.update({name: None for task in TASKS.values() for name in task.card_variables})
    context.update(task_of(report).card_context(report, ledger))
    return context


def _common(report: Report, ledger: ClaimsLedger) -> dict[str, Any]:
    """What every release has: names, lineage, license, export, training records, links."""
    training = report.checkpoint.training
    base = facts.base_model(report)
    creator, creator_url = _creator(training.model_creator, base)
    license_id = facts.license_id(report)
    license_info = licenses().get(license_id or "", {})
    algorithms = claims.nncf_algorithms(training.nncf_config)
    evidence = claims.report_compression(report)
    relation = claims.report_relation(report)
    versions = report.export.versions
    compat = facts.compatibility(report)
    metric = facts.metric(report)
    return {
        "model_name": report.card.model_name,
        "repo_id": facts.repo_id(report),
        "model_index_name": facts.model_index_name(report),
        "base_model": base,
        "base_model_url": hub_url(base),
        "model_creator": creator,
        "model_creator_url": creator_url,
        "teacher_model": training.teacher_model,
        "teacher_model_url": hub_url(training.teacher_model),
        "license": license_id,
        "license_name": license_info.get("name") if license_info else None,
        "license_url": license_info.get("url") if license_info else None,
        "language": facts.languages(report),
        "tags": facts.tags(report),
        "pipeline_tag": report.card.pipeline_tag,
        "task_name": task_display_name(report.card.pipeline_tag),
        "library_name": facts.library_name(report),
        "ov_model_class": task_of(report).ov_model_class,
        "metric": metric,
        "metric_title": facts.metric_title(metric),
        "sparsity": _sparsity(report, ledger),
        "weight_format": report.export.weight_format,
        "weight_format_title": WEIGHT_FORMAT_TITLES.get(
            report.export.weight_format, report.export.weight_format.upper()
        ),
        "versions": {
            "openvino": ledger.get("compatibility.openvino").value if ledger.get("compatibility.openvino") else None,
            "optimum_intel": compat["optimum_intel"],
            "openvino_genai": compat["openvino_genai"],
            "openvino_tokenizers": facts.release_version(versions.get("openvino-tokenizers")),
            "nncf": facts.release_version(versions.get("nncf")),
            "transformers": facts.release_version(versions.get("transformers")),
            "torch": facts.release_version(versions.get("torch")),
        },
        "base_model_relation": relation.value,
        "training_dataset": training.training_dataset,
        "compression": {
            "methods": evidence.methods,
            "algorithms": [str(a.get("algorithm")) for a in algorithms],
            "quantization": evidence.quantization_aware,
            "distillation": evidence.distillation,
        },
        "nncf_config_json": _nncf_json(_shown_config(training.nncf_config, evidence.shown_entries)),
        "nncf_config_complete": len(evidence.shown_entries) == len(algorithms),
        "training_command": _release_command(training),
        "training_files": sorted(training.training_files),
        "training_requirements": _record_strings(training.recipe_record, "requirements"),
        "training_reads": _record_reads(training.recipe_record),
        "training_scripts_missing": _missing_scripts(training),
        "training_details_url": report.card.training_details_url,
        "release_files": sorted(f.path for f in report.export.files),
        "compatibility": _compatibility(report),
        "links": dict(LINKS),
    }


def _compatibility(report: Report) -> dict[str, Any] | None:
    """The OpenVINO releases the IR was run on (``--openvino``), for the card's table."""
    c = report.compatibility
    if c is None:
        return None
    runs = [{"version": r.version or r.requested, "passed": bool(r.passed), "reason": r.reason,
             "top1_agreement": r.top1_agreement, "max_abs_diff": r.max_abs_diff} for r in c.runs]
    return {"reference": facts.release_version(c.reference), "inputs": c.inputs,
            "inference_precision": c.inference_precision, "min_top1_agreement": c.min_top1_agreement,
            "supported_from": c.supported_from, "and_higher": facts.and_higher(report), "runs": runs}


def _sparsity(report: Report, ledger: ClaimsLedger) -> dict[str, Any] | None:
    if report.sparsity is None:
        return None
    return {
        "scope": report.sparsity.scope,
        # None where the card does not state them (a dense language model): the ledger has no entry.
        "torch": value(ledger, SPARSITY_TORCH) if ledger.get(SPARSITY_TORCH) else None,
        "openvino": value(ledger, SPARSITY_OPENVINO) if ledger.get(SPARSITY_OPENVINO) else None,
        "sparse": facts.is_sparse(report),
        "layers": len(report.sparsity.openvino.layers),
    }


def task_variables(task_name: str) -> tuple[str, ...]:
    """The template variables only ``task_name``'s cards fill (None on the others)."""
    return TASKS[task_name].card_variables


def _creator(model_creator: str | None, base: str | None) -> tuple[str | None, str | None]:
    namespace = base.split("/", 1)[0] if base and "/" in base else None
    name = model_creator or namespace
    return name, hub_url(namespace) if name else None


def _shown_config(config: Any, shown: list[int]) -> Any:
    """The NNCF config with only the entries the evidence bears out (the file as is when all are)."""
    entries = claims.nncf_algorithms(config)
    if len(shown) == len(entries):
        return config
    kept = [entries[i] for i in shown]
    return kept or None


def _release_command(training: Any) -> str | None:
    """The training command, with each script the release ships named by its path in the release."""
    if not training.training_command:
        return None
    command = training.training_command.strip("\n")
    for release_path, local in sorted(training.training_files.items()):
        for script in command_scripts(command):
            if Path(script).name == Path(local).name and script != release_path:
                command = re.sub(rf"(?<![\w/.-]){re.escape(script)}(?![\w/.-])", release_path, command)
    return command


def _record_strings(record: Any, key: str) -> list[str] | None:
    """A list of strings the recipe's record gives under ``key`` (None when it gives none)."""
    value = record.get(key) if isinstance(record, dict) else None
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return [v.strip() for v in value]
    return None


def _record_reads(record: Any) -> list[str] | None:
    """What the recipe's record says its script reads besides itself: "what (path, where)"."""
    reads = record.get("reads") if isinstance(record, dict) else None
    out = []
    for item in reads if isinstance(reads, list) else []:
        if isinstance(item, dict) and isinstance(item.get("path"), str):
            what = item.get("what") if isinstance(item.get("what"), str) else item["path"]
            where = f", {item['where']}" if isinstance(item.get("where"), str) else ""
            out.append(f"{what} (`{item['path']}`{where})")
    return out or None


def _missing_scripts(training: Any) -> list[str]:
    """Scripts the training command runs that the release does not ship."""
    shipped = {Path(local).name for local in training.training_files.values()}
    return [s for s in command_scripts(training.training_command) if Path(s).name not in shipped]


def _nncf_json(config: Any) -> str | None:
    if config is None or config == [] or config == {}:
        return None
    # indent=4 and the trainer's own key order: the file as users would write it.
    return json.dumps(config, indent=4, ensure_ascii=False)
