"""Exact match and F1 of extractive answers by the official SQuAD v1.1 rules.

Written by hand after the official evaluation script (``evaluate-v1.1.py`` of the SQuAD explorer,
Rajpurkar et al. 2016), because ``evaluate``'s ``squad`` metric is fetched from the Hub when it is
loaded, and publisher measures offline. The rules:

- an answer is normalised: lower case, punctuation removed (``string.punctuation``), the articles
  ``a``, ``an``, ``the`` removed as whole words, whitespace collapsed;
- exact match of a prediction is 1 when its normalised text equals a gold answer's, else 0;
- F1 is the harmonic mean of token precision and recall over the normalised, whitespace-split
  tokens, counting repeated tokens (a bag of words), 0 when no token is shared;
- a question scores the best over all its gold answers; EM and F1 are the means over the questions,
  times 100 (the script's percentages).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass

RULES = "official SQuAD v1.1 (lower case, no punctuation, no articles a/an/the; best over gold answers)"
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    no_punctuation = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", no_punctuation).split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction: str, gold: str) -> float:
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    shared = sum((Counter(predicted) & Counter(expected)).values())
    if shared == 0:
        return 0.0
    precision, recall = shared / len(predicted), shared / len(expected)
    return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class SquadScores:
    exact_match: float  # percent of questions
    f1: float  # percent (mean of the per-question best F1)
    questions: int


def score(predictions: list[str], gold_answers: list[list[str]]) -> SquadScores:
    """EM and F1 of ``predictions[i]`` against the gold answers of question ``i``."""
    if len(predictions) != len(gold_answers):
        raise ValueError(f"{len(predictions)} predictions for {len(gold_answers)} questions")
    if not predictions:
        raise ValueError("no questions to score")
    em = sum(max(exact_match(p, g) for g in golds) for p, golds in zip(predictions, gold_answers))
    f = sum(max(f1(p, g) for g in golds) for p, golds in zip(predictions, gold_answers))
    n = len(predictions)
    return SquadScores(exact_match=100.0 * em / n, f1=100.0 * f / n, questions=n)
