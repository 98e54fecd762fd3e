"""Tiny random sentence encoders, built in the tests: a sentence-transformers folder (Transformer,
mean Pooling, Normalize) and a bare BertModel, with a few scored sentence pairs."""

from __future__ import annotations

import json
from pathlib import Path

# (sentence1, sentence2, gold score 0-5): a few pairs in the STS Benchmark's style.
PAIRS = [
    ("A man is playing a guitar.", "A man plays the guitar.", 4.8),
    ("A woman is slicing an onion.", "A woman is cutting an onion.", 4.6),
    ("A dog runs in the park.", "A cat sleeps on the sofa.", 0.6),
    ("Two children are playing football.", "Kids play soccer on a field.", 3.9),
    ("The stock market fell sharply today.", "A man is playing a guitar.", 0.0),
    ("A plane is taking off.", "An airplane departs from the runway.", 4.4),
    ("Someone is frying eggs in a pan.", "A person cooks eggs.", 3.7),
    ("The sun sets over the ocean.", "Rain falls on the city.", 0.8),
    ("A girl is brushing her hair.", "A girl is styling her hair.", 2.5),
    ("A dog runs in the park.", "A dog is running through the grass.", 3.8),
    ("Intel opened an office in Santa Clara.", "The office of Intel is in Santa Clara.", 3.2),
    ("Nothing happened today.", "A plane is taking off.", 0.2),
]


def write_pairs(path: Path, pairs=PAIRS, *, header: bool = True) -> Path:
    import csv

    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t" if path.suffix == ".tsv" else ",")
        if header:
            w.writerow(["sentence1", "sentence2", "score"])
        w.writerows(pairs)
    return path


def _tiny_bert(folder: Path, seed: int):
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from tests.fixtures_models import minilm_tokenizer_dir

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64)
    BertModel(config).eval().save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(minilm_tokenizer_dir())).save_pretrained(folder)


def build_tiny_encoder(folder: Path, *, seed: int = 5) -> Path:
    """A bare BertModel: publisher pools it as --pooling/--normalize say."""
    _tiny_bert(folder, seed)
    return folder


def build_tiny_sentence_transformer(folder: Path, *, seed: int = 5, pooling: str = "mean",
                                    normalize: bool = True, modules: list | None = None) -> Path:
    """A sentence-transformers folder as SentenceTransformer.save writes it (mean pooling, normalized)."""
    _tiny_bert(folder, seed)
    entries = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        entries.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    (folder / "modules.json").write_text(json.dumps(modules if modules is not None else entries, indent=2))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    modes = {"mean": "pooling_mode_mean_tokens", "cls": "pooling_mode_cls_token", "max": "pooling_mode_max_tokens"}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 32, **{v: k == pooling for k, v in modes.items()},
         "pooling_mode_mean_sqrt_len_tokens": False}, indent=2))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 64, "do_lower_case": False}))
    return folder
