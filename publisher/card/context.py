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
from publisher.card.rules import licenses, task_display_name
from publisher.results import Report
from publisher.stages.training_metadata import command_scripts

HUB = "https://huggingface.co"

LINKS = {
    "openvino_ir_docs": "https://docs.openvino.ai/2024/documentation/openvino-ir-format.html",
    "optimization_guide": "https://docs.openvino.ai/2024/openvino-workflow/model-optimization.html",
    "nncf": "https://github.com/openvinotoolkit/nncf",
    "optimum_intel": "https://github.com/huggingface/optimum-intel",
    "notebooks": "https://github.com/openvinotoolkit/openvino_notebooks",
    "sparsity_notebook": (
        "https://github.com/openvinotoolkit/openvino_notebooks/blob/latest/notebooks/"
        "sparsity-optimization/sparsity-optimization.ipynb"
    ),
}

# optimum-intel class that loads the IR for each pipeline tag.
OV_MODEL_CLASSES = {
    "text-classification": "OVModelForSequenceClassification",
    "token-classification": "OVModelForTokenClassification",
    "question-answering": "OVModelForQuestionAnswering",
    "fill-mask": "OVModelForMaskedLM",
    "feature-extraction": "OVModelForFeatureExtraction",
    "sentence-similarity": "OVModelForFeatureExtraction",
    "multiple-choice": "OVModelForMultipleChoice",
    "text-generation": "OVModelForCausalLM",
    "text2text-generation": "OVModelForSeq2SeqLM",
    "summarization": "OVModelForSeq2SeqLM",
    "translation": "OVModelForSeq2SeqLM",
    "image-classification": "OVModelForImageClassification",
    "audio-classification": "OVModelForAudioClassification",
}

WEIGHT_FORMAT_TITLES = {"int8": "INT8", "int4": "INT4", "fp16": "FP16", "fp32": "FP32"}


def hub_url(repo_id: str | None) -> str | None:
    return f"{HUB}/{repo_id}" if repo_id else None


def build_context(report: Report) -> dict[str, Any]:
    """Template variables for ``report``: plain strings, numbers, lists and dicts only."""
    training = report.checkpoint.training
    base = facts.base_model(report)
    creator, creator_url = _creator(training.model_creator, base)
    license_id = facts.license_id(report)
    license_info = licenses().get(license_id or "", {})
    ds = report.accuracy.dataset
    hub_ds = facts.hub_dataset(report)
    metric = report.accuracy.metric
    algorithms = claims.nncf_algorithms(training.nncf_config)
    evidence = claims.report_compression(report)
    relation = claims.report_relation(report)
    versions = report.export.versions
    compat = facts.compatibility(report)
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
        "ov_model_class": OV_MODEL_CLASSES.get(report.card.pipeline_tag),
        "dataset": {
            "name": ds.name,
            "type": ds.type,
            "config": ds.config,
            "split": ds.split,
            "args": ds.args,
            "num_samples": int(ds.num_samples),
            "url": f"{HUB}/datasets/{hub_ds}" if hub_ds else None,
        },
        "metric": metric,
        "metric_title": facts.metric_title(metric),
        "accuracy": {"torch": float(report.accuracy.torch), "openvino": float(report.accuracy.openvino)},
        "sparsity": {
            "scope": report.sparsity.scope,
            "torch": float(report.sparsity.torch.overall),
            "openvino": float(report.sparsity.openvino.overall),
            "sparse": facts.is_sparse(report),
            "layers": len(report.sparsity.openvino.layers),
        },
        "weight_format": report.export.weight_format,
        "weight_format_title": WEIGHT_FORMAT_TITLES.get(
            report.export.weight_format, report.export.weight_format.upper()
        ),
        "versions": {
            "openvino": compat["openvino"],
            "optimum_intel": compat["optimum_intel"],
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
        "verification": {
            "compiled": bool(report.verification.compiled),
            "device": report.verification.device,
            "samples": int(report.verification.samples),
            "max_abs_logit_diff": float(report.verification.max_abs_logit_diff),
            "argmax_agreement": float(report.verification.argmax_agreement),
            "passed": bool(report.verification.passed),
        },
        "performance": _performance(report),
        "links": dict(LINKS),
    }


def _performance(report: Report) -> dict[str, Any] | None:
    perf = report.performance
    if perf is None:
        return None
    sparse = perf.sparse_decompression
    return {
        "cpu": perf.cpu,
        "openvino": perf.openvino.split("-")[0],
        "sequence_length": perf.sequence_length,
        "latency_ms": float(perf.latency_ms["median"]),
        "throughput": float(perf.throughput["samples_per_second"]),
        "throughput_batch": int(perf.throughput["batch"]),
        "sparse_supported": bool(sparse.get("supported")),
        "sparse_throughput": float(sparse["samples_per_second"]) if sparse.get("supported") else None,
        "sparse_rate": sparse.get("rate"),
    }


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
