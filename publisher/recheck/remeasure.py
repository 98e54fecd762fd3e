"""Measurements of a downloaded release, from its IR and tokenizer alone (no checkpoint, no torch model).

Each function runs the same stage code publish measured with, so that on the same machine a
re-measurement reproduces the recorded figure exactly, and elsewhere differs only as the CPU does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from publisher.errors import BadInputError
from publisher.progress import Progress
from publisher.stages.export import IR_XML


@dataclass(frozen=True)
class ClassifierRun:
    metric: float  # accuracy over the rows run
    predictions: list[int]  # dataset label per row
    rows: int


class NotAnOpenVINORelease(BadInputError):
    """A repo without an OpenVINO IR: a fleet check skips it."""

    skippable = True


def ir_xml(release_dir: Path) -> Path:
    # At the root (publisher's layout), or under openvino/ (the layout sentence-transformers loads).
    for xml in (release_dir / IR_XML, release_dir / "openvino" / IR_XML):
        if xml.is_file():
            return xml
    found = sorted(release_dir.glob("*.xml")) or sorted((release_dir / "openvino").glob("openvino*.xml"))
    if not found:
        raise NotAnOpenVINORelease("The repo holds no OpenVINO IR (an .xml with its .bin)",
                                   "Check the repo id and revision: verify checks OpenVINO releases")
    return found[0]


def tokenizer_of(release_dir: Path) -> Any:
    from publisher.errors import PublisherError
    from publisher.stages.load import load_release_tokenizer

    try:
        return load_release_tokenizer(release_dir)
    except PublisherError:
        raise
    except Exception as exc:  # noqa: BLE001 - a repo's tokenizer files are hostile: transformers and
        # tokenizers raise KeyError, TypeError, RecursionError, AttributeError... on files they do not expect
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise BadInputError(f"The release's tokenizer files cannot be loaded ({type(exc).__name__}: {detail})",
                            "A release must ship the tokenizer files its IR was exported with") from exc


def classifier_accuracy(release_dir: Path, texts: list[str], labels: list[int], mapping: dict[int, int], *,
                        max_length: int, batch_size: int = 32, progress: Progress | None = None,
                        pairs: list[str] | None = None) -> ClassifierRun:
    """The IR's accuracy on ``texts`` (with ``pairs`` as second segments), mapping its classes to
    dataset labels with ``mapping``."""
    from publisher.stages import accuracy as acc
    from publisher.stages.data import tokenize
    from publisher.stages.inference import compile_ir, run_openvino

    progress = progress or Progress(quiet=True)
    tokenized = tokenize(tokenizer_of(release_dir), texts, pairs=pairs, max_length=max_length, batch_size=batch_size)
    compiled = compile_ir(ir_xml(release_dir))
    with progress.bar("OpenVINO IR (re-measure)", len(texts)) as advance:
        logits = run_openvino(compiled, tokenized, advance)
    try:
        predicted = acc.predictions(logits, mapping)
    except KeyError as exc:
        raise BadInputError(f"The IR predicts class {exc}, which the recorded label mapping does not name",
                            "The IR does not belong to this report") from exc
    return ClassifierRun(acc.score_predictions(predicted, labels), predicted, len(texts))


def ir_sparsity(release_dir: Path) -> float | None:
    """Share of zeros in the IR's transformer-block linear weights (publish's own count); None when
    the IR has no layers publish counts (an IR named differently, e.g. converted from ONNX)."""
    from publisher.stages.inference import read_ir
    from publisher.stages.sparsity import _measurement, ir_layer_counts

    measured = _measurement(ir_layer_counts(read_ir(ir_xml(release_dir))))
    return float(measured.overall) if measured.elements else None


def weight_shares(release_dir: Path) -> tuple[dict[str, float], dict[str, int]]:
    """Linear-layer weight shares by storage precision, and the layer counts."""
    from publisher.stages.inference import read_ir
    from publisher.stages.weight_precision import measure_weight_precision

    result = measure_weight_precision(read_ir(ir_xml(release_dir)))
    return {k: float(v) for k, v in result.shares.items()}, {k: int(v) for k, v in result.counts.items()}


def compression_record(release_dir: Path) -> dict[str, str]:
    """NNCF's record of its weight compression, from the IR's rt_info."""
    from publisher.stages.export import nncf_rt_info

    return nncf_rt_info(ir_xml(release_dir))


@dataclass(frozen=True)
class PerplexityRun:
    perplexity: float
    window_nll: list[float]
    window_tokens: list[int]
    inference_precision: str


def causal_lm_perplexity(release_dir: Path, text: str, *, window: int, stride: int, max_windows: int | None,
                         limit: int | None, inference_precision: str | None,
                         progress: Progress | None = None) -> PerplexityRun:
    """The IR's perplexity on the windows publish scored (the first ``limit`` of them)."""
    from publisher.stages.perplexity import _precision_of, ir_window_nll, load_ir, make_windows, tokenize

    progress = progress or Progress(quiet=True)
    ids = tokenize(tokenizer_of(release_dir), text)
    total = len(make_windows(len(ids), window, stride, max_windows)[:limit])
    model = load_ir(release_dir, inference_precision or None)
    with progress.bar("perplexity windows (IR, re-measure)", total) as advance:
        nll, tokens = ir_window_nll(model, ids, window=window, stride=stride, max_windows=max_windows,
                                    limit=limit, advance=advance)
    scored = sum(tokens)
    return PerplexityRun(math.exp(sum(nll) / scored) if scored else float("nan"), nll, tokens,
                         _precision_of(model))


def supported_precision(recorded: str) -> str | None:
    """``recorded`` when this CPU computes in it (so a re-check runs the IR as publish did), else None
    (the plugin's default, and the tolerance absorbs the difference)."""
    if not recorded:
        return None
    import openvino as ov

    try:
        capabilities = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except RuntimeError:
        return None
    names = {str(c).lower() for c in capabilities}
    wanted = {"bf16": "bf16", "f16": "fp16", "f32": "fp32"}.get(recorded.lower())
    return recorded if wanted in names else None
