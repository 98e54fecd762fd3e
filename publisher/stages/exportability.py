"""Can optimum-intel export this checkpoint? Asked of the installed libraries before any work starts.

optimum-intel refuses some architectures only once the model is loaded and the export has begun
(``optimum.exporters.openvino.convert.export_from_model`` and ``export_models``): a model type it
has dropped ("... is not officially supported by optimum-intel and has been removed"), a model type
it has no OpenVINO export configuration for, a task the configuration does not offer, or an export
configuration whose ``MIN_TRANSFORMERS_VERSION`` / ``MAX_TRANSFORMERS_VERSION`` excludes the
installed transformers ("The current version of Transformers does not allow for the export of the
model. Maximum required is ..."). ``check_exportable`` makes the same checks, in the same order,
from config.json alone: the answers come from optimum's ``TasksManager`` registry (filled by
importing ``optimum.exporters.openvino``), optimum-intel's own set of removed architectures and the
bounds on the export configuration built for this config. No weights are read and nothing is
exported; a refusal is bad input whose message names the library, its version, what it says and
the fix.
"""

from __future__ import annotations

import contextlib
import difflib
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

from publisher.errors import BadInputError

EXPORTER = "openvino"
LIBRARY = "transformers"  # optimum's library name for a transformers checkpoint
_EXAMPLES = 4  # exportable alternatives named in a refusal


@dataclass(frozen=True)
class Refusal:
    """Why optimum-intel would refuse the export: ``says`` is its own message."""

    says: str
    limit: str  # what the limit is, in publisher's words
    fix: str  # what the user can do about this kind of limit


def check_exportable(config: dict[str, Any], optimum_task: str, folder: Path) -> None:
    """Refuse (BadInputError) a checkpoint that the installed optimum-intel cannot export for
    ``optimum_task`` (the task's ``optimum_task``), judged from its config.json ``config`` alone.

    A config without a model_type, or with one that transformers does not know, passes: loading
    the checkpoint explains those (transformers cannot build it) better than optimum-intel would.
    """
    model_type = config.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        return
    from transformers import CONFIG_MAPPING

    if model_type not in CONFIG_MAPPING:
        return
    refusal = export_refusal(config, optimum_task)
    if refusal is None:
        return
    versions = _versions()
    archs = config.get("architectures") or []
    what = f"a {model_type} model ({archs[0]})" if archs else f"a {model_type} model"
    others = exportable_alternatives(model_type, optimum_task)
    if others:
        instead = (f"or release a checkpoint of an architecture that optimum-intel "
                   f"{versions['optimum-intel']} exports for {optimum_task} with these versions "
                   f"(for example {', '.join(others)})")
    else:
        instead = "or release a checkpoint of another architecture"
    raise BadInputError(
        f"The checkpoint in {folder} is {what}, which optimum-intel {versions['optimum-intel']} "
        f"(with optimum {versions['optimum']} and transformers {versions['transformers']}) cannot "
        f"export to OpenVINO for {optimum_task}: {refusal.limit}. optimum-intel says: "
        f"\"{refusal.says.rstrip('.')}\". Nothing was loaded or exported",
        f"{refusal.fix}, {instead}",
    )


def export_refusal(config: dict[str, Any], optimum_task: str) -> Refusal | None:
    """What optimum-intel would refuse the export of this config for ``optimum_task`` with, or None.

    The checks of ``export_from_model`` (removed, unregistered and CLI-unsupported model types; a
    text-generation task on an encoder-decoder), of ``TasksManager.get_exporter_config_constructor``
    (the task) and of ``export_models`` (the transformers bounds of the export configuration).
    """
    with _quiet():
        from optimum.exporters.openvino.utils import ONNX_SUPPORTED_ARCHITECTURES
        from optimum.exporters.tasks import TasksManager
        from optimum.intel.utils.import_utils import is_transformers_version

    versions = _versions()
    oi, tf = versions["optimum-intel"], versions["transformers"]
    model_type = str(config.get("model_type") or "")
    if model_type in ONNX_SUPPORTED_ARCHITECTURES:
        return Refusal(
            says=f"The OpenVINO export of {model_type} models is not officially supported by "
                 "optimum-intel and has been removed.",
            limit=f"optimum-intel {oi} has removed the OpenVINO export of {model_type} models (it "
                  "lists the model type among the architectures whose support it dropped)",
            fix=f"Publish with an optimum-intel release that exports {model_type} models to OpenVINO "
                "again (its TasksManager registers the model type for the openvino exporter)",
        )
    if model_type not in TasksManager._LIBRARY_TO_SUPPORTED_MODEL_TYPES[LIBRARY]:
        return Refusal(
            says=f"Trying to export a {model_type} model, that is a custom or unsupported "
                 "architecture, but no custom export configuration was passed as "
                 "`custom_export_configs`.",
            limit=f"optimum-intel {oi} has no OpenVINO export configuration for model type "
                  f"{model_type!r}",
            fix=f"Publish with an optimum-intel release that registers an OpenVINO export "
                f"configuration for {model_type}",
        )
    if model_type in TasksManager._UNSUPPORTED_CLI_MODEL_TYPE:
        return Refusal(
            says=f"{model_type} is not supported yet.",
            limit=f"optimum-intel {oi} does not export {model_type} models on their own",
            fix=f"Publish with an optimum-intel release that exports {model_type} models",
        )
    if optimum_task.startswith("text-generation") and config.get("is_encoder_decoder"):
        return Refusal(
            says=f"model.config.is_encoder_decoder is True and task is `{optimum_task}`, which are "
                 "incompatible.",
            limit="the checkpoint is an encoder-decoder, which optimum-intel does not export as a "
                  "causal language model",
            fix="Save the decoder alone as a causal language model",
        )
    try:
        constructor = TasksManager.get_exporter_config_constructor(
            exporter=EXPORTER, task=optimum_task, model_type=model_type, library_name=LIBRARY)
    except (KeyError, ValueError) as exc:
        says = str(exc.args[0]) if exc.args else str(exc)
        return Refusal(
            says=says,
            limit=f"optimum-intel {oi}'s OpenVINO export configuration for {model_type} does not "
                  f"offer the task {optimum_task}",
            fix=f"Publish with an optimum-intel release whose {model_type} export configuration "
                f"offers {optimum_task}",
        )
    export_config = _export_config(constructor, config)
    low = _bound(getattr(export_config, "MIN_TRANSFORMERS_VERSION", None))
    high = _bound(getattr(export_config, "MAX_TRANSFORMERS_VERSION", None))
    pinned = _own_transformers_requirement()
    pin = f" (publisher requires transformers {pinned}, so it cannot be changed here)" if pinned else ""
    if low is not None and is_transformers_version("<", low):
        return Refusal(
            says="The current version of Transformers does not allow for the export of the model. "
                 f"Minimum required is {low}, got: {tf}",
            limit=f"optimum-intel's {model_type} export configuration ({_name(export_config)}) "
                  f"needs transformers {low} or newer, and "
                  f"transformers {tf} is installed{pin}",
            fix=f"Publish with transformers {low} or newer",
        )
    if high is not None and is_transformers_version(">", high):
        return Refusal(
            says="The current version of Transformers does not allow for the export of the model. "
                 f"Maximum required is {high.replace('99', '*')}, got: {tf}",
            limit=f"optimum-intel's {model_type} export configuration ({_name(export_config)}) "
                  f"allows transformers up to {high.replace('99', '*')} only, and transformers "
                  f"{tf} is installed{pin}",
            fix=f"Publish with an optimum-intel release whose {model_type} export configuration "
                f"accepts transformers {tf}",
        )
    return None


def exportable_alternatives(model_type: str, optimum_task: str, n: int = _EXAMPLES) -> list[str]:
    """Up to ``n`` model types that the installed optimum-intel exports for ``optimum_task`` with the
    installed transformers (by the registry and the class bounds): the ones whose names contain or
    resemble ``model_type`` first (a removed "modernbert" suggests "bert"), then in the registry's
    order."""
    with _quiet():
        from optimum.exporters.openvino.utils import ONNX_SUPPORTED_ARCHITECTURES
        from optimum.exporters.tasks import TasksManager
        from optimum.intel.utils.import_utils import is_transformers_version
    from transformers import CONFIG_MAPPING

    registry = TasksManager._LIBRARY_TO_SUPPORTED_MODEL_TYPES[LIBRARY]
    fits = []
    for other, exporters in registry.items():
        if (other == model_type or other not in CONFIG_MAPPING or other in ONNX_SUPPORTED_ARCHITECTURES
                or other in TasksManager._UNSUPPORTED_CLI_MODEL_TYPE):
            continue
        constructor = exporters.get(EXPORTER, {}).get(optimum_task)
        if constructor is None:
            continue
        cls = getattr(constructor, "func", constructor)
        low = _bound(getattr(cls, "MIN_TRANSFORMERS_VERSION", None))
        high = _bound(getattr(cls, "MAX_TRANSFORMERS_VERSION", None))
        if (low is None or not is_transformers_version("<", low)) and (
                high is None or not is_transformers_version(">", high)):
            fits.append(other)
    substrings = [o for o in fits if o in model_type or model_type in o]
    close = difflib.get_close_matches(model_type, fits, n=n, cutoff=0.6)
    # then optimum-intel's own registration order, plain family names before variants ("qwen3_moe")
    rest = sorted(fits, key=lambda o: ("_" in o or "-" in o))
    return list(dict.fromkeys(substrings + close + rest))[:n]


def _export_config(constructor: Any, config: dict[str, Any]) -> Any:
    """The export configuration optimum-intel would build for this config (its bounds may depend
    on the config); the configuration class itself when the config cannot be built without the
    model (its class bounds then)."""
    from transformers import AutoConfig

    try:
        fields = {k: v for k, v in config.items() if k != "model_type"}
        with _quiet():
            pretrained = AutoConfig.for_model(config["model_type"], **fields)
            return constructor(pretrained, int_dtype="int64", float_dtype="fp32")
    except Exception:  # any config optimum cannot digest here: judge by the class
        return getattr(constructor, "func", constructor)


def _name(export_config: Any) -> str:
    cls = export_config if isinstance(export_config, type) else type(export_config)
    return cls.__name__


def _bound(version: Any) -> str | None:
    if version is None:
        return None
    return getattr(version, "base_version", None) or str(version)


def _versions() -> dict[str, str]:
    out = {}
    for name in ("optimum-intel", "optimum", "transformers"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "(not installed)"
    return out


def _own_transformers_requirement() -> str | None:
    """The transformers range this publisher is installed with (``>=5.5.4,<5.6``), if known."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        requires = metadata.requires("ov-publisher") or []
    except metadata.PackageNotFoundError:
        return None
    for line in requires:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.name.lower() == "transformers" and req.marker is None and str(req.specifier):
            return ",".join(sorted((str(s) for s in req.specifier), key=lambda s: not s.startswith(">")))
    return None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Importing optimum's exporters prints torch and tracer notes on fds 1 and 2; this runs before
    the output folder (and its library.log) exists, so they are dropped rather than shown."""
    from publisher.quiet import library_output_to

    with tempfile.TemporaryDirectory(prefix="publisher-exportability-") as tmp:
        with library_output_to(Path(tmp) / "library.log"):
            yield
