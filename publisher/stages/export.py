"""Stage 2: export the loaded torch model to OpenVINO IR with optimum-intel.

The export runs from the in-memory model (so NNCF masks folded in by the load stage are what gets
exported), into a staging folder that is moved into place only when complete: an interrupted or
failed export never leaves a half-written IR where a release is assembled.

INT8 weights are applied by optimum-intel's ``OVWeightQuantizationConfig(bits=8)`` on the exported
IR (``main_export(ov_config=...)`` silently writes fp32 in optimum-intel 2.2).
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

from publisher.errors import BadInputError
from publisher.results import ExportResult, FileDigest, WeightCompression

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


@contextlib.contextmanager
def _staged(staging_dir: Path, output_dir: Path) -> Iterator[tuple[Path, Path]]:
    """A fresh staging folder: ``raw`` (created) for the plain export, ``final`` for the release.

    Removed whatever happens, so an interrupted or failed export leaves no half-written IR; a disk
    error is bad input that names the fix.
    """
    shutil.rmtree(staging_dir, ignore_errors=True)
    raw = staging_dir / "fp32"
    try:
        raw.mkdir(parents=True)
        yield raw, staging_dir / "ir"
    except OSError as exc:
        raise _disk_error(exc, output_dir) from exc
    finally:
        shutil.rmtree(staging_dir, ignore_errors=True)


def _move_into_place(final: Path, output_dir: Path) -> list[str]:
    """Move a complete staged export into ``output_dir``; the relative paths moved, sorted."""
    written = sorted(p.relative_to(final).as_posix() for p in final.rglob("*") if p.is_file())
    output_dir.mkdir(parents=True, exist_ok=True)
    for rel in written:
        (output_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (final / rel).replace(output_dir / rel)
    return written


def _digests(output_dir: Path, written: list[str]) -> list[FileDigest]:
    from publisher.digest import sha256_file

    return [FileDigest(rel, sha256_file(output_dir / rel), (output_dir / rel).stat().st_size)
            for rel in written]


def export_ir(
    model: Any,
    tokenizer: Any,
    output_dir: Path,
    *,
    weight_format: str = "int8",
    staging_dir: Path,
    optimum_task: str = "text-classification",
    ov_model_class: str = "OVModelForSequenceClassification",
) -> ExportResult:
    """Write ``openvino_model.xml/.bin``, ``config.json`` and the tokenizer files to ``output_dir``.

    An encoder of any task: ``optimum_task`` is optimum-intel's export task, ``ov_model_class`` the
    ``optimum.intel`` class that loads (and compresses) its IR."""
    if weight_format == "int4":
        raise BadInputError(
            "--weight-format int4 is for causal language models; this checkpoint is a text "
            "classifier. INT4 group-wise weights pay off where decoding is bound by reading the "
            "weights of a large model token after token; an encoder classifier runs each input once, "
            "is not bound by that, and would only lose accuracy",
            "Use --weight-format int8 (the default) for a classifier",
        )
    if weight_format not in WEIGHT_FORMATS:
        raise BadInputError(
            f"Unknown weight format {weight_format!r}", f"Use one of {', '.join(WEIGHT_FORMATS)}"
        )
    import openvino as ov
    from optimum.exporters.openvino.convert import export_from_model

    start = time.perf_counter()
    with _staged(staging_dir, output_dir) as (raw, final):
        export_from_model(model, str(raw), task=optimum_task)
        final.mkdir()
        if weight_format == "int8":
            import optimum.intel
            from optimum.intel import OVWeightQuantizationConfig

            quantized = getattr(optimum.intel, ov_model_class).from_pretrained(
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
        written = _move_into_place(final, output_dir)

    files = _digests(output_dir, written)
    return ExportResult(
        output_dir=str(output_dir),
        weight_format=weight_format,
        files=files,
        versions=library_versions(),
        seconds=round(time.perf_counter() - start, 3),
        quantizer_ops=quantizer_ops(output_dir / IR_XML),
    )



# --- causal language models (issue 12) -----------------------------------------------------------

LLM_WEIGHT_FORMATS = ("int8", "int4", "fp16", "fp32")
TOKENIZER_IR = ("openvino_tokenizer.xml", "openvino_detokenizer.xml")
_GROUP_SIZES = (128, 64, 32, 16)


def _reduction_sizes(model: Any) -> dict[str, int]:
    """Input size (the axis INT4 groups run along) of every linear weight inside the decoder blocks."""
    import torch

    from publisher.stages.sparsity import in_scope, is_linear

    sizes = {}
    for name, module in model.named_modules():
        if in_scope(name) and is_linear(module):
            w = module.weight
            # transformers' Conv1D (GPT-2) stores the weight as (in, out); nn.Linear as (out, in).
            sizes[name] = int(w.shape[1] if isinstance(module, torch.nn.Linear) else w.shape[0])
    return sizes


def check_group_size(model: Any, group_size: int) -> None:
    """Refuse a group size that does not divide every decoder linear layer's input size.

    NNCF would raise InvalidGroupSizeError deep inside the export (SmolLM2: hidden size 576 and the
    default group size 128); refused up front, the message names the sizes and a group size that
    works, so the user chooses instead of NNCF silently adjusting or skipping layers.
    """
    if group_size in (-1, 0):
        return
    sizes = _reduction_sizes(model)
    bad = {n: s for n, s in sizes.items() if s % group_size}
    if not bad:
        return
    import math

    common = math.gcd(*sizes.values())
    works = [g for g in _GROUP_SIZES if common % g == 0]
    name, size = next(iter(bad.items()))
    suggestion = (f"--group-size {works[0]} divides all of them" if works
                  else "--group-size -1 (per-channel) works for any size")
    raise BadInputError(
        f"INT4 group size {group_size} does not divide the input size of {len(bad)} linear layers "
        f"(first: {name}, {size}; sizes in the model: {', '.join(map(str, sorted(set(sizes.values()))))})",
        f"Pass a group size that divides them all: {suggestion}",
    )


def default_group_size(model: Any) -> int:
    """The group size used when none is given: NNCF's 128, else the largest of the usual sizes that
    divides every decoder linear layer's input size (SmolLM2, hidden size 576: 64), else
    per-channel (-1)."""
    import math

    sizes = _reduction_sizes(model)
    common = math.gcd(*sizes.values()) if sizes else 128
    return next((g for g in _GROUP_SIZES if common % g == 0), -1)


def quantization_config(compression: WeightCompression, calibration_texts: list[str] | None,
                        tokenizer_dir: Path) -> Any:
    """optimum-intel's OVWeightQuantizationConfig for ``compression`` (None for fp16/fp32)."""
    from optimum.intel import OVWeightQuantizationConfig

    if compression.mode not in ("int8", "int4"):
        return None
    kw: dict[str, Any] = {"bits": 8 if compression.mode == "int8" else 4, "sym": compression.sym}
    if compression.mode == "int4":
        kw.update(group_size=compression.group_size if compression.group_size is not None else 128,
                  ratio=compression.ratio if compression.ratio is not None else 1.0)
        if compression.awq:
            kw["quant_method"] = "awq"
        if compression.scale_estimation:
            kw["scale_estimation"] = True
        if compression.backup_mode:
            kw["backup_precision"] = compression.backup_mode
    if needs_data(compression):
        kw.update(dataset=list(calibration_texts or []), tokenizer=str(tokenizer_dir),
                  num_samples=len(calibration_texts or []))
    return OVWeightQuantizationConfig(**kw)


def needs_data(compression: WeightCompression) -> bool:
    """AWQ and scale estimation run on activations, so they need calibration text.

    A ratio below 1 alone stays data-free (NNCF ranks layers by weight quantization error);
    passing data would switch it to activation-based ranking, which nobody asked for.
    """
    return compression.mode == "int4" and (compression.awq or compression.scale_estimation)


def _check_compression(compression: WeightCompression, model: Any,
                       calibration_texts: list[str] | None) -> None:
    if compression.mode not in LLM_WEIGHT_FORMATS:
        raise BadInputError(f"Unknown weight format {compression.mode!r}",
                            f"Use one of {', '.join(LLM_WEIGHT_FORMATS)}")
    int4_only = {"--group-size": compression.group_size is not None,
                 "--ratio": compression.ratio is not None, "--awq": compression.awq,
                 "--scale-estimation": compression.scale_estimation}
    given = [flag for flag, on in int4_only.items() if on]
    if compression.mode != "int4" and given:
        raise BadInputError(f"{', '.join(given)} only apply to INT4 weights, not {compression.mode}",
                            "Add --weight-format int4, or drop those options")
    if compression.mode == "int4":
        if compression.ratio is not None and not 0.0 < compression.ratio <= 1.0:
            raise BadInputError(f"--ratio {compression.ratio} is outside (0, 1]",
                                "Pass the share of layers in INT4, e.g. --ratio 0.8")
        check_group_size(model, compression.group_size if compression.group_size is not None else 128)
    if needs_data(compression) and not calibration_texts:
        raise BadInputError("--awq and --scale-estimation need calibration text, and none was given",
                            "Pass an evaluation text (it is used for calibration), or drop those options")


QUANTIZER_OPS = ("FakeQuantize", "FakeConvert")


def quantizer_ops(ir_xml: Path) -> dict[str, int]:
    """How many FakeQuantize / FakeConvert layers the IR holds (read from its .xml, no model load)."""
    import xml.etree.ElementTree as ET

    counts = dict.fromkeys(QUANTIZER_OPS, 0)
    for _, elem in ET.iterparse(str(ir_xml), events=("end",)):
        if elem.tag == "layer":
            if elem.get("type") in counts:
                counts[elem.get("type")] += 1
            elem.clear()
    return counts


def nncf_rt_info(ir_xml: Path) -> dict[str, str]:
    """NNCF's record of the weight compression it applied, from the IR's rt_info (all strings).

    optimum-intel's openvino_config.json does not say it (2.2 saves an empty pipeline config), but
    NNCF writes mode, group size, ratio, AWQ, scale estimation and backup mode into the model.
    """
    import xml.etree.ElementTree as ET

    for _, elem in ET.iterparse(str(ir_xml), events=("end",)):
        if elem.tag == "weight_compression":
            return {child.tag: child.get("value", "") for child in elem
                    if child.tag != "advanced_parameters"}
        if elem.tag == "layer":
            elem.clear()  # keep memory flat on a large IR
    return {}


def applied_compression(ir_dir: Path, requested: WeightCompression) -> WeightCompression:
    """``requested`` completed with what NNCF recorded in the IR (``applied``: its own words)."""
    import dataclasses

    applied = nncf_rt_info(Path(ir_dir) / IR_XML)
    if not applied:
        return dataclasses.replace(requested, applied={})
    if requested.mode != "int4":
        return dataclasses.replace(requested, applied=applied, sym=applied.get("mode", "").endswith("_sym"))

    def num(key: str, cast: Any, default: Any) -> Any:
        try:
            return cast(applied[key])
        except (KeyError, ValueError):
            return default

    return dataclasses.replace(
        requested, applied=applied,
        group_size=num("group_size", int, requested.group_size),
        ratio=num("ratio", float, requested.ratio),
        sym=applied.get("mode", "").endswith("_sym"),
        awq=applied.get("awq") == "True",
        scale_estimation=applied.get("scale_estimation") == "True",
        backup_mode=applied.get("backup_mode") or requested.backup_mode)


def _scrub_openvino_config(folder: Path) -> None:
    """Drop the staging tokenizer path optimum-intel records (a local path has no place in a release)."""
    import json

    path = folder / "openvino_config.json"
    if not path.is_file():
        return
    cfg = json.loads(path.read_text())
    q = cfg.get("quantization_config")
    if isinstance(q, dict) and q.get("tokenizer"):
        q["tokenizer"] = None
        path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def _convert_tokenizer(tokenizer: Any, folder: Path) -> None:
    import openvino as ov
    from openvino_tokenizers import convert_tokenizer

    try:
        tok_ir, detok_ir = convert_tokenizer(tokenizer, with_detokenizer=True)
    except Exception as exc:  # openvino_tokenizers raises plain Exceptions/OVAny errors
        raise BadInputError(
            f"openvino-tokenizers cannot convert this tokenizer ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); openvino_genai could not run the release",
            "Save a tokenizer.json whose pre-tokenizer and decoder openvino-tokenizers supports "
            "(byte-level BPE, SentencePiece/Metaspace, WordPiece); see recipes/smollm2_from_gguf.py "
            "for a GGUF tokenizer fixed this way",
        ) from exc
    ov.save_model(tok_ir, str(folder / TOKENIZER_IR[0]))
    ov.save_model(detok_ir, str(folder / TOKENIZER_IR[1]))


def export_causal_lm(
    model: Any,
    tokenizer: Any,
    output_dir: Path,
    *,
    compression: WeightCompression,
    staging_dir: Path,
    calibration_texts: list[str] | None = None,
) -> ExportResult:
    """A stateful (KV-cache) OpenVINO LLM release that ``openvino_genai.LLMPipeline`` runs as is.

    Writes ``openvino_model.xml/.bin`` (weights per ``compression``), ``openvino_config.json``,
    ``config.json``, ``generation_config.json``, the tokenizer files and its IR pair
    (``openvino_tokenizer``/``openvino_detokenizer``). The export runs from the in-memory model (NNCF
    masks already folded in) to an fp32 IR, which optimum-intel then compresses with NNCF; it is
    assembled in ``staging_dir`` and moved into ``output_dir`` only when complete.
    """
    _check_compression(compression, model, calibration_texts)
    import openvino as ov
    from optimum.exporters.openvino.convert import export_from_model

    start = time.perf_counter()
    with _staged(staging_dir, output_dir) as (raw, final):
        export_from_model(model, str(raw), task="text-generation-with-past", stateful=True)
        # The calibration data is tokenized by optimum from a folder: the tokenizer must be there.
        tokenizer.save_pretrained(str(raw))
        qconfig = quantization_config(compression, calibration_texts, raw)
        if qconfig is not None:
            from optimum.intel import OVModelForCausalLM

            quantized = OVModelForCausalLM.from_pretrained(
                str(raw), quantization_config=qconfig, compile=False)
            quantized.save_pretrained(str(final))
            del quantized
            _scrub_openvino_config(final)
        else:
            final.mkdir()
            ov_model = ov.Core().read_model(str(raw / IR_XML))
            ov.save_model(ov_model, str(final / IR_XML),
                          compress_to_fp16=compression.mode == "fp16")
            for name in ("config.json", "generation_config.json"):
                if (raw / name).is_file():
                    shutil.copy2(raw / name, final / name)
        if not (final / "generation_config.json").is_file() and getattr(model, "generation_config", None):
            model.generation_config.save_pretrained(str(final))
        tokenizer.save_pretrained(str(final))
        _convert_tokenizer(tokenizer, final)
        shutil.rmtree(raw)
        written = _move_into_place(final, output_dir)

    files = _digests(output_dir, written)
    versions = library_versions()
    for name in ("openvino-tokenizers", "openvino-genai"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return ExportResult(
        output_dir=str(output_dir),
        weight_format=compression.mode,
        files=files,
        versions=versions,
        seconds=round(time.perf_counter() - start, 3),
        quantizer_ops=quantizer_ops(output_dir / IR_XML),
    )
