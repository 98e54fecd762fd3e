"""Sentence embeddings: how a checkpoint turns token embeddings into one vector per sentence, the torch
and IR passes that produce those vectors, and what is measured from them.

A sentence-transformers folder says how itself (``modules.json``: a Transformer at the folder's root,
then Pooling and Normalize; ``sentence_bert_config.json``: the max sequence length and lower-casing):
its Pooling and Normalize modules are loaded with sentence-transformers and applied to the token
embeddings of torch and of the IR alike, so the vectors are the ones ``SentenceTransformer.encode``
gives. A bare encoder (``*Model``) is pooled as ``--pooling``/``--normalize`` say, by the same modules.

Measured (publisher.tasks.embeddings): per-sentence cosine similarity and max |difference| of torch
and IR vectors; the overlap of each sentence's 10 nearest neighbours under both; Spearman and
Pearson correlation of pair cosine similarities with gold scores, as sentence-transformers'
``EmbeddingSimilarityEvaluator`` computes them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from publisher.errors import BadInputError

MODULES = "modules.json"
ST_CONFIG = "sentence_bert_config.json"
POOLING_MODES = ("mean", "cls", "max")
NEIGHBOURS = 10
_KNOWN = ("Transformer", "Pooling", "Normalize")
# Files a sentence-transformers folder may hold besides the transformer's own; shipped at the root.
ST_ROOT_FILES = (MODULES, ST_CONFIG, "config_sentence_transformers.json")


@dataclass(frozen=True)
class EmbeddingRecipe:
    """How token embeddings become a sentence embedding, and where that was read from."""

    sentence_transformers: bool  # the folder is a sentence-transformers model
    pooling: str  # sentence-transformers' pooling_mode: "mean", "cls", "max", ...
    normalize: bool
    max_seq_length: int
    do_lower_case: bool
    dimension: int
    source: str  # "modules.json, 1_Pooling/config.json, ..." or "--pooling mean --normalize"
    pooling_path: str | None = None  # the Pooling module's folder inside the checkpoint
    modules: list[str] = field(default_factory=list)  # modules.json's module types, in order


def _st_error(path: Path, problem: str, fix: str | None = None) -> BadInputError:
    return BadInputError(f"The sentence-transformers file {path} {problem}",
                         fix or "Re-save the model with SentenceTransformer.save(folder)")


def _module_kind(entry: Any, path: Path, n: int) -> tuple[str, str]:
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str) or not isinstance(
            entry.get("path", ""), str):
        raise _st_error(path, f"has an entry {n} that is not an object with a type and a path")
    kind = entry["type"].rsplit(".", 1)[-1]
    if kind not in _KNOWN:
        raise _st_error(
            path, f"names the module {entry['type']} (entry {n}), which publisher cannot apply to the IR's output: "
                  "it applies a Transformer at the folder's root, then Pooling and Normalize",
            "Release a model whose modules.json holds only Transformer, Pooling and Normalize (a Dense or "
            "other head would have to be exported with the transformer; it is not yet)")
    return kind, entry.get("path", "")


def read_recipe(folder: Path, *, pooling: str | None, normalize: bool | None, max_length: int,
                dimension: int) -> EmbeddingRecipe:
    """The folder's own recipe (a sentence-transformers folder), else the flags' for a bare encoder."""
    from publisher.stages.load import read_json_file

    modules_path = folder / MODULES
    if not modules_path.is_file():
        mode = pooling or "mean"
        if mode not in POOLING_MODES:
            raise BadInputError(f"--pooling {mode} is not a pooling mode publisher offers",
                                f"Use one of {', '.join(POOLING_MODES)}")
        flags = f"--pooling {mode}" + (" --normalize" if normalize else "")
        return EmbeddingRecipe(False, mode, bool(normalize), int(max_length), False, int(dimension),
                               flags if pooling or normalize else f"{flags} (the default)")
    if pooling is not None or normalize is not None:
        given = " ".join(x for x in (f"--pooling {pooling}" if pooling else "",
                                     "--normalize" if normalize is not None else "") if x)
        raise BadInputError(
            f"{given} was given for {folder}, a sentence-transformers model: its own modules.json and "
            "1_Pooling/config.json say how it pools and normalizes, and a release must embed as the model does",
            f"Leave {given} out (or edit the model's Pooling config and re-save it, if it is wrong)")
    entries = read_json_file(modules_path, "Re-save the model with SentenceTransformer.save(folder)")
    if not isinstance(entries, list) or not entries:
        raise _st_error(modules_path, "is not a non-empty list of modules")
    kinds = [_module_kind(e, modules_path, n) for n, e in enumerate(entries)]
    if kinds[0] != ("Transformer", ""):
        raise _st_error(modules_path, f"does not begin with a Transformer at the folder's root (it begins with "
                                      f"{kinds[0][0]} at {kinds[0][1]!r})",
                        "Re-save the model with a current sentence-transformers (SentenceTransformer.save), which "
                        "writes the transformer at the root")
    names = [k for k, _ in kinds]
    if names.count("Pooling") != 1 or names.count("Transformer") != 1 or names.count("Normalize") > 1 or \
            names[1] != "Pooling" or (len(names) > 2 and names[2:] != ["Normalize"]):
        raise _st_error(modules_path, f"lists the modules {names}; publisher applies Transformer, Pooling and "
                                      "optionally Normalize, in that order")
    pooling_path = dict((k, p) for k, p in kinds)["Pooling"]
    module = load_pooling(folder, pooling_path)
    st_config_path = folder / ST_CONFIG
    st_config = read_json_file(st_config_path, "Re-save the model with SentenceTransformer.save(folder)") \
        if st_config_path.is_file() else {}
    if not isinstance(st_config, dict):
        raise _st_error(st_config_path, "is not a JSON object")
    seq = st_config.get("max_seq_length", max_length)
    lower = st_config.get("do_lower_case", False)
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise _st_error(st_config_path, f"has max_seq_length {seq!r}, not a positive integer")
    if not isinstance(lower, bool):
        raise _st_error(st_config_path, f"has do_lower_case {lower!r}, not true or false")
    mode = module.pooling_mode if isinstance(module.pooling_mode, str) else "+".join(module.pooling_mode)
    if int(module.embedding_dimension) != int(dimension):
        raise _st_error(folder / pooling_path / "config.json",
                        f"pools vectors of {module.embedding_dimension} dimensions, but the transformer's "
                        f"hidden size is {dimension}")
    sources = [MODULES, f"{pooling_path}/config.json"] + ([ST_CONFIG] if st_config_path.is_file() else [])
    return EmbeddingRecipe(True, mode, "Normalize" in names, int(seq), lower, int(dimension), ", ".join(sources),
                           pooling_path=pooling_path, modules=[e["type"] for e in entries])


def load_pooling(folder: Path, pooling_path: str) -> Any:
    from sentence_transformers.sentence_transformer.modules import Pooling

    where = folder / pooling_path / "config.json"
    if not where.is_file():
        raise _st_error(where, "does not exist, though modules.json names the Pooling module's folder")
    try:
        return Pooling.load(str(folder / pooling_path), local_files_only=True)
    except Exception as exc:  # whatever sentence-transformers refuses in the user's file is bad input
        raise _st_error(where, f"cannot be loaded by sentence-transformers ({type(exc).__name__}: "
                               f"{' '.join(str(exc).split())[:200]})") from exc


def pooler(recipe: EmbeddingRecipe, folder: Path | None = None) -> Callable[[Any, Any], Any]:
    """(token embeddings [batch, tokens, dim], attention mask) -> sentence embeddings (numpy), by
    sentence-transformers' own Pooling and Normalize modules."""
    import numpy as np
    import torch
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling

    if recipe.sentence_transformers and folder is not None and recipe.pooling_path is not None:
        pool = load_pooling(folder, recipe.pooling_path)
    else:
        pool = Pooling(recipe.dimension, pooling_mode=recipe.pooling)
    norm = Normalize() if recipe.normalize else None

    def apply(tokens: Any, mask: Any) -> Any:
        with torch.no_grad():
            features = {"token_embeddings": torch.from_numpy(np.asarray(tokens, dtype=np.float32)),
                        "attention_mask": torch.from_numpy(np.asarray(mask, dtype=np.int64))}
            features = pool(features)
            if norm is not None:
                features = norm(features)
            return features["sentence_embedding"].numpy().astype(np.float64)

    return apply


# --- tokenizing and the two passes ----------------------------------------------------------------------


@dataclass(frozen=True)
class SentenceBatches:
    batches: list[dict[str, Any]]
    order: list[int]  # the sentence of each sorted position
    num_sentences: int


def tokenize_sentences(tokenizer: Any, sentences: list[str], recipe: EmbeddingRecipe,
                       batch_size: int) -> SentenceBatches:
    """As sentence-transformers' Transformer module tokenizes: stripped, lower-cased when the model
    says so, truncated at its max sequence length."""
    from publisher.stages.data import encode, padded_batches

    texts = [s.strip() for s in sentences]
    if recipe.do_lower_case:
        texts = [t.lower() for t in texts]
    enc = encode(tokenizer, texts, max_length=recipe.max_seq_length, what="the evaluation sentences")
    batches, order = padded_batches(enc, tokenizer.pad_token_id or 0, batch_size)
    return SentenceBatches(batches, order, len(sentences))


@dataclass(frozen=True)
class EmbeddingRun:
    vectors: Any  # numpy [sentences, dim], in the sentences' own order
    seconds: float
    device: str = "CPU"

    @property
    def sentences_per_second(self) -> float:
        return len(self.vectors) / self.seconds if self.seconds > 0 else 0.0


def run_torch(model: Any, batches: SentenceBatches, pool: Callable[[Any, Any], Any],
              advance: Callable[[int], None] = lambda n: None) -> EmbeddingRun:
    import torch

    from publisher.stages.data import in_input_order

    chunks = []
    start = time.perf_counter()
    with torch.no_grad():
        for batch in batches.batches:
            inputs = {k: torch.from_numpy(v) for k, v in batch.items()}
            hidden = model(**inputs)[0]
            chunks.append(pool(hidden.float().numpy(), batch["attention_mask"]))
            advance(len(batch["input_ids"]))
    return EmbeddingRun(in_input_order(chunks, batches.order), time.perf_counter() - start)


def run_ir(compiled: Any, batches: SentenceBatches, pool: Callable[[Any, Any], Any],
           advance: Callable[[int], None] = lambda n: None) -> EmbeddingRun:
    from publisher.stages.data import in_input_order

    chunks = []
    names = {i.get_any_name() for i in compiled.inputs}
    request = compiled.create_infer_request()
    start = time.perf_counter()
    for batch in batches.batches:
        result = request.infer({k: v for k, v in batch.items() if k in names})
        chunks.append(pool(result[compiled.outputs[0]], batch["attention_mask"]))
        advance(len(batch["input_ids"]))
    return EmbeddingRun(in_input_order(chunks, batches.order), time.perf_counter() - start)


# --- what is measured -----------------------------------------------------------------------------------


def _unit(v: Any) -> Any:
    import numpy as np

    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.maximum(norms, 1e-12)


def parity(torch_vectors: Any, ir_vectors: Any) -> dict[str, float]:
    """Per-sentence cosine similarity of the IR's vector with torch's: mean, minimum, 1st percentile;
    and the largest absolute difference of any component."""
    import numpy as np

    cos = np.sum(_unit(torch_vectors) * _unit(ir_vectors), axis=1)
    return {"sentences": int(len(cos)), "mean_cosine": float(np.mean(cos)), "min_cosine": float(np.min(cos)),
            "p1_cosine": float(np.percentile(cos, 1)),
            "max_abs_diff": float(np.max(np.abs(np.asarray(torch_vectors) - np.asarray(ir_vectors))))}


def nearest_neighbours(vectors: Any, k: int = NEIGHBOURS) -> list[list[int]]:
    """Each sentence's ``k`` nearest other sentences by cosine similarity, nearest first (ties by index)."""
    import numpy as np

    unit = _unit(np.asarray(vectors, dtype=np.float64))
    k = min(k, len(unit) - 1)
    out = []
    for start in range(0, len(unit), 512):
        sims = unit[start:start + 512] @ unit.T
        for row, i in enumerate(range(start, min(start + 512, len(unit)))):
            sims[row, i] = -np.inf
        # A stable sort on the negated similarity keeps equal similarities in index order.
        top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        out.extend(top.tolist())
    return out


def neighbour_overlap(torch_neighbours: list[list[int]], ir_neighbours: list[list[int]]) -> float:
    """Mean share of each sentence's torch nearest neighbours that are also its IR nearest neighbours."""
    if not torch_neighbours:
        return 1.0
    shares = [len(set(a) & set(b)) / max(len(a), 1) for a, b in zip(torch_neighbours, ir_neighbours)]
    return float(sum(shares) / len(shares))


def similarity_scores(vectors: Any, pairs: list[tuple[int, int]], gold: list[float]) -> dict[str, float]:
    """Spearman and Pearson correlation of each pair's cosine similarity with its gold score, as
    sentence-transformers' EmbeddingSimilarityEvaluator computes them (scipy.stats)."""
    import numpy as np
    from scipy.stats import pearsonr, spearmanr

    unit = _unit(np.asarray(vectors, dtype=np.float64))
    a = unit[[p[0] for p in pairs]]
    b = unit[[p[1] for p in pairs]]
    cos = np.sum(a * b, axis=1)
    if len(set(np.round(cos, 12).tolist())) < 2:
        # A constant prediction has no correlation: the model embeds every sentence alike.
        return {"spearman": 0.0, "pearson": 0.0}
    return {"spearman": float(spearmanr(gold, cos)[0]), "pearson": float(pearsonr(gold, cos)[0])}


def st_root_files(folder: Path, recipe: EmbeddingRecipe) -> list[str]:
    """The sentence-transformers files of ``folder`` a release ships at its root (relative paths)."""
    if not recipe.sentence_transformers:
        return []
    out = [name for name in ST_ROOT_FILES if (folder / name).is_file()]
    if recipe.pooling_path:
        out.append(f"{recipe.pooling_path}/config.json")
    return out


def check_json_files(folder: Path, names: list[str]) -> None:
    """Every sentence-transformers JSON file shipped must parse (a release must load as pushed)."""
    for name in names:
        try:
            json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise _st_error(folder / name, f"is not valid JSON ({str(exc)[:160]})") from exc


# --- the release's layout --------------------------------------------------------------------------------

IR_SUBFOLDER = "openvino"
IR_NAME = "openvino_model.xml"
# sentence-transformers' own name for a static-INT8 IR (export_static_quantized_openvino_model's file_suffix).
STATIC_IR_NAME = "openvino_model_qint8_quantized.xml"
# As optimum-intel's OVQuantizationConfig and sentence-transformers' static export: 300 calibration samples.
CALIBRATION_SENTENCES = 300


def ir_name(static: bool) -> str:
    return STATIC_IR_NAME if static else IR_NAME


def calibration_batches(tokenizer: Any, sentences: list[str], recipe: EmbeddingRecipe) -> SentenceBatches:
    """The first ``CALIBRATION_SENTENCES`` sentences, one per batch, tokenized as they are measured."""
    return tokenize_sentences(tokenizer, sentences[:CALIBRATION_SENTENCES], recipe, batch_size=1)


def quantize_static(ir_dir: Path, batches: SentenceBatches) -> dict[str, Any]:
    """Quantize weights and activations of ``ir_dir``'s fp32 IR to INT8 with NNCF post-training
    quantization (transformer preset), calibrated on ``batches``; writes the static IR beside it under
    sentence-transformers' name and removes the fp32 one."""
    import nncf
    import openvino as ov

    from publisher.stages.export import quantizer_ops

    fp32 = ir_dir / IR_NAME
    model = ov.Core().read_model(str(fp32))
    names = {i.get_any_name() for i in model.inputs}
    items = [{k: v for k, v in batch.items() if k in names} for batch in batches.batches]
    quantized = nncf.quantize(model, nncf.Dataset(items), model_type=nncf.ModelType.TRANSFORMER,
                              subset_size=len(items))
    ov.save_model(quantized, str(ir_dir / STATIC_IR_NAME))
    fp32.unlink()
    fp32.with_suffix(".bin").unlink()
    return {"method": f"NNCF {nncf.__version__} post-training quantization (nncf.quantize, ModelType.TRANSFORMER)",
            "calibration_sentences": len(items), "fake_quantize_ops": sum(quantizer_ops(ir_dir / STATIC_IR_NAME).values())}


def export_embedding(loaded: Any, checkpoint: Path, recipe: EmbeddingRecipe, output: Path, weight_format: str,
                     staging_dir: Path, *, calibration: tuple[SentenceBatches, str] | None = None) -> Any:
    """The release folder sentence-transformers loads with ``backend="openvino"``: the IR (optimum-intel's
    feature-extraction export) under ``openvino/`` with its config and tokenizer, and at the root the
    model as measured (safetensors, config.json, tokenizer) with the sentence-transformers files, so
    that ``SentenceTransformer(repo_id)`` (PyTorch) and the Hub's snippets work too."""
    return export_st_layout(loaded, checkpoint, st_root_files(checkpoint, recipe), output, weight_format,
                            staging_dir, optimum_task="feature-extraction",
                            ov_model_class="OVModelForFeatureExtraction", calibration=calibration)


def export_st_layout(loaded: Any, checkpoint: Path, extra: list[str], output: Path, weight_format: str,
                     staging_dir: Path, *, optimum_task: str, ov_model_class: str,
                     calibration: tuple[SentenceBatches, str] | None = None) -> Any:
    """sentence-transformers' layout for any of its model kinds (SentenceTransformer, CrossEncoder): the
    IR under ``openvino/``, the model as measured and ``extra`` (files of ``checkpoint``) at the root."""
    import dataclasses
    import shutil

    from publisher.digest import sha256_file
    from publisher.results import FileDigest
    from publisher.stages.export import _disk_error, export_ir

    # Static INT8 starts from the fp32 IR; its weight format is INT8 (the weights are), and how the
    # activations were calibrated is recorded beside it.
    ir = export_ir(loaded.model, loaded.tokenizer, output / IR_SUBFOLDER,
                   weight_format="fp32" if calibration is not None else weight_format,
                   staging_dir=staging_dir, optimum_task=optimum_task, ov_model_class=ov_model_class)
    if calibration is not None:
        from publisher.stages.export import IR_BIN

        batches, data_name = calibration
        record = quantize_static(output / IR_SUBFOLDER, batches)
        record["calibration_data"] = data_name
        static = output / IR_SUBFOLDER / STATIC_IR_NAME
        files = [f for f in ir.files if f.path not in (IR_NAME, IR_BIN)]
        files += [FileDigest(p.name, sha256_file(p), p.stat().st_size) for p in (static, static.with_suffix(".bin"))]
        ir = dataclasses.replace(ir, weight_format="int8", files=files, static_quantization=record)
    root = staging_dir.with_name(staging_dir.name + "-root")
    shutil.rmtree(root, ignore_errors=True)
    try:
        root.mkdir(parents=True)
        # The torch weights as measured (NNCF masks already folded in by the loader), never a pickle.
        loaded.model.save_pretrained(str(root), safe_serialization=True)
        loaded.tokenizer.save_pretrained(str(root))
        check_json_files(checkpoint, extra)
        for rel in extra:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(checkpoint / rel, root / rel)
        written = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        for rel in written:
            (output / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).replace(output / rel)
    except OSError as exc:
        raise _disk_error(exc, output) from exc
    finally:
        shutil.rmtree(root, ignore_errors=True)
    files = [FileDigest(rel, sha256_file(output / rel), (output / rel).stat().st_size) for rel in written]
    files += [dataclasses.replace(f, path=f"{IR_SUBFOLDER}/{f.path}") for f in ir.files]
    return dataclasses.replace(ir, output_dir=str(output), files=sorted(files, key=lambda f: f.path))
