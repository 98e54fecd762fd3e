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


# Queries with relevant (positive) and irrelevant (negative) passages, in CrossEncoderRerankingEvaluator's layout.
QUERIES = [
    {"query": "how do I run a model on a CPU", "positive": ["OpenVINO runs neural networks on Intel CPUs."],
     "negative": ["Paris is the capital of France.", "The cat sleeps on the sofa.", "A plane is taking off."]},
    {"query": "capital of France", "positive": ["Paris is the capital of France."],
     "negative": ["OpenVINO runs neural networks on Intel CPUs.", "Rain falls on the city."]},
    {"query": "what do cats do all day", "positive": ["The cat sleeps on the sofa.", "Cats sleep most of the day."],
     "negative": ["A man is playing a guitar.", "The stock market fell sharply today."]},
    {"query": "music", "positive": ["A man is playing a guitar."],
     "negative": ["A dog runs in the park.", "Someone is frying eggs in a pan.", "The sun sets over the ocean."]},
]


def write_queries(path: Path, queries=QUERIES) -> Path:
    path.write_text("\n".join(json.dumps(q) for q in queries) + "\n", encoding="utf-8")
    return path


def build_tiny_cross_encoder(folder: Path, *, seed: int = 3) -> Path:
    """A tiny random cross-encoder saved by sentence-transformers' CrossEncoder (one output score)."""
    import torch
    from sentence_transformers import CrossEncoder
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from tests.fixtures_models import minilm_tokenizer_dir

    torch.manual_seed(seed)
    raw = folder.with_name(folder.name + "-raw")
    # initializer_range 0.2: at the default 0.02 a random model scores every pair alike (spread 2e-5), and
    # INT8 rounding reorders them all; at 0.2 the scores spread by about 0.4.
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=1, initializer_range=0.2)
    BertForSequenceClassification(config).eval().save_pretrained(raw)
    AutoTokenizer.from_pretrained(str(minilm_tokenizer_dir())).save_pretrained(raw)
    CrossEncoder(str(raw), device="cpu").save_pretrained(str(folder))
    return folder
