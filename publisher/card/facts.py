"""Facts about a release derived once from a ``Report``, shared by metadata, body and lint.

Keeping the derivations here means the front matter, the card body and the lint checks cannot
disagree about, say, which repo id a card names or which figures a card must show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from publisher.results import Report

# Rounding of figures in model-index: five decimals is what the Trainer-made cards use (0.91284),
# and it keeps re-renders of the same measurement byte-identical.
METRIC_DECIMALS = 5

# The IR adds a little sparsity of its own (INT8 rounding of small weights), so a dense model reads
# about 1% sparse there; the checkpoint's figure is the one that says whether it was pruned.
SPARSE_THRESHOLD = 0.10

LOCAL_DATASET_TYPES = frozenset({"csv", "json", "jsonl", "tsv", "parquet", "text", "txt", "local"})

TEXT_GENERATION = "text-generation"  # publisher.tasks name of causal language models

QUANTIZATION_TAGS = {"int8": "8-bit", "int4": "4-bit"}


def is_text_generation(report: Report) -> bool:
    """A causal-LM release: its figures are perplexity and parity in ``report.text_generation``."""
    return report.task == TEXT_GENERATION and report.text_generation is not None


def metric(report: Report) -> str:
    """The metric the release reports on its evaluation data."""
    return "perplexity" if is_text_generation(report) else report.accuracy.metric


def metric_title(metric: str) -> str:
    special = {"f1": "F1", "accuracy": "Accuracy", "mse": "MSE", "rmse": "RMSE", "perplexity": "Perplexity"}
    return special.get(metric, metric.replace("_", " ").replace("-", " ").title())


def release_version(version: str | None) -> str | None:
    """The release part of a recorded version: "2026.4.1-18000-abc" -> "2026.4.1"."""
    if not version:
        return None
    match = re.match(r"\d+(?:\.\d+)*", version.strip())
    return match.group(0) if match else None


@dataclass(frozen=True)
class Figure:
    """One measured figure the card states, with where it lives in the model-index."""

    key: str  # "accuracy.openvino", "accuracy.torch"
    metric_type: str  # model-index metric.type
    metric_name: str  # model-index metric.name
    config: str  # model-index metric.config: "openvino" | "torch"
    value: float


def repo_id(report: Report) -> str:
    if report.card.repo_id:
        return report.card.repo_id
    if report.hub is not None and report.hub.repo_id:
        return report.hub.repo_id
    return report.card.model_name


def model_index_name(report: Report) -> str:
    return report.card.model_index_name or repo_id(report)


def license_id(report: Report) -> str | None:
    # The checkpoint folder's own statement wins; flags fill the gap (issue 4, item 3).
    return report.checkpoint.training.license or report.card.license


def languages(report: Report) -> list[str]:
    return list(report.checkpoint.training.language or report.card.language or [])


def base_model(report: Report) -> str | None:
    return report.checkpoint.training.base_model


def library_name(report: Report) -> str | None:
    """The Hub library of the release as pushed: OpenVINO IR, no PyTorch weights.

    Reports written before publisher chose ``openvino`` carry ``transformers`` (the old default; no
    flag ever set it), which makes the Hub offer a transformers snippet that cannot load the IR: a
    regenerated card gets ``openvino`` instead.
    """
    value = report.card.library_name or None
    return "openvino" if value == "transformers" else value


def is_sparse(report: Report) -> bool:
    return report.sparsity is not None and float(report.sparsity.torch.overall) >= SPARSE_THRESHOLD


def used_nncf(report: Report) -> bool:
    """NNCF trained it (masks/quantizers, or a config), or compressed its weights at export."""
    return (
        report.checkpoint.nncf_compressed
        or bool(report.checkpoint.training.nncf_config)
        or report.export.weight_format in QUANTIZATION_TAGS
    )


def tags(report: Report) -> list[str]:
    """openvino, then nncf / 8-bit / sparse when they apply, then the user's tags."""
    out: list[str] = ["openvino"]
    if used_nncf(report):
        out.append("nncf")
    quant = QUANTIZATION_TAGS.get(report.export.weight_format)
    if quant:
        out.append(quant)
    if is_sparse(report):
        out.append("sparse")
    for tag in report.card.tags:
        if tag not in out:
            out.append(tag)
    return out


def hub_dataset(report: Report) -> str | None:
    """The evaluation dataset's Hub id when it has one (a local or bundled file has none)."""
    dtype = eval_dataset(report).type
    return None if dtype in LOCAL_DATASET_TYPES else dtype


def eval_dataset(report: Report):
    """What the figures were measured on: the classifier's labelled set or the LM's text."""
    if is_text_generation(report):
        return report.text_generation.perplexity.dataset
    return report.accuracy.dataset


def figures(report: Report) -> list[Figure]:
    """The results measured on the evaluation dataset, in model-index order: the IR (the released
    artifact) first. Only these go into model-index; sparsity, weight precision and torch/IR parity
    describe the weights, not a dataset, and stay in the card body and report.json."""
    name = metric(report)
    title = metric_title(name)
    if is_text_generation(report):
        ppl = report.text_generation.perplexity
        torch_value, ir_value = ppl.torch, ppl.openvino
    else:
        torch_value, ir_value = report.accuracy.torch, report.accuracy.openvino
    return [
        Figure(f"{name}.openvino", name, title, "openvino", round(float(ir_value), METRIC_DECIMALS)),
        Figure(f"{name}.torch", name, f"{title} (PyTorch)", "torch", round(float(torch_value), METRIC_DECIMALS)),
    ]


def perplexity_increase(report: Report) -> float | None:
    """The IR's perplexity over torch's, relative (0.0155 is 1.55% higher); what the
    ``max_perplexity_increase`` gate judges, so card and gate state the same figure."""
    ppl = report.text_generation.perplexity
    return (float(ppl.openvino) - float(ppl.torch)) / float(ppl.torch) if ppl.torch else None


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def and_higher(report: Report) -> bool:
    """Whether the card may say "and higher" of its OpenVINO version: not when a tested release at or
    above it failed (``--openvino``)."""
    lowest = compatibility(report)["openvino"]
    if report.compatibility is None or not lowest:
        return True
    return not any(not r.passed and r.version and _key(r.version) >= _key(lowest) for r in report.compatibility.runs)


def compatibility(report: Report) -> dict[str, str | None]:
    """The lowest versions the card may say the release works with: for OpenVINO, the lowest release
    from which every release the IR was run on passed (``--openvino``), else the one it was made with."""
    versions = report.export.versions
    tested = report.compatibility.supported_from if report.compatibility is not None else None
    return {
        "openvino": release_version(tested or versions.get("openvino")),
        "optimum_intel": release_version(versions.get("optimum-intel") or versions.get("optimum_intel")),
        # Recorded only by LLM exports: the runtime the GenAI snippet and the generation check use.
        "openvino_genai": release_version(versions.get("openvino-genai") or versions.get("openvino_genai")),
    }
