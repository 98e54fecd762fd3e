"""Stage 5: accuracy of the torch model and of the IR, computed with an `evaluate` metric module.

The Hub's ``accuracy`` module is used when it is already in the local ``evaluate`` cache or can be
fetched; otherwise the module bundled with publisher (same semantics) is used. The report records
which one ran.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from publisher.results import AccuracyResult
from publisher.stages.data import EvalData
from publisher.stages.inference import Logits

BUNDLED_METRIC = "bundled:accuracy"


@lru_cache(maxsize=1)
def load_accuracy_metric() -> tuple[Any, str]:
    import evaluate
    from datasets import DownloadConfig

    try:
        # Cache only: never wait on a network that may not be there.
        metric = evaluate.load("accuracy", download_config=DownloadConfig(local_files_only=True))
        return metric, "hub:evaluate-metric/accuracy"
    except Exception:  # evaluate raises assorted errors when the module is not cached
        path = Path(str(resources.files("publisher") / "data" / "metrics" / "accuracy" / "accuracy.py"))
        return evaluate.load(str(path)), BUNDLED_METRIC


def predictions(logits: Logits, mapping: dict[int, int]) -> list[int]:
    """The dataset label each row's top class maps to."""
    return [mapping[int(i)] for i in logits.values.argmax(axis=1)]


def score_predictions(predicted: list[int], references: list[int]) -> float:
    metric, _ = load_accuracy_metric()
    return float(metric.compute(predictions=predicted, references=references)["accuracy"])


def score(logits: Logits, data: EvalData, mapping: dict[int, int]) -> float:
    return score_predictions(predictions(logits, mapping), data.labels)


def measure_accuracy(
    data: EvalData,
    mapping: dict[int, int],
    torch_logits: Logits,
    ir_logits: Logits,
    tokenize_seconds: float,
    max_length: int | None = None,
) -> AccuracyResult:
    _, source = load_accuracy_metric()
    ir_predictions = predictions(ir_logits, mapping)
    return AccuracyResult(
        dataset=data.info,
        metric="accuracy",
        metric_module=source,
        torch=score(torch_logits, data, mapping),
        openvino=score_predictions(ir_predictions, data.labels),
        samples_per_second={
            "torch": round(torch_logits.samples_per_second, 2),
            "openvino": round(ir_logits.samples_per_second, 2),
        },
        label_mapping=dict(mapping),
        seconds={
            "tokenize": round(tokenize_seconds, 3),
            "torch": round(torch_logits.seconds, 3),
            "openvino": round(ir_logits.seconds, 3),
        },
        openvino_predictions=ir_predictions,
        max_length=max_length,
    )
