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
    """Template variables for ``report``: plain strings, numbers, lists and dicts only.

    Every task gets every variable; what a task does not measure is ``None`` (a classifier has no
    ``perplexity``, a causal LM no ``accuracy``), so one template can serve both with ``{% if %}``
    and a misspelt name still fails.
    """
    ledger = ledger_of(report)
    context = _common(report, ledger)
    if facts.is_text_generation(report):
        context.update(_text_generation(report, ledger))
    else:
        context.update(_classifier(report, ledger))
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
        "ov_model_class": OV_MODEL_CLASSES.get(report.card.pipeline_tag),
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
        "torch": value(ledger, "sparsity.torch") if ledger.get("sparsity.torch") else None,
        "openvino": value(ledger, "sparsity.openvino") if ledger.get("sparsity.openvino") else None,
        "sparse": facts.is_sparse(report),
        "layers": len(report.sparsity.openvino.layers),
    }


def _classifier(report: Report, ledger: ClaimsLedger) -> dict[str, Any]:
    ds = report.accuracy.dataset
    hub_ds = facts.hub_dataset(report)
    return {
        "dataset": {
            "name": ds.name,
            "type": ds.type,
            "config": ds.config,
            "split": ds.split,
            "args": ds.args,
            "num_samples": int(ds.num_samples),
            "url": f"{HUB}/datasets/{hub_ds}" if hub_ds else None,
        },
        "accuracy": {"torch": value(ledger, f"{report.accuracy.metric}.torch"),
                     "openvino": value(ledger, f"{report.accuracy.metric}.openvino")},
        "verification": {
            "compiled": bool(report.verification.compiled),
            "device": report.verification.device,
            "samples": int(report.verification.samples),
            "max_abs_logit_diff": value(ledger, "verification.max_abs_logit_diff"),
            "argmax_agreement": value(ledger, "verification.argmax_agreement"),
            "passed": bool(report.verification.passed),
        },
        "performance": _performance(report, ledger),
        **{name: None for name in TEXT_GENERATION_VARIABLES},
    }


# The variables only a causal-LM release fills (None for a classifier).
TEXT_GENERATION_VARIABLES = ("perplexity", "parity", "generation", "sample", "quantization",
                             "weight_precision")
# The variables only a classifier fills (None for a causal LM).
CLASSIFIER_VARIABLES = ("dataset", "accuracy", "verification")

# Storage precisions of the IR's weights, in the order a card lists them.
PRECISION_TITLES = {"int4": "INT4", "int8": "INT8", "float": "Float"}
NAMED_LAYERS = 4


def _text_generation(report: Report, ledger: ClaimsLedger) -> dict[str, Any]:
    tg = report.text_generation
    ppl, parity, gen = tg.perplexity, tg.parity, tg.generation
    ds = ppl.dataset
    hub_ds = facts.hub_dataset(report)
    samples = [_sample(s) for s in gen.samples]
    return {
        "perplexity": {
            "dataset": {
                "name": ds.name,
                "type": ds.type,
                "config": ds.config,
                "split": ds.split,
                "source": ds.source,
                "license": ds.license,
                "bundled": ds.source.startswith("bundled:"),
                "num_characters": int(ds.num_characters),
                "num_tokens": int(ds.num_tokens) if ds.num_tokens is not None else None,
                "url": f"{HUB}/datasets/{hub_ds}" if hub_ds else None,
            },
            "window": int(ppl.window),
            "stride": int(ppl.stride),
            "windows": int(ppl.windows),
            "tokens_scored": int(ppl.tokens_scored),
            "torch": value(ledger, "perplexity.torch"),
            "openvino": value(ledger, "perplexity.openvino"),
            "increase": value(ledger, "perplexity.increase") if ledger.get("perplexity.increase") else None,
            "method": ppl.method,
            "inference_precision": ppl.inference_precision or None,
        },
        "parity": {
            "positions": int(parity.positions),
            "top1_agreement": value(ledger, "parity.top1_agreement"),
            "max_abs_logit_diff": value(ledger, "parity.max_abs_logit_diff"),
            "mean_abs_logit_diff": value(ledger, "parity.mean_abs_logit_diff"),
        },
        "generation": {
            "prompts": len(samples),
            "matches": sum(1 for s in samples if s["match"]),
            "exact_match_rate": value(ledger, "generation.exact_match_rate"),
            "max_new_tokens": int(gen.max_new_tokens),
            "greedy": bool(gen.greedy),
            "chat_template": any(s["chat_template_applied"] for s in samples),
            "inference_precision": gen.inference_precision or None,
            "samples": samples,
        },
        # The card shows one generation of the run: the first whose IR output matched torch's,
        # else the first prompt's (never a made-up example).
        "sample": next((s for s in samples if s["match"]), samples[0] if samples else None),
        "quantization": _quantization(report, ledger),
        "weight_precision": _weight_precision(tg.weight_precision, ledger),
        "performance": _llm_performance(report, ledger),
        **{name: None for name in CLASSIFIER_VARIABLES},
    }


def _sample(sample: Any) -> dict[str, Any]:
    return {
        "prompt": sample.prompt,
        "chat_template_applied": bool(sample.chat_template_applied),
        "openvino_text": sample.openvino_text,
        "torch_text": sample.torch_text,
        "match": bool(sample.match),
        "first_divergence_token": sample.first_divergence_token,
        "tokenizer_match": bool(sample.tokenizer_match),
        "openvino_tokens": int(sample.openvino_tokens),
        "torch_tokens": int(sample.torch_tokens),
    }


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _flag(applied: dict[str, Any], key: str) -> bool | None:
    """A boolean NNCF recorded as text ("True"/"False"), or None when it recorded none."""
    value = applied.get(key)
    return None if value is None else str(value).strip().lower() == "true"


def _quantization(report: Report, ledger: ClaimsLedger) -> dict[str, Any] | None:
    """The weight compression as NNCF applied it (its own record in the IR), for INT8/INT4 only."""
    c = report.text_generation.compression
    if c.mode not in claims.COMPRESSED_WEIGHT_FORMATS:
        return None
    applied = dict(c.applied or {})
    group = c.group_size if c.mode == "int4" else _int(applied.get("group_size"))
    return {
        "mode": applied.get("mode") or f"{c.mode}_{'sym' if c.sym else 'asym'}",
        "bits": 4 if c.mode == "int4" else 8,
        "sym": bool(c.sym),
        "group_size": int(value(ledger, "quantization.group_size")) if group is not None else None,
        "per_channel": group == -1,
        "ratio": value(ledger, "quantization.ratio") if c.mode == "int4" and c.ratio is not None else None,
        "backup_mode": c.backup_mode if c.mode == "int4" else None,
        "awq": bool(c.awq),
        "scale_estimation": bool(c.scale_estimation),
        "gptq": bool(_flag(applied, "gptq")),
        "lora_correction": bool(_flag(applied, "lora_correction")),
        "data_aware": bool(c.awq or c.scale_estimation or _flag(applied, "gptq")
                           or _flag(applied, "lora_correction")),
        "dataset": c.dataset,
        "calibration_samples": c.calibration_samples,
        "sensitivity_metric": applied.get("sensitivity_metric") or None,
        # False: NNCF left no record in the IR, so the values are what was asked of optimum-intel.
        "recorded": bool(applied),
    }


def _weight_precision(wp: Any, ledger: ClaimsLedger) -> dict[str, Any]:
    rows = []
    for key in PRECISION_TITLES:
        if key not in wp.shares:
            continue
        names = sorted(name for name, precision in wp.layers.items() if precision == key)
        layers = int(wp.counts.get(key, len(names)))
        share = value(ledger, f"weight_precision.{key}") if layers > 0 else float(wp.shares[key])
        rows.append({"precision": key, "title": PRECISION_TITLES[key], "share": share,
                     "layers": int(wp.counts.get(key, len(names))), "elements": int(wp.elements.get(key, 0)),
                     # A few layers are worth naming (the output head kept in INT8); many are not.
                     "names": names if 0 < len(names) <= NAMED_LAYERS else None})
    return {
        "shares": {k: float(v) for k, v in wp.shares.items()},
        "layers": sum(int(v) for v in wp.counts.values()),
        "rows": rows,
    }


def _llm_performance(report: Report, ledger: ClaimsLedger) -> dict[str, Any] | None:
    perf = report.performance
    if perf is None or not hasattr(perf, "ttft_ms"):
        return None
    return {
        "cpu": perf.cpu,
        "openvino": perf.openvino.split("-")[0],
        "prompt_tokens": int(perf.prompt_tokens),
        "output_tokens": int(perf.output_tokens),
        "ttft_ms": value(ledger, "performance.ttft_ms"),
        "tokens_per_second": value(ledger, "performance.tokens_per_second"),
        "runs": int(perf.runs),
    }


def _performance(report: Report, ledger: ClaimsLedger) -> dict[str, Any] | None:
    perf = report.performance
    if perf is None:
        return None
    sparse = perf.sparse_decompression
    return {
        "cpu": perf.cpu,
        "openvino": perf.openvino.split("-")[0],
        "sequence_length": perf.sequence_length,
        "latency_ms": value(ledger, "performance.latency_ms"),
        "throughput": value(ledger, "performance.throughput"),
        "throughput_batch": int(perf.throughput["batch"]),
        "sparse_supported": bool(sparse.get("supported")),
        "sparse_throughput": value(ledger, "performance.sparse_throughput") if sparse.get("supported") else None,
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
