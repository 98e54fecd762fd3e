"""One pass of each model over the shared, tokenized batches: torch, then the OpenVINO IR.

The IR runs batch after batch through one synchronous infer request with a LATENCY hint (all
available CPUs on each batch). Not an ``AsyncInferQueue``: the batches are dynamically padded, so
every batch is a new input shape, and several requests specialising new shapes at once is a known
deadlock surface of the CPU plugin on machines with few cores (ultralytics/ultralytics#25921, a CI
that hung in ``wait_all``, which has no timeout). Measured on 872 SST-2 sentences with MiniLM, the
synchronous pass is as fast as the queue (1.26 s vs 1.29 s on 2 cores). The torch model runs under
``inference_mode`` (its threads were capped at the available CPUs when it was loaded). Both return
logits in the data's original order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from publisher.cpus import available_cpus
from publisher.errors import BadInputError
from publisher.stages.data import TokenizedBatches


@dataclass(frozen=True)
class Logits:
    values: Any  # numpy float32 [num_samples, num_labels], original data order
    seconds: float
    device: str = "CPU"

    @property
    def samples_per_second(self) -> float:
        return len(self.values) / self.seconds if self.seconds > 0 else 0.0


def _unsort(sorted_rows: list[Any], order: list[int]):
    import numpy as np

    stacked = np.concatenate(sorted_rows, axis=0).astype(np.float32)
    out = np.empty_like(stacked)
    out[np.asarray(order)] = stacked
    return out


def run_torch(model: Any, data: TokenizedBatches, progress: Any = None) -> Logits:
    import torch

    start = time.perf_counter()
    rows = []
    with torch.inference_mode():
        for batch in data.batches:
            out = model(**{k: torch.from_numpy(v) for k, v in batch.items()})
            rows.append(out.logits.float().numpy())
            if progress:
                progress(len(batch["input_ids"]))
    return Logits(_unsort(rows, data.order), time.perf_counter() - start)


def compile_ir(xml_path: Path, device: str = "CPU") -> Any:
    import openvino as ov

    bin_path = xml_path.with_suffix(".bin")
    if not xml_path.is_file():
        raise BadInputError(f"The IR {xml_path} does not exist", "Run the export stage first")
    if not bin_path.is_file():
        raise BadInputError(
            f"The IR {xml_path.name} has no weights file {bin_path.name} beside it",
            "Export again, or copy the .bin that belongs to this .xml",
        )
    _check_weights_file(xml_path, bin_path)
    core = ov.Core()
    try:
        model = core.read_model(str(xml_path))
        config = {"PERFORMANCE_HINT": "LATENCY"}
        if device == "CPU":
            config["INFERENCE_NUM_THREADS"] = available_cpus()
        return core.compile_model(model, device, config)
    except RuntimeError as exc:
        raise BadInputError(
            f"OpenVINO cannot load or compile {xml_path} on {device}: {str(exc).splitlines()[0]}. "
            "The .xml and .bin may not belong together or may be corrupted",
            "Export the IR again",
        ) from exc


def _check_weights_file(xml_path: Path, bin_path: Path) -> None:
    """The .bin must be the one written with this .xml: its size is where the last constant ends.

    OpenVINO reads constants at the offsets the .xml names without checking where the .bin came
    from, so a .bin of another model that happens to be large enough loads as garbage weights.
    """
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(xml_path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise BadInputError(f"The IR {xml_path} is not a readable OpenVINO .xml ({exc})",
                            "Export the IR again") from exc
    needed = 0
    for data in root.iter("data"):
        offset, size = data.get("offset"), data.get("size")
        if offset is not None and size is not None and offset.isdigit() and size.isdigit():
            needed = max(needed, int(offset) + int(size))
    actual = bin_path.stat().st_size
    if needed and actual != needed:
        raise BadInputError(
            f"The weights file {bin_path.name} ({actual} bytes) does not belong to {xml_path.name}, "
            f"which needs exactly {needed} bytes of weights: the .xml and .bin come from different "
            "models or exports, or the .bin is truncated",
            "Keep the .xml and .bin of one export together (export again with `publisher export`)",
        )


def run_openvino(compiled: Any, data: TokenizedBatches, progress: Any = None) -> Logits:
    input_names = {p.get_any_name() for p in compiled.inputs}
    provided = set(data.batches[0]) if data.batches else set()
    if input_names - provided:
        raise BadInputError(
            f"The IR expects inputs {sorted(input_names - provided)} that the tokenizer does not "
            f"produce (it gives {sorted(provided)}): the IR is not this checkpoint's text classifier",
            "Pass the IR exported from this checkpoint",
        )
    rows: list[Any] = []
    start = time.perf_counter()
    request = compiled.create_infer_request()
    for batch in data.batches:
        request.infer({k: v for k, v in batch.items() if k in input_names})
        rows.append(request.get_output_tensor(0).data.copy())
        if progress:
            progress(len(rows[-1]))
    return Logits(_unsort(rows, data.order), time.perf_counter() - start)


def read_ir(xml_path: Path) -> Any:
    """The IR's graph (weights included), uncompiled: for reading its constants."""
    import openvino as ov

    return ov.Core().read_model(str(xml_path))
