"""Stage 2: export the loaded torch model to OpenVINO IR with optimum-intel.

The export runs from the in-memory model (so NNCF masks folded in by the load stage are what gets
exported), into a staging folder that is moved into place only when complete: an interrupted or
failed export never leaves a half-written IR where a release is assembled.

INT8 weights are applied by optimum-intel's ``OVWeightQuantizationConfig(bits=8)`` on the exported
IR (``main_export(ov_config=...)`` silently writes fp32 in optimum-intel 2.2).
"""

from __future__ import annotations

import errno
import shutil
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from publisher.errors import BadInputError
from publisher.results import ExportResult, FileDigest

WEIGHT_FORMATS = ("int8", "fp16", "fp32")
IR_XML = "openvino_model.xml"
IR_BIN = "openvino_model.bin"
_VERSIONED = ("openvino", "optimum-intel", "optimum", "nncf", "transformers", "torch")


def library_versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in _VERSIONED}


def _disk_error(exc: OSError, where: Path) -> BadInputError:
    if exc.errno == errno.ENOSPC:
        return BadInputError(
            f"The disk is full: the export to {where} could not be written. Nothing was published "
            "and the partial export was removed",
            "Free disk space (a bert-base INT8 export needs about 0.6 GB while it runs) or pass "
            "--output on another disk, then re-run",
        )
    if exc.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
        return BadInputError(
            f"The output folder {where} is not writable ({exc.strerror})",
            "Pass --output with a folder you can write to",
        )
    return BadInputError(f"Writing the export to {where} failed: {exc}", "Check the output folder")


def export_ir(
    model: Any,
    tokenizer: Any,
    output_dir: Path,
    *,
    weight_format: str = "int8",
    staging_dir: Path,
) -> ExportResult:
    """Write ``openvino_model.xml/.bin``, ``config.json`` and the tokenizer files to ``output_dir``."""
    if weight_format not in WEIGHT_FORMATS:
        raise BadInputError(
            f"Unknown weight format {weight_format!r}", f"Use one of {', '.join(WEIGHT_FORMATS)}"
        )
    import openvino as ov
    from optimum.exporters.openvino.convert import export_from_model

    start = time.perf_counter()
    raw = staging_dir / "fp32"
    final = staging_dir / "ir"
    shutil.rmtree(staging_dir, ignore_errors=True)
    try:
        raw.mkdir(parents=True)
        export_from_model(model, str(raw), task="text-classification")
        final.mkdir()
        if weight_format == "int8":
            from optimum.intel import OVModelForSequenceClassification, OVWeightQuantizationConfig

            quantized = OVModelForSequenceClassification.from_pretrained(
                str(raw), quantization_config=OVWeightQuantizationConfig(bits=8), compile=False
            )
            quantized.save_pretrained(str(final))
            del quantized
        else:
            ov_model = ov.Core().read_model(str(raw / IR_XML))
            ov.save_model(ov_model, str(final / IR_XML), compress_to_fp16=weight_format == "fp16")
            shutil.copy2(raw / "config.json", final / "config.json")
        tokenizer.save_pretrained(str(final))
        shutil.rmtree(raw)
        written = sorted(p.relative_to(final).as_posix() for p in final.rglob("*") if p.is_file())
        output_dir.mkdir(parents=True, exist_ok=True)
        for rel in written:
            (output_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (final / rel).replace(output_dir / rel)
    except OSError as exc:
        shutil.rmtree(staging_dir, ignore_errors=True)
        raise _disk_error(exc, output_dir) from exc
    finally:
        shutil.rmtree(staging_dir, ignore_errors=True)

    from publisher.stages.load import sha256_file

    files = [FileDigest(rel, sha256_file(output_dir / rel), (output_dir / rel).stat().st_size)
             for rel in written]
    return ExportResult(
        output_dir=str(output_dir),
        weight_format=weight_format,
        files=files,
        versions=library_versions(),
        seconds=round(time.perf_counter() - start, 3),
    )
