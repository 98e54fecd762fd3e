"""One pass of each model over the shared, tokenized batches: torch, then the OpenVINO IR.

The IR runs with a THROUGHPUT hint through an ``AsyncInferQueue`` so that all CPU streams are busy;
the torch model runs under ``inference_mode``. Both return logits in the data's original order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    core = ov.Core()
    try:
        model = core.read_model(str(xml_path))
        return core.compile_model(model, device, {"PERFORMANCE_HINT": "THROUGHPUT"})
    except RuntimeError as exc:
        raise BadInputError(
            f"OpenVINO cannot load or compile {xml_path} on {device}: {str(exc).splitlines()[0]}. "
            "The .xml and .bin may not belong together or may be corrupted",
            "Export the IR again",
        ) from exc


def run_openvino(compiled: Any, data: TokenizedBatches, progress: Any = None) -> Logits:
    import openvino as ov

    input_names = {p.get_any_name() for p in compiled.inputs}
    results: list[Any] = [None] * len(data.batches)

    def done(request: Any, index: int) -> None:
        results[index] = request.get_output_tensor(0).data.copy()
        if progress:
            progress(len(results[index]))

    start = time.perf_counter()
    queue = ov.AsyncInferQueue(compiled)
    queue.set_callback(done)
    for i, batch in enumerate(data.batches):
        queue.start_async({k: v for k, v in batch.items() if k in input_names}, userdata=i)
    queue.wait_all()
    return Logits(_unsort(results, data.order), time.perf_counter() - start)
