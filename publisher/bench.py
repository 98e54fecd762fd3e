"""``publisher bench IR_DIR``: latency (batch 1) and throughput of an IR on this CPU with OpenVINO.

Sparse-weight decompression (``CPU_SPARSE_WEIGHTS_DECOMPRESSION_RATE``) only pays off on CPUs
with AMX (Intel Xeon 4th gen and later); on others it is reported as not supported rather than
measured, because the figure would be meaningless there.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from publisher.errors import BadInputError
from publisher.results import PerformanceResult


def cpu_has_amx() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_tile" in flags and "amx_int8" in flags


def _inputs(compiled: Any, batch: int, seq_len: int) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    feed = {}
    for port in compiled.inputs:
        name = port.get_any_name()
        if name == "input_ids":
            feed[name] = rng.integers(1000, 2000, size=(batch, seq_len), dtype=np.int64)
        elif name == "attention_mask":
            feed[name] = np.ones((batch, seq_len), dtype=np.int64)
        else:
            feed[name] = np.zeros((batch, seq_len), dtype=np.int64)
    return feed


def _throughput(core: Any, model: Any, seq_len: int, seconds: float, config: dict[str, Any]) -> dict[str, float]:
    import openvino as ov

    compiled = core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "THROUGHPUT", **config})
    streams = int(compiled.get_property("NUM_STREAMS"))
    batch = 8
    feed = _inputs(compiled, batch, seq_len)
    queue = ov.AsyncInferQueue(compiled)
    # Each request specialises the input shape on its first inference; doing that in all of
    # them at once can deadlock the CPU plugin on few cores (ultralytics/ultralytics#25921), so
    # they are warmed one after another before the timed, concurrent loop.
    for index in range(len(queue)):
        queue[index].infer(feed)
    done = [0]
    queue.set_callback(lambda request, _: done.__setitem__(0, done[0] + batch))
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        queue.start_async(feed)
    queue.wait_all()
    elapsed = time.perf_counter() - start
    return {"samples_per_second": round(done[0] / elapsed, 2), "batch": batch, "streams": streams}


def benchmark_ir(ir_dir: str | Path, *, seq_len: int = 128, seconds: float = 10.0,
                 xml_name: str = "openvino_model.xml") -> PerformanceResult:
    import openvino as ov

    xml = Path(ir_dir) / xml_name
    if not xml.is_file() or not xml.with_suffix(".bin").is_file():
        raise BadInputError(f"{ir_dir} holds no complete OpenVINO IR (openvino_model.xml + .bin)",
                            "Pass the output folder of `publisher export` or `publisher publish`")
    start = time.perf_counter()
    core = ov.Core()
    model = core.read_model(str(xml))

    compiled = core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    feed = _inputs(compiled, 1, seq_len)
    for _ in range(3):
        request.infer(feed)
    times = []
    t_end = time.perf_counter() + seconds / 2
    while time.perf_counter() < t_end or len(times) < 10:
        t0 = time.perf_counter()
        request.infer(feed)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    latency = {"median": round(statistics.median(times), 3),
               "p90": round(times[int(0.9 * (len(times) - 1))], 3),
               "min": round(times[0], 3), "runs": len(times)}

    throughput = _throughput(core, model, seq_len, seconds / 2, {})
    if cpu_has_amx():
        rate = 0.8
        sparse = {"supported": True, "rate": rate,
                  **_throughput(core, model, seq_len, seconds / 2,
                                {"CPU_SPARSE_WEIGHTS_DECOMPRESSION_RATE": rate})}
    else:
        sparse = {"supported": False,
                  "reason": "this CPU has no AMX; OpenVINO's sparse-weight decompression only "
                            "speeds up inference on CPUs with AMX (Intel Xeon 4th gen and later)"}
    return PerformanceResult(
        cpu=str(core.get_property("CPU", "FULL_DEVICE_NAME")),
        openvino=ov.get_version(),
        sequence_length=seq_len,
        latency_ms=latency,
        throughput=throughput,
        sparse_decompression=sparse,
        seconds=round(time.perf_counter() - start, 2),
    )


def benchmark_llm(ir_dir: str | Path, **kwargs: Any) -> Any:
    """TTFT and decode throughput of an LLM release (``publisher.bench_llm``; issue 12)."""
    from publisher.bench_llm import benchmark_llm as run

    return run(ir_dir, **kwargs)
