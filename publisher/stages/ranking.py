"""Rerankers (cross-encoders): queries with candidate passages, the (query, passage) pairs scored by
torch and by the IR, and what is measured from the scores.

The data is a ``.jsonl`` file, one query per line in the layout of sentence-transformers'
``CrossEncoderRerankingEvaluator``: ``{"query": ..., "positive": [...], "negative": [...]}``. Every
query's passages are ranked by score; MRR@10 and NDCG@10 use binary relevance (a positive passage is
relevant), as that evaluator computes them.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from publisher.digest import sha256_file
from publisher.errors import BadInputError

LAYOUT = ('a .jsonl file, one query per line: {"query": "...", "positive": ["a relevant passage", ...], '
          '"negative": ["an irrelevant passage", ...]}')
AT = 10  # MRR@10, NDCG@10
_MAX_FILE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class RankingDatasetInfo:
    name: str
    type: str  # "local"
    split: str
    source: str
    format: str
    num_samples: int  # queries
    num_pairs: int  # (query, passage) pairs scored
    sha256: str
    config: str | None = None


@dataclass(frozen=True)
class RankingData:
    info: RankingDatasetInfo
    queries: list[str]
    passages: list[list[str]]  # per query: its positives first, then its negatives
    relevant: list[list[bool]]


def _bad(path: Path, problem: str) -> BadInputError:
    return BadInputError(f"The reranking file {path} {problem}", f"Pass --eval-file in the layout: {LAYOUT}")


def _texts(value: Any, path: Path, n: int, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _bad(path, f"has a {key} on line {n} that is not a list of non-empty strings")
    return [v.strip() for v in value]


def load_ranking(eval_file: str | Path | None, *, split: str = "test", max_samples: int | None = None) -> RankingData:
    if eval_file is None:
        raise BadInputError("A reranker release needs its evaluation data: publisher bundles no query-passage "
                            "set", f"Pass --eval-file, {LAYOUT}")
    path = Path(eval_file)
    if not path.is_file():
        raise BadInputError(f"The reranking file {path} does not exist", "Check --eval-file")
    if path.suffix.lower() != ".jsonl":
        raise _bad(path, f"has the extension {path.suffix or '(none)'!r}, not .jsonl")
    if path.stat().st_size > _MAX_FILE_BYTES:
        raise _bad(path, f"is larger than {_MAX_FILE_BYTES // 2 ** 20} MiB")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise _bad(path, f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    queries, passages, relevant = [], [], []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise _bad(path, f"has a line that is not JSON (line {n}: {str(exc)[:120]})") from None
        if not isinstance(row, dict) or not isinstance(row.get("query"), str) or not row["query"].strip():
            raise _bad(path, f"has no query text on line {n}")
        pos = _texts(row.get("positive", []), path, n, "positive")
        neg = _texts(row.get("negative", []), path, n, "negative")
        if not pos:
            raise _bad(path, f"has a query without a positive passage on line {n} (its MRR and NDCG are undefined)")
        if not neg:
            raise _bad(path, f"has a query without a negative passage on line {n} (there is nothing to rank)")
        queries.append(row["query"].strip())
        passages.append(pos + neg)
        relevant.append([True] * len(pos) + [False] * len(neg))
        if max_samples and len(queries) >= max_samples:
            break
    if not queries:
        raise _bad(path, "holds no queries")
    info = RankingDatasetInfo(name=path.name, type="local", split=split, source=str(path), format="jsonl",
                              num_samples=len(queries), num_pairs=sum(len(p) for p in passages),
                              sha256=sha256_file(path))
    return RankingData(info, queries, passages, relevant)


# --- the two passes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairBatches:
    batches: list[dict[str, Any]]
    order: list[int]
    num_pairs: int


def tokenize_pairs(tokenizer: Any, data: RankingData, *, max_length: int, batch_size: int) -> PairBatches:
    """Every (query, passage) pair, tokenized as a pair (as CrossEncoder.predict does), in query order."""
    from publisher.stages.data import encode, padded_batches

    firsts = [q for q, ps in zip(data.queries, data.passages) for _ in ps]
    seconds = [p for ps in data.passages for p in ps]
    enc = encode(tokenizer, firsts, seconds, max_length=max_length, what="the query-passage pairs")
    batches, order = padded_batches(enc, tokenizer.pad_token_id or 0, batch_size)
    return PairBatches(batches, order, len(firsts))


@dataclass(frozen=True)
class ScoreRun:
    scores: list[float]  # per pair, in query order
    seconds: float
    device: str = "CPU"


def _scores(chunks: list[Any], order: list[int]) -> list[float]:
    from publisher.stages.data import in_input_order

    return in_input_order(chunks, order).astype(float).tolist()


def run_torch(model: Any, batches: PairBatches, advance: Callable[[int], None] = lambda n: None) -> ScoreRun:
    import torch

    chunks = []
    start = time.perf_counter()
    with torch.no_grad():
        for batch in batches.batches:
            logits = model(**{k: torch.from_numpy(v) for k, v in batch.items()}).logits
            chunks.append(logits[:, 0].float().numpy())
            advance(len(batch["input_ids"]))
    return ScoreRun(_scores(chunks, batches.order), time.perf_counter() - start)


def run_ir(compiled: Any, batches: PairBatches, advance: Callable[[int], None] = lambda n: None) -> ScoreRun:
    chunks = []
    names = {i.get_any_name() for i in compiled.inputs}
    request = compiled.create_infer_request()
    start = time.perf_counter()
    for batch in batches.batches:
        result = request.infer({k: v for k, v in batch.items() if k in names})
        chunks.append(result[compiled.outputs[0]][:, 0])
        advance(len(batch["input_ids"]))
    return ScoreRun(_scores(chunks, batches.order), time.perf_counter() - start)


# --- what is measured -------------------------------------------------------------------------------------


def per_query(data: RankingData, scores: list[float]) -> list[list[float]]:
    out, at = [], 0
    for ps in data.passages:
        out.append(scores[at:at + len(ps)])
        at += len(ps)
    return out


def ranking(scores: list[float]) -> list[int]:
    """Passage indices, best first; ties keep the file's order."""
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


def quality(data: RankingData, scores: list[float], at: int = AT) -> dict[str, float]:
    """MRR@at and NDCG@at (binary relevance), averaged over queries."""
    mrr, ndcg = [], []
    for rel, s in zip(data.relevant, per_query(data, scores)):
        top = ranking(s)[:at]
        first = next((r for r, i in enumerate(top, start=1) if rel[i]), None)
        mrr.append(1.0 / first if first else 0.0)
        dcg = sum(1.0 / math.log2(r + 1) for r, i in enumerate(top, start=1) if rel[i])
        ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(sum(rel), at) + 1))
        ndcg.append(dcg / ideal)
    return {"mrr_at_10": sum(mrr) / len(mrr), "ndcg_at_10": sum(ndcg) / len(ndcg)}


def parity(data: RankingData, torch_scores: list[float], ir_scores: list[float]) -> dict[str, float]:
    """Share of queries whose best passage is the same, share whose whole ranking is, and the largest
    absolute score difference."""
    t, o = per_query(data, torch_scores), per_query(data, ir_scores)
    top1 = sum(ranking(a)[0] == ranking(b)[0] for a, b in zip(t, o)) / len(t)
    same = sum(ranking(a) == ranking(b) for a, b in zip(t, o)) / len(t)
    diff = max(abs(a - b) for a, b in zip(torch_scores, ir_scores))
    return {"queries": len(t), "pairs": len(torch_scores), "top1_agreement": top1, "ranking_agreement": same,
            "max_abs_score_diff": diff}


CE_ROOT_FILES = ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json")


def cross_encoder_files(folder: Path) -> list[str]:
    """The sentence-transformers files of a CrossEncoder folder, shipped at the release's root."""
    return [name for name in CE_ROOT_FILES if (folder / name).is_file()]

