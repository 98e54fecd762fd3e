"""Entity-level scoring of a token classifier with seqeval (IOB2 scheme, strict mode), and the
torch/IR parity at the scored tokens.

Strict IOB2: an entity is a ``B-TYPE`` followed by any ``I-TYPE`` of the same type; a predicted
entity counts as correct only when its type and both of its ends equal a gold entity's. Precision =
correct / predicted entities, recall = correct / gold entities, F1 their harmonic mean (0 when
either is 0), overall (micro) and per entity type.
"""

from __future__ import annotations

import warnings
from typing import Any

MODE = "strict"


def metric_module() -> str:
    from importlib.metadata import version

    return f"seqeval {version('seqeval')} ({MODE}, IOB2)"


def tags_of(word_logits: list[Any], id2label: dict[int, str]) -> list[list[str]]:
    """The predicted tag of every word: the argmax at its first sub-token."""
    return [[id2label[int(i)] for i in row.argmax(axis=-1)] if len(row) else [] for row in word_logits]


def score(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, Any]:
    """precision, recall, f1, entities (gold), predicted (entities) and per_type {type: {precision,
    recall, f1, support (gold entities), predicted (entities)}}."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2, Entities

    kw = dict(mode=MODE, scheme=IOB2, zero_division=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = classification_report(gold, predicted, output_dict=True, **kw)
        overall = {"precision": float(precision_score(gold, predicted, **kw)),
                   "recall": float(recall_score(gold, predicted, **kw)),
                   "f1": float(f1_score(gold, predicted, **kw))}
    found = [e for row in Entities(predicted, IOB2).entities for e in row]
    per_type = {name: {"precision": float(v["precision"]), "recall": float(v["recall"]),
                       "f1": float(v["f1-score"]), "support": int(v["support"]),
                       "predicted": sum(1 for e in found if e.tag == name)}
                for name, v in report.items() if not name.endswith(" avg")}
    predicted_entities = len(found)
    return {**overall, "entities": sum(v["support"] for v in per_type.values()), "predicted": predicted_entities,
            "per_type": dict(sorted(per_type.items()))}


def parity(torch_logits: list[Any], ir_logits: list[Any]) -> dict[str, Any]:
    """Over every scored (word-start) token: the share whose argmax agrees, and the largest |diff|."""
    import numpy as np

    tokens = sum(len(t) for t in torch_logits)
    agree = sum(int((t.argmax(-1) == o.argmax(-1)).sum()) for t, o in zip(torch_logits, ir_logits))
    diff = max((float(np.abs(t - o).max()) for t, o in zip(torch_logits, ir_logits) if len(t)), default=0.0)
    return {"tokens": tokens, "token_agreement": agree / tokens if tokens else 0.0, "max_abs_logit_diff": diff}
