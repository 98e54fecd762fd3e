"""Questions for an extractive question-answering model: the bundled SQuAD v1.1 dev split, or a
local file.

Local layouts (``--eval-file``):

- SQuAD JSON (``.json``, optionally ``.json.gz``): ``{"data": [{"title": ..., "paragraphs": [{"context":
  ..., "qas": [{"id": ..., "question": ..., "answers": [{"text": ..., "answer_start": ...}]}]}]}]}``,
  the layout of the official ``dev-v1.1.json``;
- JSONL (``.jsonl``): one ``{"id", "question", "context", "answers": {"text": [...], "answer_start":
  [...]}}`` per line, the layout of the Hugging Face ``squad`` dataset (``answers`` may also be a list
  of ``{"text", "answer_start"}``).

``--dataset`` reads a Hub dataset (needs network) or a local ``datasets`` folder in the ``squad``
layout (columns id, question, context, answers).

Every gold answer must be the text of its context at its ``answer_start``: a row whose answer is not
there is refused, naming the question. Questions without an answer (SQuAD 2.0's ``is_impossible``,
or an empty answer list) are refused: the null-answer rule is not implemented, so their EM/F1 would
be wrong.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from publisher.errors import BadInputError
from publisher.stages.jsonl import json_objects

BUNDLED_NAME = "dev-v1.1.json.gz"
# sha256 of the decompressed JSON: the official dev-v1.1.json's bytes (PROVENANCE.md), checked at load time.
BUNDLED_SHA256 = "95aa6a52d5d6a735563366753ca50492a658031da74f301ac5238b03966972c9"
BUNDLED_QUESTIONS = 10570  # over 2,067 paragraphs of 48 articles: the published counts
BUNDLED_DATASET = "SQuAD v1.1"
LAYOUT = ("SQuAD JSON (.json: {\"data\": [{\"paragraphs\": [{\"context\", \"qas\": [{\"id\", \"question\", "
          "\"answers\": [{\"text\", \"answer_start\"}]}]}]}]}, the layout of dev-v1.1.json) or JSONL (.jsonl: one "
          "{\"id\", \"question\", \"context\", \"answers\": {\"text\": [...], \"answer_start\": [...]}} per line)")
_MAX_FILE_BYTES = 512 * 1024 * 1024


def bundled_path() -> Path:
    return Path(str(resources.files("publisher") / "data" / "squad" / BUNDLED_NAME))


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    context: str
    answers: list[str]  # gold answers (repeats kept: the official file lists one per annotator)
    answer_starts: list[int]
    title: str = ""


@dataclass(frozen=True)
class QADatasetInfo:
    """What the figures were measured on (the ledger's and the model-index's dataset)."""

    name: str  # "SQuAD v1.1" (bundled) or the file's name
    type: str  # model-index dataset.type: "squad" (bundled) or "local"
    split: str
    source: str  # the path read
    format: str  # "squad-json" | "jsonl" | "datasets"
    num_samples: int  # questions scored
    num_contexts: int  # distinct paragraphs of those questions
    num_answers: int  # gold answers of those questions
    sha256: str | None  # of the file's (decompressed) bytes; None for a datasets dataset
    bundled: bool = False
    config: str | None = None
    articles: list[str] | None = None  # titles, in file order (SQuAD JSON)


@dataclass(frozen=True)
class QAData:
    info: QADatasetInfo
    questions: list[Question]


def _bad(path: Path, problem: str) -> BadInputError:
    return BadInputError(f"The question-answering file {path} {problem}", f"Pass --eval-file in the layout: {LAYOUT}")


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise BadInputError(f"The question-answering file {path} does not exist", "Check --eval-file")
    if path.stat().st_size > _MAX_FILE_BYTES:
        raise _bad(path, f"is larger than {_MAX_FILE_BYTES // 2 ** 20} MiB")
    raw = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise _bad(path, f"is not a readable gzip file ({exc})") from exc
    return raw


def _format_of(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".json", ".json.gz")):
        return "squad-json"
    if name.endswith((".jsonl", ".jsonl.gz")):
        return "jsonl"
    raise _bad(path, f"has the suffix {''.join(path.suffixes) or '(none)'!r}, which publisher does not read")


def _answers(raw: Any, where: str, path: Path) -> tuple[list[str], list[int]]:
    """Texts and starts of a row's answers, in either layout."""
    if isinstance(raw, dict):
        texts, starts = raw.get("text"), raw.get("answer_start")
        if not isinstance(texts, list) or not isinstance(starts, list) or len(texts) != len(starts):
            raise _bad(path, f"has answers for {where} that are not {{\"text\": [...], \"answer_start\": [...]}} "
                             "lists of one length")
        pairs = list(zip(texts, starts))
    elif isinstance(raw, list):
        if not all(isinstance(a, dict) and "text" in a and "answer_start" in a for a in raw):
            raise _bad(path, f"has an answer for {where} without text and answer_start")
        pairs = [(a["text"], a["answer_start"]) for a in raw]
    else:
        raise _bad(path, f"has no answers list for {where}")
    for text, start in pairs:
        if not isinstance(text, str) or isinstance(start, bool) or not isinstance(start, int):
            raise _bad(path, f"has an answer for {where} whose text is not a string or whose answer_start is not "
                             "an integer")
    return [t for t, _ in pairs], [s for _, s in pairs]


def _question(row: dict[str, Any], context: Any, title: str, where: str, path: Path) -> Question:
    if row.get("is_impossible"):
        raise _unanswerable(path, where)
    qid, text = row.get("id"), row.get("question")
    if not isinstance(context, str) or not context.strip():
        raise _bad(path, f"has an empty or missing context for {where}")
    if not isinstance(text, str) or not text.strip():
        raise _bad(path, f"has an empty or missing question for {where}")
    answers, starts = _answers(row.get("answers"), where, path)
    if not answers:
        raise _unanswerable(path, where)
    for answer, start in zip(answers, starts):
        if not answer.strip() or context[start:start + len(answer)] != answer or start < 0:
            found = context.find(answer) if answer else -1
            hint = f" (the text occurs at {found})" if found >= 0 else " (the text is nowhere in the context)"
            raise BadInputError(
                f"The question-answering file {path}: the answer {answer[:60]!r} of {where} is not the text of "
                f"its context at answer_start {start}{hint}",
                "Fix answer_start (a character offset into the context) or the answer text, or drop the question")
    return Question(id=str(qid) if qid is not None else where, question=text.strip(), context=context,
                    answers=answers, answer_starts=starts, title=title)


def _unanswerable(path: Path, where: str) -> BadInputError:
    return BadInputError(
        f"The question-answering file {path} has an unanswerable question ({where}: is_impossible, or no answers), "
        "the SQuAD 2.0 layout: publisher scores extractive answers by the SQuAD v1.1 rules and does not implement "
        "the null-answer rule, so its EM and F1 would be wrong",
        "Evaluate on answerable questions only (SQuAD v1.1, or drop the unanswerable ones)")


def _squad_json(raw: bytes, path: Path) -> tuple[list[Question], list[str]]:
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _bad(path, f"is not UTF-8 JSON ({str(exc)[:120]})") from None
    articles = document.get("data") if isinstance(document, dict) else None
    if not isinstance(articles, list):
        raise _bad(path, "has no \"data\" list of articles")
    questions: list[Question] = []
    titles = []
    for a, article in enumerate(articles, start=1):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise _bad(path, f"has an article (number {a}) without a paragraphs list")
        title = str(article.get("title", ""))
        titles.append(title)
        for p, paragraph in enumerate(paragraphs, start=1):
            qas = paragraph.get("qas") if isinstance(paragraph, dict) else None
            if not isinstance(qas, list):
                raise _bad(path, f"has a paragraph (article {a}, paragraph {p}) without a qas list")
            for q, row in enumerate(qas, start=1):
                if not isinstance(row, dict):
                    raise _bad(path, f"has a question that is not an object (article {a}, paragraph {p})")
                where = f"question {row.get('id', q)!r} (article {a}, paragraph {p})"
                questions.append(_question(row, paragraph.get("context"), title, where, path))
    return questions, titles


def _jsonl(raw: bytes, path: Path) -> list[Question]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(path, f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    questions = []
    for n, row in json_objects(text, lambda problem: _bad(path, problem)):
        where = f"question {row.get('id', n)!r} (line {n})"
        questions.append(_question(row, row.get("context"), str(row.get("title", "")), where, path))
    return questions


def load_questions(eval_file: str | Path | None, *, split: str = "validation",
                   max_samples: int | None = None) -> QAData:
    """The questions of ``eval_file`` (the first ``max_samples``), or of the bundled SQuAD v1.1 dev
    split when it is None."""
    bundled = eval_file is None
    path = bundled_path() if bundled else Path(eval_file)
    raw = _read_bytes(path)
    sha = hashlib.sha256(raw).hexdigest()
    if bundled and sha != BUNDLED_SHA256:
        raise BadInputError(f"The bundled SQuAD copy {path} has the sha256 {sha}, not {BUNDLED_SHA256}: the "
                            "installation is damaged", "Reinstall publisher")
    fmt = "squad-json" if bundled else _format_of(path)
    titles: list[str] | None = None
    if fmt == "squad-json":
        questions, titles = _squad_json(raw, path)
    else:
        questions = _jsonl(raw, path)
    if not questions:
        raise _bad(path, "holds no questions")
    if max_samples:
        questions = questions[:max_samples]
    if bundled:
        # Named as what it is: the dev split, or the first questions of it.
        part = "" if len(questions) == BUNDLED_QUESTIONS else f" (first {len(questions)} questions)"
        name, kind, config = f"{BUNDLED_DATASET}{part}", "squad", "plain_text"
    else:
        name, kind, config = path.name, "local", None
    info = QADatasetInfo(name=name, type=kind, config=config, split="validation" if bundled else split,
                         source=str(path), format=fmt, num_samples=len(questions),
                         num_contexts=len({q.context for q in questions}),
                         num_answers=sum(len(q.answers) for q in questions), sha256=sha, bundled=bundled,
                         articles=sorted({q.title for q in questions if q.title}, key=titles.index) if titles else None)
    return QAData(info=info, questions=questions)


def load_dataset_questions(dataset: str, config: str | None, *, split: str, max_samples: int | None = None) -> QAData:
    """The questions of a ``datasets`` dataset in the ``squad`` layout (``--dataset``)."""
    import datasets

    datasets.disable_progress_bars()
    try:
        rows = datasets.load_dataset(dataset, config, split=split)
    except Exception as exc:  # datasets raises many types for a missing dataset, config or split
        raise BadInputError(
            f"The dataset {dataset!r} (config {config!r}, split {split!r}) cannot be loaded ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())[:200]})",
            "Check the id, config and split; without network use --eval-file with a local copy") from exc
    missing = [c for c in ("question", "context", "answers") if c not in rows.column_names]
    if missing:
        raise BadInputError(f"The dataset {dataset!r} has no column {', '.join(missing)} (columns: "
                            f"{', '.join(rows.column_names)}), so it is not in the squad layout",
                            f"Use a dataset in the squad layout, or --eval-file: {LAYOUT}")
    if max_samples:
        rows = rows.select(range(min(max_samples, len(rows))))
    where = Path(f"dataset {dataset}")
    questions = [_question(row, row.get("context"), str(row.get("title") or ""),
                           f"question {row.get('id', n)!r} (row {n})", where) for n, row in enumerate(rows, start=1)]
    if not questions:
        raise BadInputError(f"The dataset {dataset!r} split {split!r} holds no questions", "Check the split")
    info = QADatasetInfo(name=dataset, type=dataset, config=config, split=split, source=f"hub:{dataset}",
                         format="datasets", num_samples=len(questions),
                         num_contexts=len({q.context for q in questions}),
                         num_answers=sum(len(q.answers) for q in questions), sha256=None)
    return QAData(info=info, questions=questions)
