"""Run an OpenVINO IR on prepared inputs and save its first output: the worker of ``publisher.compat``.

Executed as a script by the interpreter of an isolated environment that holds only ``openvino`` and
``numpy`` (any release), so it imports nothing from ``publisher`` and uses no API newer than the
oldest release it is meant to run under.

    python -I compat_runner.py MODEL.xml INPUTS.npz OUTPUTS.npz INFO.json [--threads N]

INPUTS.npz holds ``row<i>.<input name>`` arrays; OUTPUTS.npz gets ``row<i>`` (the model's first
output for row i). INFO.json gets the OpenVINO version, the compile settings that applied and, on
failure, ``error`` (one paragraph); the exit code is then 2.
"""

from __future__ import annotations

import json
import sys
import traceback

# Every release runs the same precision, so a difference in outputs comes from the release itself.
# The KV-cache and dynamic-quantization settings are CPU defaults that changed between releases.
PRECISION = {
    "INFERENCE_PRECISION_HINT": "f32",
    "KV_CACHE_PRECISION": "f32",
    "DYNAMIC_QUANTIZATION_GROUP_SIZE": "0",
}


def one_paragraph(exc: BaseException) -> str:
    # OpenVINO messages start with "Exception from src/...cpp:NN:" lines that locate the C++ code
    # rather than the problem; the rest is what a user can act on.
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith("Exception from src")] or lines
    text = " ".join(useful) or type(exc).__name__
    return text[:400]


def _versions(ov) -> dict:
    info = {"get_version": ov.get_version(), "__version__": getattr(ov, "__version__", None)}
    try:
        from importlib.metadata import version

        info["release"] = version("openvino")
    except Exception:  # noqa: BLE001 (a source build has no distribution metadata)
        info["release"] = (info["__version__"] or info["get_version"]).split("-")[0]
    return info


def _rows(inputs: dict) -> list[dict]:
    rows: dict[int, dict] = {}
    for key, value in inputs.items():
        row, name = key.split(".", 1)
        rows.setdefault(int(row[3:]), {})[name] = value
    return [rows[i] for i in sorted(rows)]


def run(xml: str, inputs_path: str, outputs_path: str, threads: int | None) -> dict:
    import numpy as np
    import openvino as ov

    info: dict = {"openvino": _versions(ov)}
    core = ov.Core()
    stage = "read_model"
    try:
        model = core.read_model(xml)
        stage = "compile_model"
        supported = set(core.get_property("CPU", "SUPPORTED_PROPERTIES"))
        config = {k: v for k, v in PRECISION.items() if k in supported}
        if threads and "INFERENCE_NUM_THREADS" in supported:
            config["INFERENCE_NUM_THREADS"] = str(threads)
        info["config"] = config
        info["ignored"] = sorted(set(PRECISION) - set(config))
        compiled = core.compile_model(model, "CPU", config)
        stage = "infer"
        request = compiled.create_infer_request()
        stateful = bool(model.get_sinks()) if hasattr(model, "get_sinks") else False
        with np.load(inputs_path) as data:
            rows = _rows({k: data[k] for k in data.files})
        outputs = {}
        for i, feed in enumerate(rows):
            if stateful:
                request.reset_state()
            result = request.infer(feed)
            outputs[f"row{i}"] = np.array(result[compiled.outputs[0]], dtype=np.float32)
        np.savez(outputs_path, **outputs)
        info["samples"] = len(rows)
    except Exception as exc:  # noqa: BLE001 (any failure is the answer for this release: reported, not raised)
        info["error"] = f"{stage} failed: {one_paragraph(exc)}"
        info["traceback"] = traceback.format_exc()[-2000:]
    return info


def main(argv: list[str]) -> int:
    args = list(argv)
    threads = None
    if "--threads" in args:
        at = args.index("--threads")
        threads = int(args[at + 1])
        del args[at:at + 2]
    if len(args) != 4:
        print(__doc__, file=sys.stderr)
        return 64
    xml, inputs_path, outputs_path, info_path = args
    try:
        info = run(xml, inputs_path, outputs_path, threads)
    except Exception as exc:  # noqa: BLE001 (openvino or numpy cannot even be imported)
        info = {"error": f"import failed: {one_paragraph(exc)}"}
    with open(info_path, "w", encoding="utf-8") as fh:
        json.dump(info, fh, indent=1)
    return 2 if "error" in info else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
