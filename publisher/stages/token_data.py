"""Evaluation data of a token classifier (named entities): read, checked against the model's labels,
tokenized with the labels aligned to the first sub-token of each word, and run through torch and
the IR.

Local layouts (``--eval-file``):

- CoNLL-style (``.conll``, ``.txt``, ``.tsv``, ``.iob``, ``.bio``): one ``token<TAB or space>tag``
  per line, a blank line between sentences; with more than two columns (CoNLL-2003's
  ``token POS chunk tag``) the tag is the last one; ``-DOCSTART-`` lines are skipped.
- JSONL (``.jsonl``): one ``{"tokens": [...], "ner_tags": [...]}`` per line, tags as strings or as
  ids mapped through the model's ``id2label``.

Tags are IOB2 (``O``, ``B-TYPE``, ``I-TYPE``); a tag the model's ``id2label`` does not name, and an
``I-TYPE`` that follows neither ``B-TYPE`` nor ``I-TYPE``, are refused naming the file and line.

Without ``--eval-file`` the data is the bundled WNUT-17 test split (``publisher/data/wnut17/``, see
its PROVENANCE.md), checked against its sha256; its tags must be named by the model's id2label.

Alignment: each word's label is scored at the first sub-token of the word; the other sub-tokens of
a word and the special tokens ([CLS], [SEP], padding) are ignored. A sentence longer than the max
length in sub-tokens is refused (never truncated). A word that tokenizes to nothing (WNUT-17 has
three lone emoji variation selectors, U+FE0F) cannot be scored: tagged ``O`` it is left out of
scoring, as transformers' token-classification examples do (no entity changes, since an ``O``
between two parts of one entity is not IOB2 and was refused already); inside an entity it is refused.

This module imports no model library at import time.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from publisher.errors import BadInputError

SCHEME = "IOB2"
ALIGNMENT = ("the first sub-token of each word carries its label; the other sub-tokens of a word and the "
             "special tokens are ignored")
CONLL_SUFFIXES = (".conll", ".txt", ".tsv", ".iob", ".bio", ".iob2")
JSONL_SUFFIXES = (".jsonl",)
LAYOUT = ("CoNLL-style (.conll/.txt/.tsv/.iob/.bio: one `token<TAB or space>tag` per line, a blank line "
          "between sentences) or JSONL (.jsonl: {\"tokens\": [...], \"ner_tags\": [...]}, tags as strings or "
          "ids of the model's id2label)")
_TAG = re.compile(r"^(?:O|[BI]-.+)$")

# The bundled default (publisher/data/wnut17/PROVENANCE.md): WNUT-17's test split, byte-identical.
BUNDLED_WNUT17 = "wnut17_test.conll"
BUNDLED_WNUT17_SHA256 = "2aa79b764e56ec9264a1b30fdd9b70195bd00ff400b62edd8f399d5f13c178f0"
BUNDLED_WNUT17_SENTENCES = 1287
WNUT17_NAME = "WNUT-17"
WNUT17_HUB_ID = "wnut_17"  # how model-index names it: the Hub dataset built from the same files
WNUT17_TYPES = ("corporation", "creative-work", "group", "location", "person", "product")
WNUT17_SOURCE = "bundled:wnut17-test"


def bundled_wnut17_path() -> Path:
    return Path(str(resources.files("publisher") / "data" / "wnut17" / BUNDLED_WNUT17))


@dataclass(frozen=True)
class TokenDataset:
    """What the figures were measured on (the ledger's and the model-index's dataset)."""

    name: str  # the file's name
    type: str  # "local": a local file, not a Hub dataset
    config: str | None
    split: str
    num_samples: int  # sentences
    num_words: int
    num_entities: int  # gold entities (IOB2)
    sha256: str  # of the whole file
    source: str  # the path read
    format: str  # "conll" | "jsonl"
    args: str | None = None
    bundled: bool = False  # the bundled WNUT-17 test split (source: WNUT17_SOURCE)


@dataclass(frozen=True)
class TokenData:
    info: TokenDataset
    sentences: list[list[str]]
    tags: list[list[str]]


def check_label_scheme(id2label: dict[int, str]) -> None:
    """The model's labels must be IOB2 tags: entity-level scoring depends on it."""
    bad = sorted({str(v) for v in id2label.values() if not _TAG.match(str(v))})
    if bad:
        raise BadInputError(
            f"The model's id2label has labels that are not IOB2 tags ({', '.join(bad)}): entity-level "
            "precision, recall and F1 are scored in the IOB2 scheme (O, B-TYPE, I-TYPE)",
            "Save the checkpoint with id2label naming its classes O, B-<type> and I-<type>")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_conll(path: Path) -> list[tuple[int, list[str], list[str]]]:
    """(first line number, words, tags) per sentence."""
    out: list[tuple[int, list[str], list[str]]] = []
    words: list[str] = []
    tags: list[str] = []
    first = 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            if words:
                out.append((first, words, tags))
            words, tags = [], []
            continue
        if line.startswith("-DOCSTART-"):
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        fields = [f.strip() for f in fields]
        if len(fields) < 2:
            raise BadInputError(
                f"{path}:{number}: the line {line.strip()!r} has one column; a CoNLL-style line is "
                "`token<TAB or space>tag`",
                f"Give every token its tag ({LAYOUT})")
        if not fields[0] or not fields[-1] or " " in fields[-1]:
            raise BadInputError(
                f"{path}:{number}: the line {line!r} is malformed (an empty token or tag column)",
                f"Write one `token<TAB>tag` per line ({LAYOUT})")
        if not words:
            first = number
        words.append(fields[0])
        tags.append(fields[-1])
    if words:
        out.append((first, words, tags))
    return out


def _read_jsonl(path: Path, id2label: dict[int, str] | None) -> list[tuple[int, list[str], list[str]]]:
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadInputError(f"{path}:{number}: not a JSON object ({exc.msg})",
                                f"Write one JSON object per line ({LAYOUT})") from exc
        if not isinstance(row, dict) or "tokens" not in row or "ner_tags" not in row:
            missing = [k for k in ("tokens", "ner_tags") if not isinstance(row, dict) or k not in row]
            raise BadInputError(f"{path}:{number}: the row has no {' and no '.join(missing)} field",
                                f"Give every row tokens and ner_tags ({LAYOUT})")
        words, raw_tags = row["tokens"], row["ner_tags"]
        if (not isinstance(words, list) or not isinstance(raw_tags, list)
                or not all(isinstance(w, str) and w for w in words)):
            raise BadInputError(f"{path}:{number}: tokens must be a list of non-empty strings and ner_tags a list",
                                f"Fix the row ({LAYOUT})")
        if len(words) != len(raw_tags):
            raise BadInputError(f"{path}:{number}: {len(words)} tokens but {len(raw_tags)} ner_tags",
                                "Give every token exactly one tag")
        tags = []
        for tag in raw_tags:
            if isinstance(tag, bool) or not isinstance(tag, (int, str)):
                raise BadInputError(f"{path}:{number}: the tag {tag!r} is neither a string nor an id",
                                    f"Write tags as strings or as ids of the model's id2label ({LAYOUT})")
            if isinstance(tag, int) and id2label is None:
                tag = str(tag)
            elif isinstance(tag, int):
                if tag not in id2label:
                    raise BadInputError(
                        f"{path}:{number}: the tag id {tag} is not in the model's id2label "
                        f"(ids {min(id2label)}..{max(id2label)})",
                        "Write tags as the model's label names, or as ids its id2label names")
                tag = id2label[tag]
            tags.append(tag)
        if words:
            out.append((number, list(words), tags))
    return out


def _check_tags(path: Path, rows: list[tuple[int, list[str], list[str]]], labels: set[str], jsonl: bool) -> None:
    unknown = sorted({t for _, _, tags in rows for t in tags if t not in labels})
    if unknown:
        raise BadInputError(
            f"The evaluation file {path} has tags the model's id2label does not name: {', '.join(unknown)} "
            f"(the model's labels: {', '.join(sorted(labels))})",
            "Evaluate on data tagged with the model's own labels, or fix the tags")
    for start, _, tags in rows:
        previous = "O"
        for offset, tag in enumerate(tags):
            if tag.startswith("I-") and previous[2:] != tag[2:]:
                where = f"{path}:{start}" if jsonl else f"{path}:{start + offset}"
                raise BadInputError(
                    f"{where}: the tag {tag} follows {previous}, which is not IOB2 (an I-{tag[2:]} must "
                    f"follow B-{tag[2:]} or I-{tag[2:]})",
                    "Convert the tags to IOB2 (every entity starts with B-)")
            previous = tag


def _entities(tags: list[str]) -> int:
    return sum(1 for t in tags if t.startswith("B-"))


def _read_rows(path: Path, id2label: dict[int, str] | None) -> tuple[list[tuple[int, list[str], list[str]]], str]:
    if not path.is_file():
        raise BadInputError(f"The evaluation file {path} does not exist", "Check --eval-file")
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        rows, fmt = _read_jsonl(path, id2label), "jsonl"
    elif suffix in CONLL_SUFFIXES:
        rows, fmt = _read_conll(path), "conll"
    else:
        raise BadInputError(f"The evaluation file {path} is neither CoNLL-style nor JSONL (by its suffix "
                            f"{suffix or '(none)'})", f"Use {LAYOUT}")
    if not rows:
        raise BadInputError(f"The evaluation file {path} holds no sentences", f"Use {LAYOUT}")
    return rows, fmt


def read_sentences(path: str | Path, max_samples: int | None = None) -> list[list[str]]:
    """The words of each sentence of ``path`` (tags read but not checked against a model)."""
    rows, _ = _read_rows(Path(path), None)
    return [words for _, words, _ in (rows[:max_samples] if max_samples else rows)]


def check_bundled_labels(id2label: dict[int, str]) -> None:
    """The model must name WNUT-17's tags (by name) to be scored on the bundled default."""
    wanted = ["O"] + [f"{p}-{t}" for t in WNUT17_TYPES for p in ("B", "I")]
    names = {str(v) for v in id2label.values()}
    missing = [t for t in wanted if t not in names]
    if missing:
        raise BadInputError(
            f"The model's id2label ({', '.join(sorted(names))}) does not name the tags of {WNUT17_NAME}, the "
            f"bundled default evaluation data ({', '.join(missing)} missing): its entity types are "
            f"{', '.join(WNUT17_TYPES)}, tagged IOB2, matched to the model's labels by name",
            f"Pass --eval-file with data tagged with the model's own labels ({LAYOUT}), or fine-tune the model "
            f"with {WNUT17_NAME}'s labels (O, B-person, I-person, ...)")


def _bundled_rows() -> tuple[Path, list[tuple[int, list[str], list[str]]], str]:
    path = bundled_wnut17_path()
    if not path.is_file() or _sha(path) != BUNDLED_WNUT17_SHA256:
        raise BadInputError(f"The bundled {WNUT17_NAME} copy {path} is missing or has another sha256 than "
                            f"{BUNDLED_WNUT17_SHA256}: the installation is damaged", "Reinstall publisher")
    return path, _read_conll(path), "conll"


def load_token_data(path: str | Path | None, id2label: dict[int, str], *, split: str,
                    max_samples: int | None = None) -> TokenData:
    """The sentences of ``path`` (the first ``max_samples``), their tags checked against ``id2label``;
    ``path`` None: the bundled WNUT-17 test split."""
    bundled = path is None
    if bundled:
        check_bundled_labels(id2label)
        path, rows, fmt = _bundled_rows()
    else:
        path = Path(path)
        rows, fmt = _read_rows(path, id2label)
    if max_samples:
        rows = rows[:max_samples]
    _check_tags(path, rows, {str(v) for v in id2label.values()}, fmt == "jsonl")
    sentences = [words for _, words, _ in rows]
    tags = [t for _, _, t in rows]
    entities = sum(_entities(t) for t in tags)
    if entities == 0:
        raise BadInputError(f"The evaluation sentences of {path} hold no entities: entity-level F1 is undefined",
                            "Evaluate on sentences with tagged entities")
    name, dtype = path.name, "local"
    if bundled:
        # Only the whole split is WNUT-17's test split; a part of it is named as what it is.
        whole = len(rows) == BUNDLED_WNUT17_SENTENCES
        name = WNUT17_NAME if whole else f"{WNUT17_NAME} (first {len(rows)} sentences)"
        dtype = WNUT17_HUB_ID if whole else "local"
    info = TokenDataset(name=name, type=dtype, config=None, split=split, num_samples=len(rows),
                        num_words=sum(len(s) for s in sentences), num_entities=entities, sha256=_sha(path),
                        source=WNUT17_SOURCE if bundled else str(path), format=fmt, bundled=bundled)
    return TokenData(info, sentences, tags)


# --- tokenizing, aligned to the first sub-token of each word ------------------------------------------------


@dataclass(frozen=True)
class AlignedBatches:
    """Length-sorted, dynamically padded batches; ``order[i]`` is the sentence at sorted position i,
    ``positions[s]`` the token index of each word's first sub-token in sentence ``s``; ``unscored[s]``
    the words of sentence ``s`` (tagged O) that tokenize to nothing and are left out of scoring."""

    batches: list[dict[str, Any]]
    order: list[int]
    positions: list[list[int]]
    num_samples: int
    unscored: list[list[int]] = field(default_factory=list)

    @property
    def unscored_words(self) -> int:
        return sum(len(u) for u in self.unscored)

    def scored_tags(self, tags: list[list[str]]) -> list[list[str]]:
        """The gold tags of the words that are scored (those with a sub-token)."""
        if not self.unscored_words:
            return tags
        return [[t for w, t in enumerate(row) if w not in set(skip)] for row, skip in zip(tags, self.unscored)]


def first_subtoken_positions(word_ids: list[int | None]) -> list[int]:
    """The index of the first sub-token of each word (special tokens have no word id)."""
    out: list[int] = []
    previous = None
    for index, word in enumerate(word_ids):
        if word is not None and word != previous:
            out.append(index)
        previous = word
    return out


def align(tokenizer: Any, sentences: list[list[str]], *, max_length: int, batch_size: int,
          tags: list[list[str]] | None = None) -> AlignedBatches:
    """Tokenized batches and each word's first sub-token; with ``tags``, a word that tokenizes to
    nothing and is tagged O is left out of scoring (without them, or inside an entity, it is refused)."""
    from publisher.stages.data import padded_batches

    if not getattr(tokenizer, "is_fast", False):
        raise BadInputError("The checkpoint's tokenizer is not a fast tokenizer, so its sub-tokens cannot be "
                            "aligned to words", "Save the checkpoint with a fast tokenizer (tokenizer.json)")
    enc = tokenizer(sentences, is_split_into_words=True, truncation=False, padding=False)
    lengths = [len(ids) for ids in enc["input_ids"]]
    positions, unscored = [], []
    for i, words in enumerate(sentences):
        if lengths[i] > max_length:
            raise BadInputError(
                f"Sentence {i + 1} of the evaluation data is {lengths[i]} sub-tokens long, more than the max "
                f"length {max_length}; it is refused rather than truncated (its last words would not be scored)",
                "Raise --max-length (up to the model's position limit), or split the long sentences")
        word_ids = enc.word_ids(i)
        found = first_subtoken_positions(word_ids)
        skipped: list[int] = []
        if len(found) != len(words):
            seen = {w for w in word_ids if w is not None}
            skipped = [w for w in range(len(words)) if w not in seen]
        if skipped and (tags is None or any(tags[i][w] != "O" for w in skipped)):
            empty = [words[w] for w in skipped]
            raise BadInputError(
                f"Sentence {i + 1} of the evaluation data has words the tokenizer turns into no sub-token "
                f"({', '.join(repr(w) for w in empty[:5])}): their labels could not be scored",
                "Remove those words (control or zero-width characters) from the evaluation data")
        positions.append(found)
        unscored.append(skipped)
    batches, order = padded_batches(enc, tokenizer.pad_token_id or 0, batch_size)
    return AlignedBatches(batches, order, positions, len(sentences), unscored)


# --- running: the logits at each word's first sub-token ---------------------------------------------------


@dataclass(frozen=True)
class WordLogits:
    values: list[Any]  # per sentence (data order): float32 [words, labels]
    seconds: float
    device: str = "CPU"

    @property
    def sentences_per_second(self) -> float:
        return len(self.values) / self.seconds if self.seconds > 0 else 0.0


def _scatter(data: AlignedBatches, batch_index: int, logits: Any, out: list[Any]) -> None:
    import numpy as np

    size = len(data.batches[0]["input_ids"]) if data.batches else 0
    for r, row in enumerate(logits):
        sentence = data.order[batch_index * size + r]
        out[sentence] = np.asarray(row[data.positions[sentence]], dtype=np.float32)


def run_torch_words(model: Any, data: AlignedBatches, progress: Any = None) -> WordLogits:
    import torch

    out: list[Any] = [None] * data.num_samples
    start = time.perf_counter()
    with torch.inference_mode():
        for b, batch in enumerate(data.batches):
            logits = model(**{k: torch.from_numpy(v) for k, v in batch.items()}).logits.float().numpy()
            _scatter(data, b, logits, out)
            if progress:
                progress(len(batch["input_ids"]))
    return WordLogits(out, time.perf_counter() - start)


def run_ir_words(compiled: Any, data: AlignedBatches, progress: Any = None) -> WordLogits:
    input_names = {p.get_any_name() for p in compiled.inputs}
    provided = set(data.batches[0]) if data.batches else set()
    if input_names - provided:
        raise BadInputError(
            f"The IR expects inputs {sorted(input_names - provided)} that the tokenizer does not produce "
            f"(it gives {sorted(provided)}): the IR is not this checkpoint's token classifier",
            "Pass the IR exported from this checkpoint")
    out: list[Any] = [None] * data.num_samples
    request = compiled.create_infer_request()
    start = time.perf_counter()
    for b, batch in enumerate(data.batches):
        request.infer({k: v for k, v in batch.items() if k in input_names})
        logits = request.get_output_tensor(0).data.copy()
        if logits.ndim != 3:
            raise BadInputError(f"The IR's output has shape {list(logits.shape)}, not [batch, tokens, labels]: "
                                "it is not a token classifier", "Pass a token-classification IR")
        _scatter(data, b, logits, out)
        if progress:
            progress(len(batch["input_ids"]))
    return WordLogits(out, time.perf_counter() - start)
