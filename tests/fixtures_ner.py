"""A tiny random BERT token classifier (named entities) and a few tagged sentences, built in the tests."""

from __future__ import annotations

from pathlib import Path

NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
# WNUT-17's tags in the Hub dataset wnut_17's id order (the bundled default evaluation data).
WNUT17_LABELS = ["O", "B-corporation", "I-corporation", "B-creative-work", "I-creative-work", "B-group", "I-group",
                 "B-location", "I-location", "B-person", "I-person", "B-product", "I-product"]

# (word, tag) per sentence: IOB2, some words split into several sub-tokens by the BERT vocabulary.
SENTENCES = [
    [("John", "B-PER"), ("Smithereens", "I-PER"), ("lives", "O"), ("in", "O"), ("Paris", "B-LOC"), (".", "O")],
    [("Intel", "B-ORG"), ("opened", "O"), ("an", "O"), ("office", "O"), ("in", "O"), ("Santa", "B-LOC"),
     ("Clara", "I-LOC"), ("yesterday", "O"), (".", "O")],
    [("Angela", "B-PER"), ("Merkel", "I-PER"), ("visited", "O"), ("Gdansk", "B-LOC"), ("and", "O"),
     ("Wroclaw", "B-LOC"), (".", "O")],
    [("The", "O"), ("United", "B-ORG"), ("Nations", "I-ORG"), ("met", "O"), ("in", "O"), ("Geneva", "B-LOC"),
     ("with", "O"), ("Kofi", "B-PER"), ("Annan", "I-PER"), (".", "O")],
    [("Nothing", "O"), ("happened", "O"), ("today", "O"), (".", "O")],
    [("Microsoft", "B-ORG"), ("and", "O"), ("OpenVINO", "B-ORG"), ("engineers", "O"), ("met", "O"),
     ("Ada", "B-PER"), ("Lovelace", "I-PER"), ("in", "O"), ("New", "B-LOC"), ("York", "I-LOC"), ("City", "I-LOC"),
     (".", "O")],
]


def write_conll(path: Path, sentences=SENTENCES) -> Path:
    path.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in s) for s in sentences) + "\n")
    return path


def build_tiny_ner(folder: Path, *, seed: int = 11, labels: list[str] = NER_LABELS) -> Path:
    """Seed 11: a random model whose argmax finds some of the gold entities by chance (F1 about 0.19),
    so that the figures are not all zero."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=len(labels),
                        id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)})
    model = BertForTokenClassification(config).eval()
    model.save_pretrained(folder)
    from tests.fixtures_models import minilm_tokenizer_dir

    AutoTokenizer.from_pretrained(str(minilm_tokenizer_dir())).save_pretrained(folder)
    return folder
