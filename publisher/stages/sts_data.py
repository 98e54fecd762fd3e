"""Sentence pairs with a gold similarity score (STS): the bundled STS Benchmark test split, or a local
``.csv``/``.tsv``/``.jsonl`` file with two sentence columns and a numeric score.

Every sentence an embedding model is measured on comes from here: the pairs score the model
(Spearman/Pearson of cosine similarity against the gold scores) and the distinct sentences of the
pairs are the set on which torch and the IR are compared embedding by embedding.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from publisher.digest import sha256_file
from publisher.errors import BadInputError
from publisher.stages.jsonl import json_objects

BUNDLED_STSB_SHA256 = "11523b625219e94e9ca05d2816b5f02cac1614c5894fe657376fa0806378d053"
BUNDLED_STSB_ROWS = 1379
# How model-index names the bundled data: mteb's name for the same split (see PROVENANCE.md).
MTEB_STSB = {"type": "mteb/stsbenchmark-sts", "name": "MTEB STSBenchmark", "config": "default"}
LAYOUT = ("a .csv/.tsv (header sentence1, sentence2, score; or no header and exactly these three columns) "
          "or a .jsonl file (one object per line with sentence1, sentence2 and score)")
FIRST, SECOND, SCORE = "sentence1", "sentence2", "score"
# Other spellings of the score column in files people have (GLUE STS-B, sentence-transformers/stsb).
_SCORE_NAMES = (SCORE, "label", "similarity_score")
_MAX_FILE_BYTES = 512 * 1024 * 1024


def bundled_stsb_path() -> Path:
    return Path(str(resources.files("publisher") / "data" / "stsb" / "stsb-en-test.csv"))


@dataclass(frozen=True)
class PairDatasetInfo:
    """Where the pairs came from, as the card and model-index name it."""

    name: str  # "MTEB STSBenchmark" or the file's name
    type: str  # model-index dataset.type: "mteb/stsbenchmark-sts", or "local"
    split: str
    source: str  # path of the file read
    format: str  # "csv" | "tsv" | "jsonl"
    num_samples: int  # pairs
    num_sentences: int  # distinct sentences of the pairs
    sha256: str
    columns: list[str] = field(default_factory=list)  # (sentence1, sentence2, score) as named in the file
    config: str | None = None
    bundled: bool = False


@dataclass(frozen=True)
class PairData:
    info: PairDatasetInfo
    pairs: list[tuple[int, int]]  # indices into ``sentences``
    scores: list[float]
    sentences: list[str]  # distinct, in order of first appearance


def _bad(path: Path, problem: str) -> BadInputError:
    return BadInputError(f"The sentence-pair file {path} {problem}", f"Pass --eval-file in the layout: {LAYOUT}")


def _rows_of(path: Path) -> tuple[list[tuple[Any, Any, Any]], list[str], str]:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".tsv", ".jsonl"):
        raise _bad(path, f"has the extension {suffix or '(none)'!r}, which publisher does not read")
    if path.stat().st_size > _MAX_FILE_BYTES:
        raise _bad(path, f"is larger than {_MAX_FILE_BYTES // 2 ** 20} MiB")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(path, f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if suffix == ".jsonl":
        return _jsonl_rows(path, text), [FIRST, SECOND, SCORE], "jsonl"
    delimiter = "\t" if suffix == ".tsv" else ","
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:
        raise _bad(path, f"is not valid {suffix[1:].upper()} ({exc})") from exc
    rows = [r for r in rows if r]
    if not rows:
        raise _bad(path, "holds no rows")
    header = [h.strip().lower() for h in rows[0]]
    if FIRST in header or SECOND in header:
        missing = [c for c in (FIRST, SECOND) if c not in header]
        score = next((c for c in _SCORE_NAMES if c in header), None)
        if missing or score is None:
            absent = missing + ([] if score else [f"a score column ({' or '.join(_SCORE_NAMES)})"])
            raise _bad(path, f"has the header {rows[0]} without {', '.join(absent)}")
        at = [header.index(FIRST), header.index(SECOND), header.index(score)]
        body = rows[1:]
        for n, r in enumerate(body, start=2):
            if len(r) <= max(at):
                raise _bad(path, f"has {len(r)} columns on line {n}, fewer than its header's {len(header)}")
        return [(r[at[0]], r[at[1]], r[at[2]]) for r in body], [FIRST, SECOND, score], suffix[1:]
    for n, r in enumerate(rows, start=1):
        if len(r) != 3:
            raise _bad(path, f"has no header and {len(r)} columns on line {n} (a file without a header must "
                             "have exactly three: sentence1, sentence2, score)")
    return [(r[0], r[1], r[2]) for r in rows], [FIRST, SECOND, SCORE], suffix[1:]


def _jsonl_rows(path: Path, text: str) -> list[tuple[Any, Any, Any]]:
    out = []
    for n, row in json_objects(text, lambda problem: _bad(path, problem)):
        score = next((row[c] for c in _SCORE_NAMES if c in row), None)
        missing = [c for c in (FIRST, SECOND) if c not in row] + ([] if score is not None else [SCORE])
        if missing:
            raise _bad(path, f"has no {', '.join(missing)} on line {n}")
        out.append((row[FIRST], row[SECOND], score))
    if not out:
        raise _bad(path, "holds no rows")
    return out


def _score(value: Any, path: Path, row: int) -> float:
    if isinstance(value, bool):
        raise _bad(path, f"has the score {value!r} in row {row}, not a number")
    try:
        score = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise _bad(path, f"has the score {str(value)[:40]!r} in row {row}, not a number") from None
    if not math.isfinite(score):
        raise _bad(path, f"has the score {value!r} in row {row}, not a finite number")
    return score


def _sentence(value: Any, path: Path, row: int, column: str) -> str:
    if not isinstance(value, str):
        raise _bad(path, f"has a {type(value).__name__} as {column} in row {row}, not text")
    # sentence-transformers strips every input before tokenizing it; so is the set compared here.
    text = value.strip()
    if not text:
        raise _bad(path, f"has an empty {column} in row {row}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad(path, f"has text that is not valid Unicode (a lone surrogate) as {column} in row {row}") from None
    return text


def load_pairs(eval_file: str | Path | None, *, split: str = "test", max_samples: int | None = None) -> PairData:
    """The pairs of ``eval_file``, or of the bundled STS Benchmark test split when it is None."""
    bundled = eval_file is None
    path = bundled_stsb_path() if bundled else Path(eval_file)
    if not path.is_file():
        raise BadInputError(f"The sentence-pair file {path} does not exist", "Check --eval-file")
    sha = sha256_file(path)
    if bundled and sha != BUNDLED_STSB_SHA256:
        raise BadInputError(f"The bundled STS Benchmark copy {path} has the sha256 {sha}, not "
                            f"{BUNDLED_STSB_SHA256}: the installation is damaged",
                            "Reinstall publisher")
    rows, columns, fmt = _rows_of(path)
    if max_samples:
        rows = rows[:max_samples]
    index: dict[str, int] = {}
    pairs, scores = [], []
    for n, (a, b, s) in enumerate(rows, start=1):
        first, second = _sentence(a, path, n, columns[0]), _sentence(b, path, n, columns[1])
        pairs.append((index.setdefault(first, len(index)), index.setdefault(second, len(index))))
        scores.append(_score(s, path, n))
    if len(set(scores)) < 2:
        raise _bad(path, "has the same score on every pair: a correlation with it is not defined")
    # Only the whole split is MTEB's STSBenchmark; a part of it is named as what it is.
    whole = bundled and len(pairs) == BUNDLED_STSB_ROWS
    name = MTEB_STSB["name"] if whole else (f"STS Benchmark (first {len(pairs)} pairs)" if bundled else path.name)
    info = PairDatasetInfo(
        name=name,
        type=MTEB_STSB["type"] if whole else "local",
        config=MTEB_STSB["config"] if whole else None,
        split=split, source=str(path), format=fmt, num_samples=len(pairs), num_sentences=len(index),
        sha256=sha, columns=columns, bundled=bundled)
    return PairData(info=info, pairs=pairs, scores=scores, sentences=list(index))
