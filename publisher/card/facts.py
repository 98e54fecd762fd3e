"""Facts about a release derived once from a ``Report``, shared by metadata, body and lint.

Keeping the derivations here means the front matter, the card body and the lint checks cannot
disagree about, say, which repo id a card names or which figures a card must show.
"""

from __future__ import annotations

from dataclasses import dataclass

from publisher.results import Report
from publisher.tasks import task_of
from publisher.tasks.common import SPARSE_THRESHOLD, is_sparse
from publisher.versions import failed_at_or_above, release_version

__all__ = ["SPARSE_THRESHOLD", "is_sparse", "release_version"]

# Rounding of figures in model-index: five decimals is what the Trainer-made cards use (0.91284),
# and it keeps re-renders of the same measurement byte-identical.
METRIC_DECIMALS = 5

LOCAL_DATASET_TYPES = frozenset({"csv", "json", "jsonl", "tsv", "parquet", "text", "txt", "local"})

QUANTIZATION_TAGS = {"int8": "8-bit", "int4": "4-bit"}


def metric(report: Report) -> str:
    """The metric the release reports on its evaluation data."""
    return task_of(report).metric


def metric_title(metric: str) -> str:
    special = {"f1": "F1", "accuracy": "Accuracy", "mse": "MSE", "rmse": "RMSE", "perplexity": "Perplexity"}
    return special.get(metric, metric.replace("_", " ").replace("-", " ").title())


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
    """What the figures were measured on (the task's evaluation data)."""
    return task_of(report).eval_dataset(report)


def figures(report: Report) -> list[Figure]:
    """The results measured on the evaluation dataset, in model-index order: the IR (the released
    artifact) first. Only these go into model-index; sparsity, weight precision and torch/IR parity
    describe the weights, not a dataset, and stay in the card body and report.json."""
    def titled(mtype: str, config: str) -> str:
        return metric_title(mtype) + ("" if config == "openvino" else " (PyTorch)")

    return [Figure(f"{mtype}.{config}", mtype, name or titled(mtype, config), config,
                   round(float(value), METRIC_DECIMALS))
            for mtype, name, config, value in task_of(report).model_index_metrics(report)]


def and_higher(report: Report) -> bool:
    """Whether the card may say "and higher" of its OpenVINO version: not when a tested release at or
    above it failed (``--openvino``)."""
    lowest = compatibility(report)["openvino"]
    if report.compatibility is None or not lowest:
        return True
    return not failed_at_or_above(report.compatibility.runs, lowest)


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
