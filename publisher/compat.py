"""Run an OpenVINO IR under other OpenVINO releases and compare its outputs (``--openvino``).

The card's "works with OpenVINO X and higher" line may name only releases the IR actually ran on.
Each named release is installed, once, into its own cached virtual environment holding only
``openvino`` and ``numpy`` (never torch); ``compat_runner.py`` runs the IR there on a few token-id
rows, and the same script under the current interpreter gives the reference. Every run forces f32
inference, so a difference comes from the release, not from a precision default.

``inputs_sha256`` is the SHA-256 of ``json.dumps(rows)`` (UTF-8, default separators): a re-check that
feeds the same rows gets the same digest.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from publisher.compat_runner import one_paragraph
from publisher.cpus import available_cpus
from publisher.errors import BadInputError, PublisherError
from publisher.results import CompatibilityResult, CompatibilityRun

RUNNER = Path(__file__).with_name("compat_runner.py")
MARKER = "publisher-openvino.json"
INSTALL_TIMEOUT_S = 1800
RUN_TIMEOUT_S = 900
PRECISION = "f32"
_VERSION = re.compile(r"\d{4}\.\d+(\.\d+)?")


def parse_versions(text: str) -> list[str]:
    """``"2025.0, 2025.4,2026.4"`` -> ``["2025.0", "2025.4", "2026.4"]`` (order kept, repeats dropped)."""
    items = [part.strip() for part in (text or "").split(",")]
    bad = [item for item in items if not _VERSION.fullmatch(item)]
    if not text or not text.strip() or bad:
        shown = ", ".join(repr(b) for b in bad) if any(bad) else "an empty list"
        raise BadInputError(
            f"--openvino got {shown}, which is not a comma-separated list of OpenVINO releases",
            "Name releases as YEAR.MINOR or YEAR.MINOR.PATCH, e.g. --openvino 2025.0,2025.4,2026.4",
        )
    return list(dict.fromkeys(items))


def pip_spec(version: str) -> str:
    """``"2025.0"`` -> ``"openvino==2025.0.*"`` (newest patch); ``"2025.4.1"`` -> that exact release."""
    return f"openvino=={version}.*" if version.count(".") == 1 else f"openvino=={version}"


def default_cache_dir() -> Path:
    if os.environ.get("PUBLISHER_CACHE"):
        return Path(os.environ["PUBLISHER_CACHE"]) / "openvino-envs"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "publisher" / "openvino-envs"


# --- inputs ------------------------------------------------------------------------------------


def feeds_for_ir(xml_path: Path, rows: list[list[int]]) -> list[dict[str, Any]]:
    """The IR's inputs for each token-id row (batch of one), named as the IR names them."""
    import numpy as np
    import openvino as ov

    rows = token_rows(rows)
    try:
        model = ov.Core().read_model(str(xml_path))
    except RuntimeError as exc:
        raise BadInputError(f"The IR {xml_path} does not run on the current OpenVINO: "
                            f"read_model failed: {one_paragraph(exc)}",
                            "Export the model again before checking other releases") from None
    feeds: list[dict[str, Any]] = [{} for _ in rows]
    for port in model.inputs:
        names = port.get_names()
        dtype = port.get_element_type().to_dtype()
        for feed, row in zip(feeds, rows):
            n = len(row)
            if "input_ids" in names:
                name, value = "input_ids", np.asarray([row])
            elif "attention_mask" in names:
                name, value = "attention_mask", np.ones((1, n))
            elif "token_type_ids" in names:
                name, value = "token_type_ids", np.zeros((1, n))
            elif "position_ids" in names:
                name, value = "position_ids", np.arange(n)[None, :]
            elif "beam_idx" in names:
                name, value = "beam_idx", np.zeros((1,))
            else:
                raise BadInputError(
                    f"The IR {xml_path.name} has an input the compatibility check cannot fill: "
                    f"{port.get_any_name()} (it fills input_ids, attention_mask, token_type_ids, "
                    "position_ids and beam_idx)",
                    "Leave out --openvino for this model, or export it without that input",
                )
            feed[name] = value.astype(dtype)
    return feeds


def token_rows(rows: list[list[int]]) -> list[list[int]]:
    """The rows as plain ints (a tokenizer may give numpy integers); empty or non-integer rows refused."""
    if not rows or any(not len(row) or not all(isinstance(t, numbers.Integral) for t in row) for row in rows):
        raise BadInputError("The compatibility check needs non-empty rows of integer token ids",
                            "Pass the tokenized evaluation rows (lists of ints)")
    return [[int(t) for t in row] for row in rows]


def rows_sha256(rows: list[list[int]]) -> str:
    return hashlib.sha256(json.dumps(token_rows(rows)).encode("utf-8")).hexdigest()


# --- environments ------------------------------------------------------------------------------


def _python_in(env: Path) -> Path:
    return env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _child_env() -> dict[str, str]:
    # The child needs no Hub credentials; pip keeps its own settings (PIP_*) and the user's config.
    return {k: v for k, v in os.environ.items()
            if "TOKEN" not in k.upper() or k.upper().startswith("PIP_")}


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines()
             if ln.strip() and not ln.lstrip().startswith("[notice]")]
    errors = [ln for ln in lines if ln.startswith("ERROR:")]
    return ((errors or lines or ["(no output)"])[-1])[:300]


def _run(cmd: list[str], timeout: int, what: str) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout, env=_child_env())
    except subprocess.TimeoutExpired:
        raise BadInputError(f"{what} did not finish within {timeout} s",
                            "Check the network and pip settings, then run again") from None
    if done.returncode != 0:
        raise BadInputError(f"{what} failed: {_last_line(done.stderr or done.stdout)}",
                            "Check that this release exists on the package index for this Python "
                            "(pip index versions openvino), or leave it out of --openvino")
    return done


def environment_for(version: str, cache_dir: Path, progress: Callable[[str], None] | None = None) -> Path:
    """The python of a cached venv holding ``pip_spec(version)`` and numpy; created on first use.

    It is built in a scratch folder and renamed into place only once openvino imports, so a failed
    or interrupted install leaves nothing that a later run would mistake for a ready environment.
    """
    parse_versions(version)  # the name becomes a folder name: nothing but digits and dots
    cache_dir = Path(cache_dir)
    env = cache_dir / f"openvino-{version}"
    if (env / MARKER).is_file() and _python_in(env).exists():
        return _python_in(env)
    if env.exists():
        shutil.rmtree(env)  # left by hand or by an older layout: not known to be complete
    cache_dir.mkdir(parents=True, exist_ok=True)
    if progress:
        progress(f"installing OpenVINO {version} into {env} (first use)…")
    scratch = Path(tempfile.mkdtemp(prefix=f".building-{version}-", dir=cache_dir))
    try:
        _run([sys.executable, "-m", "venv", str(scratch)], 300, f"Creating a virtual environment for OpenVINO {version}")
        python = _python_in(scratch)
        _run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
              pip_spec(version), "numpy"], INSTALL_TIMEOUT_S, f"pip install {pip_spec(version)}")
        probe = _run([str(python), "-I", "-c",
                      "from importlib.metadata import version; import openvino; print(version('openvino'))"],
                     300, f"Importing OpenVINO {version}")
        installed = probe.stdout.strip().splitlines()[-1]
        (scratch / MARKER).write_text(json.dumps({"requested": version, "openvino": installed}) + "\n")
        try:
            scratch.rename(env)
        except OSError:
            if not (env / MARKER).is_file():  # another process did not win the race: a real error
                raise
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return _python_in(env)


# --- runs --------------------------------------------------------------------------------------


def _run_ir(python: Path, xml_path: Path, inputs: Path, workdir: Path, tag: str) -> tuple[dict, dict]:
    """(info, outputs) of the runner under ``python``; ``info["error"]`` says why when it failed."""
    import numpy as np

    outputs, info_path = workdir / f"{tag}.npz", workdir / f"{tag}.json"
    cmd = [str(python), "-I", str(RUNNER), str(xml_path), str(inputs), str(outputs), str(info_path),
           "--threads", str(available_cpus())]
    try:
        done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                              env=_child_env(), cwd=workdir)
    except subprocess.TimeoutExpired:
        return {"error": f"the run did not finish within {RUN_TIMEOUT_S} s"}, {}
    except OSError as exc:
        return {"error": f"cannot start {python}: {exc.strerror or exc}"}, {}
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    if done.returncode != 0 or "error" in info:
        # A crash in the plugin (signal) writes no JSON: stderr is all there is.
        info.setdefault("error", f"exit code {done.returncode}: {_last_line(done.stderr)}")
        return info, {}
    with np.load(outputs) as data:
        return info, {k: data[k] for k in data.files}


def compare(outputs: dict, reference: dict) -> tuple[float, float, str]:
    """(top-1 agreement, max |diff|, reason or "") of ``outputs`` against ``reference``, row by row."""
    import numpy as np

    if sorted(outputs) != sorted(reference):
        return 0.0, float("inf"), f"{len(outputs)} outputs for {len(reference)} inputs"
    broken = [k for k, out in outputs.items() if not np.isfinite(out).all()]
    if broken:
        return 0.0, float("inf"), f"outputs hold NaN or infinity ({len(broken)} of {len(outputs)} inputs)"
    same = positions = 0
    diff = 0.0
    for key, ref in reference.items():
        out = outputs[key]
        if out.shape != ref.shape:
            return 0.0, float("inf"), f"output shape {list(out.shape)}, reference {list(ref.shape)}"
        last = ref.shape[-1]
        same += int((out.reshape(-1, last).argmax(-1) == ref.reshape(-1, last).argmax(-1)).sum())
        positions += ref.size // last
        diff = max(diff, float(np.abs(out - ref).max()))
    return same / positions, diff, ""


def check_versions(
    xml_path: Path,
    rows: list[list[int]],
    versions: list[str],
    *,
    cache_dir: Path | None = None,
    min_top1_agreement: float = 0.98,
    inputs_description: str = "",
    progress: Callable[[str], None] | None = None,
    python_for: Callable[[str], Path] | None = None,
) -> CompatibilityResult:
    """Run the IR under each release in ``versions`` and compare with the current release's outputs.

    A release that cannot be installed, read or compiled is a failed run with its reason; only a
    reference run that fails (the IR does not run on the current release) raises BadInputError.
    ``python_for(version)`` gives the interpreter for a release (default: its cached environment).
    """
    import numpy as np

    xml_path = Path(xml_path)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    python_for = python_for or (lambda v: environment_for(v, cache, progress))
    feeds = feeds_for_ir(xml_path, rows)
    with tempfile.TemporaryDirectory(prefix="publisher-compat-") as tmp:
        work = Path(tmp)
        inputs = work / "inputs.npz"
        np.savez(inputs, **{f"row{i}.{name}": v for i, feed in enumerate(feeds) for name, v in feed.items()})
        info, reference = _run_ir(Path(sys.executable), xml_path.resolve(), inputs, work, "reference")
        if "error" not in info and not all(np.isfinite(v).all() for v in reference.values()):
            info["error"] = "its outputs hold NaN or infinity"
        if "error" in info:
            raise BadInputError(f"The IR {xml_path} does not run on the current OpenVINO: {info['error']}",
                                "Export the model again before checking other releases")
        runs = []
        for i, version in enumerate(versions):
            runs.append(_check_one(version, python_for, xml_path.resolve(), inputs, work, f"v{i}",
                                   reference, len(rows), min_top1_agreement, progress))
    return CompatibilityResult(
        reference=info["openvino"]["release"], inputs=inputs_description or f"{len(rows)} rows",
        inputs_sha256=rows_sha256(rows), inference_precision=PRECISION,
        min_top1_agreement=min_top1_agreement, runs=runs)


def _check_one(version, python_for, xml_path, inputs, work, tag, reference, samples, minimum,
               progress) -> CompatibilityRun:
    start = time.perf_counter()

    def failed(reason: str, installed: str | None = None) -> CompatibilityRun:
        return CompatibilityRun(requested=version, version=installed, passed=False, reason=reason,
                                samples=samples, seconds=round(time.perf_counter() - start, 2))

    try:
        python = python_for(version)
    except PublisherError as exc:
        return failed(exc.problem)
    except (OSError, subprocess.SubprocessError) as exc:
        return failed(f"cannot prepare an environment for OpenVINO {version}: {exc}")
    if progress:
        progress(f"running the IR on OpenVINO {version}…")
    info, outputs = _run_ir(Path(python), xml_path, inputs, work, tag)
    installed = (info.get("openvino") or {}).get("release")
    if "error" in info:
        return failed(info["error"], installed)
    agreement, diff, problem = compare(outputs, reference)
    if not problem and agreement < minimum:
        problem = f"top-1 agreement {agreement:.4f} is below {minimum} (max |diff| {diff:.3g})"
    return CompatibilityRun(requested=version, version=installed, passed=not problem, reason=problem,
                            samples=samples, top1_agreement=agreement,
                            max_abs_diff=None if diff == float("inf") else diff,
                            seconds=round(time.perf_counter() - start, 2))


ROWS = 8  # inputs per release: enough to catch a broken op, few enough for old releases to run quickly
ROW_TOKENS = 128


def evaluation_rows(tokenizer: Any, sample: list[str] | str, name: str) -> tuple[list[list[int]], str]:
    """Token-id rows from the release's evaluation data, and what they are in words: the first
    ``ROWS`` rows of a classifier's data, or ``ROWS`` consecutive windows of ``ROW_TOKENS`` tokens of
    a language model's text. Publish and a later verify feed the same rows (``rows_sha256``)."""
    if isinstance(sample, str):
        ids = [int(t) for t in tokenizer(sample)["input_ids"]]
        rows = [ids[i:i + ROW_TOKENS] for i in range(0, min(len(ids), ROWS * ROW_TOKENS), ROW_TOKENS)]
        rows = [r for r in rows if len(r) > 1]
        return rows, f"{len(rows)} windows of up to {ROW_TOKENS} tokens from the start of {name}"
    rows = [[int(t) for t in tokenizer(text, truncation=True, max_length=ROW_TOKENS)["input_ids"]]
            for text in sample[:ROWS]]
    return rows, f"the first {len(rows)} rows of {name}"


def bundled_rows(tokenizer: Any) -> tuple[list[list[int]], str]:
    """Rows of the bundled SST-2 sentences, for a repo whose evaluation data is unknown."""
    from publisher.stages.text_data import bundled_text_path

    sentences = [line for line in bundled_text_path().read_text(encoding="utf-8").splitlines() if line.strip()]
    return evaluation_rows(tokenizer, sentences, "the bundled GLUE SST-2 validation sentences")
