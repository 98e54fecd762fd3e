"""Where a measurement was made: what a re-check on another machine must know to judge a difference.

OpenVINO's CPU plugin picks kernels and its default inference precision from the CPU's instruction
sets (bf16 on CPUs with AVX512-BF16 or AMX), so the same IR can give slightly different figures on
two machines; the ledger records these facts next to every figure.
"""

from __future__ import annotations

import platform
from pathlib import Path

from publisher.cpus import available_cpus
from publisher.results import MeasurementEnvironment

# The flags that select different OpenVINO CPU kernels or precisions.
RELEVANT_ISA = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16",
                "avx_vnni", "amx_tile", "amx_int8", "amx_bf16", "amx_fp16")


def _cpuinfo() -> tuple[str, set[str]]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or platform.machine(), set()
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    return model or platform.machine(), flags


def cpu_model() -> str:
    return _cpuinfo()[0]


def current_environment(versions: dict[str, str]) -> MeasurementEnvironment:
    import openvino as ov

    model, flags = _cpuinfo()
    try:
        precision = ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT").get_type_name()
    except RuntimeError:
        precision = ""
    return MeasurementEnvironment(
        versions=dict(sorted(versions.items())),
        cpu=model,
        isa=[flag for flag in RELEVANT_ISA if flag in flags],
        threads=available_cpus(),
        inference_precision=precision,
        platform=platform.platform(terse=True),
    )
