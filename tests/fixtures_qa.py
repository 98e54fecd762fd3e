"""A tiny random BERT extractive question-answering model and a few SQuAD-layout questions, built in the tests."""

from __future__ import annotations

import json
from pathlib import Path

# Contexts with questions whose gold answers differ only in what the official SQuAD normalisation
# removes (case, punctuation, articles), and several gold answers per question, as dev-v1.1 has.
CONTEXT_1 = ("The Denver Broncos defeated the Carolina Panthers 24-10 to win Super Bowl 50. The game was played "
             "on February 7, 2016, at Levi's Stadium in Santa Clara, California.")
CONTEXT_2 = ("OpenVINO is an open-source toolkit released by Intel in 2018 for optimizing and deploying deep "
             "learning models on CPUs, GPUs and NPUs.")
QUESTIONS = [
    ("q1", CONTEXT_1, "Who won Super Bowl 50?", ["The Denver Broncos", "Denver Broncos", "Broncos"]),
    ("q2", CONTEXT_1, "Where was the game played?", ["Levi's Stadium", "Levi's Stadium in Santa Clara, California",
                                                     "Santa Clara, California"]),
    ("q3", CONTEXT_1, "When was Super Bowl 50 played?", ["February 7, 2016", "February 7, 2016", "2016"]),
    ("q4", CONTEXT_2, "Who released OpenVINO?", ["Intel", "Intel", "by Intel"]),
    ("q5", CONTEXT_2, "What does OpenVINO run on?", ["CPUs, GPUs and NPUs", "CPUs, GPUs and NPUs"]),
]


def _answers(context: str, texts: list[str]) -> list[dict]:
    return [{"text": t, "answer_start": context.index(t)} for t in texts]


def write_squad(path: Path, questions=QUESTIONS) -> Path:
    """The SQuAD v1.1 JSON layout: articles, paragraphs, qas."""
    paragraphs: dict[str, list[dict]] = {}
    for qid, context, question, texts in questions:
        paragraphs.setdefault(context, []).append({"id": qid, "question": question,
                                                   "answers": _answers(context, texts)})
    data = {"version": "1.1", "data": [{"title": "Tests", "paragraphs": [{"context": c, "qas": qas}
                                                                         for c, qas in paragraphs.items()]}]}
    path.write_text(json.dumps(data))
    return path


def write_squad_jsonl(path: Path, questions=QUESTIONS) -> Path:
    """The Hugging Face ``squad`` layout, one question per line."""
    rows = []
    for qid, context, question, texts in questions:
        answers = _answers(context, texts)
        rows.append(json.dumps({"id": qid, "question": question, "context": context,
                                "answers": {"text": [a["text"] for a in answers],
                                            "answer_start": [a["answer_start"] for a in answers]}}))
    path.write_text("\n".join(rows) + "\n")
    return path


def build_tiny_qa(folder: Path, *, seed: int = 17) -> Path:
    """Seed 17: a random model whose best spans match some gold answers by chance (on QUESTIONS, one
    exact match once the trailing period is normalised away, F1 about 23), so the figures are not all 0."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=2)
    BertForQuestionAnswering(config).eval().save_pretrained(folder)
    from tests.fixtures_models import minilm_tokenizer_dir

    AutoTokenizer.from_pretrained(str(minilm_tokenizer_dir())).save_pretrained(folder)
    return folder
