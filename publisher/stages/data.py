"""Evaluation data: read it with ``datasets``, map its labels to the model's, tokenize it once.

The tokenized, length-sorted batches are shared by the torch and the OpenVINO passes, so the data
is read and tokenized once per run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from publisher.digest import sha256_file
from publisher.errors import BadInputError
from publisher.options import default
from publisher.results import DatasetInfo

BUNDLED_SST2_SHA256 = "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0"
BUNDLED_SST2_LABELS = ["negative", "positive"]
CLASSIFIER_TEXT_COLUMN = "sentence"
# The known sentence-pair layouts (first text column, second text column): evaluation data whose
# columns hold one of them is read as pairs without --text-pair-column. The one table of them.
PAIR_LAYOUTS: tuple[tuple[str, str], ...] = (
    ("sentence1", "sentence2"),  # GLUE MRPC, RTE, WNLI, STS-B
    ("question", "sentence"),  # GLUE QNLI
    ("question1", "question2"),  # GLUE QQP
    ("premise", "hypothesis"),  # GLUE MNLI (and SNLI, XNLI)
)
# Names of sentence-pair tasks and datasets as a training record writes them (run_glue's task_name in
# config.json's finetuning_task; a dataset id): a checkpoint trained on one takes pairs.
PAIR_TASK_NAME = re.compile(r"(?<![a-z0-9])(mnli|qnli|qqp|rte|mrpc|wnli|stsb|sts-b|multi_nli|snli|xnli)(?![a-z0-9])")
# GLUE's single-sentence tasks, as the same records write them: a checkpoint trained on one takes one text.
SINGLE_TEXT_TASK_NAME = re.compile(r"(?<![a-z0-9])(sst2|sst-2|cola)(?![a-z0-9])")
_GENERIC_LABEL = re.compile(r"^LABEL_\d+$")


@dataclass(frozen=True)
class EvalDataSpec:
    """Which data to evaluate on. The default is the bundled GLUE SST-2 validation split."""

    eval_file: str | None = None  # local .tsv / .csv / .jsonl / .json
    dataset: str | None = None  # a Hub dataset id (needs network) or a local datasets folder
    dataset_config: str | None = None
    split: str | None = default("split")  # None: the task's (publisher.tasks: Task.default_split)
    text_column: str | None = None  # None: "sentence" (a language model's text field: "text")
    text_pair_column: str | None = None  # None: the second column of a known pair layout, if any
    label_column: str = default("label_column")
    max_samples: int | None = None
    max_length: int = default("max_length")


@dataclass(frozen=True)
class EvalData:
    info: DatasetInfo
    texts: list[str]
    labels: list[int]  # dataset label ids
    label_names: list[str] | None  # dataset label id -> name, when the dataset names them
    labels_are_names: bool = False  # the file held label names, not ids
    pairs: list[str] | None = None  # each row's second text (sentence-pair data), None for single texts


@dataclass(frozen=True)
class TokenizedBatches:
    """Length-sorted batches with dynamic padding; ``order[i]`` is the row of sorted position i."""

    batches: list[dict[str, Any]]  # numpy int64 arrays: input_ids, attention_mask[, token_type_ids]
    order: list[int]
    num_samples: int


def bundled_sst2_path() -> Path:
    return Path(str(resources.files("publisher") / "data" / "sst2" / "validation.tsv"))


def _has_no_rows(path: Path, *, header: bool) -> bool:
    """True when ``path`` holds no data lines (a csv/tsv header alone counts as none)."""
    import itertools

    with path.open(encoding="utf-8", errors="replace") as f:
        lines = sum(1 for line in itertools.islice(f, 1000) if line.strip())
    return lines <= (1 if header else 0)


def load_eval_data(spec: EvalDataSpec) -> EvalData:
    import datasets

    datasets.disable_progress_bars()
    source = _read_rows(spec)
    where = source.info["source"]
    text_column, pair_column = text_columns(source.rows.column_names, spec, where)
    _check_columns(source.rows, text_column, spec.label_column, where)
    ds = _selected_rows(source.rows, spec.max_samples, where)
    labels, label_names, labels_are_names = _labels(ds, spec.label_column, source.label_names, where)
    texts = _texts(ds[text_column])
    pairs = _texts(ds[pair_column]) if pair_column else None
    info = DatasetInfo(num_samples=len(texts), sha256=source.sha256, text_column=text_column,
                       label_column=spec.label_column, text_pair_column=pair_column, **source.info)
    return EvalData(info=info, texts=texts, labels=labels, label_names=label_names,
                    labels_are_names=labels_are_names, pairs=pairs)


def _texts(column: Any) -> list[str]:
    return [str(t) if t is not None else "" for t in column]


def known_pair_layout(columns: list[str]) -> tuple[str, str] | None:
    """The first known pair layout (``PAIR_LAYOUTS``) whose two columns ``columns`` holds."""
    return next((layout for layout in PAIR_LAYOUTS if all(c in columns for c in layout)), None)


def text_columns(columns: list[str], spec: EvalDataSpec, where: str) -> tuple[str, str | None]:
    """(text column, pair column or None) of data with ``columns``.

    The rule: ``--text-pair-column`` names the second text, which must exist; without it, data in a
    known pair layout is read as that pair, and evaluating such data on one of its texts alone is
    refused (a pair model scored on half its input would publish a meaningless accuracy).
    """
    listed = ", ".join(columns)
    layout = known_pair_layout(columns)
    if spec.text_pair_column:
        pair = spec.text_pair_column
        partner = next((a for a, b in PAIR_LAYOUTS if b == pair and a in columns), None)
        text = spec.text_column or partner or CLASSIFIER_TEXT_COLUMN
        if pair not in columns:
            raise BadInputError(
                f"The evaluation data in {where} has no column {pair!r} for --text-pair-column (columns: {listed})",
                "Pass --text-pair-column (config text_pair_column) with one of those column names, or leave it "
                "out to evaluate on single texts")
        if pair == text:
            raise BadInputError(
                f"--text-pair-column and --text-column both name {pair!r} of {where}: a pair needs two columns",
                "Pass the second text's column with --text-pair-column and the first with --text-column")
        return text, pair
    if layout is not None and spec.text_column in (None, layout[0]):
        return layout
    if layout is not None:
        raise BadInputError(
            f"The evaluation data in {where} holds sentence pairs ({layout[0]!r}, {layout[1]!r}), and "
            f"--text-column {spec.text_column!r} would score the model on one text of each row alone",
            f"Leave out --text-column to evaluate on the pairs, or pass --text-column {layout[0]} "
            f"--text-pair-column {layout[1]}")
    return spec.text_column or CLASSIFIER_TEXT_COLUMN, None


@dataclass(frozen=True)
class _Source:
    """The rows read, where they came from (``DatasetInfo``'s fields) and the label names the
    source itself gives."""

    rows: Any  # datasets.Dataset
    info: dict[str, Any]
    sha256: str | None = None
    label_names: list[str] | None = None


def _read_rows(spec: EvalDataSpec) -> _Source:
    """A local file (``--eval-file``), a Hub or local dataset (``--dataset``), else the bundled SST-2."""
    if spec.eval_file:
        return _read_eval_file(spec)
    if spec.dataset:
        return _read_dataset(spec)
    return _read_bundled_sst2()


def _read_eval_file(spec: EvalDataSpec) -> _Source:
    import datasets

    path = Path(spec.eval_file)
    if not path.is_file():
        raise BadInputError(f"The eval file {path} does not exist", "Check --eval-file")
    suffix = path.suffix.lower()
    builder = {".tsv": "csv", ".csv": "csv", ".jsonl": "json", ".json": "json"}.get(suffix)
    if builder is None:
        raise BadInputError(
            f"The eval file {path} has an unknown extension {suffix!r}",
            "Use .tsv, .csv, .jsonl or .json",
        )
    kwargs: dict[str, Any] = {"delimiter": "\t"} if suffix == ".tsv" else {}
    size = path.stat().st_size
    if size == 0:
        raise BadInputError(f"The eval file {path} is empty", "Pass a file with a header and rows")
    if builder == "json":
        _check_json_rows(path)
        # One block for pyarrow's JSON reader: a column whose type changes between blocks (a number,
        # then true, after a long line) is a segmentation fault in pyarrow 26, in one block an error
        # datasets handles. datasets reads chunksize bytes at a time, in blocks of chunksize / 32.
        kwargs["chunksize"] = 32 * (size + 1)
    try:
        ds = datasets.load_dataset(builder, data_files=str(path), split="train", **kwargs)
    except Exception as exc:  # datasets raises many types for a malformed file
        if _has_no_rows(path, header=builder == "csv"):
            raise BadInputError(f"The eval file {path} has no rows (only a header, or blank lines)",
                                "Pass a file with a header and rows") from exc
        raise BadInputError(f"The eval file {path} cannot be parsed ({_root_cause(exc)})",
                            "Check its format (tsv/csv with a header, or JSON lines, in UTF-8)") from exc
    sha = sha256_file(path)
    info_kw = dict(name=path.stem, type=builder, config=None, split=spec.split, source=str(path))
    return _Source(rows=ds, info=info_kw, sha256=sha)


def _check_json_rows(path: Path) -> None:
    """Every row of a JSON eval file is a JSON object, before pyarrow's JSON reader sees the file:
    it takes a line that is not an object (``null``) down with the whole process (a segmentation
    fault in pyarrow 26). A .json file may also hold one array of objects, or one object."""
    import json

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"The eval file {path} is not UTF-8 text ({exc})", "Save it as UTF-8") from exc
    fix = "Write one JSON object per line (JSON lines), each with the text and label fields"
    if path.suffix.lower() == ".json":
        try:
            whole = json.loads(text)
        except RecursionError as exc:
            raise BadInputError(f"The eval file {path} nests arrays or objects too deeply to read", fix) from exc
        except ValueError:
            whole = None  # not one JSON value: JSON lines, checked below
        else:
            if isinstance(whole, dict) or (isinstance(whole, list) and all(isinstance(r, dict) for r in whole)):
                return
            kind = {"NoneType": "null", "list": "array", "str": "string", "bool": "true/false"}.get(
                type(whole).__name__, "number")
            raise BadInputError(f"The eval file {path} holds a JSON {kind}, not rows (objects, or an array of them)",
                                fix)
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise BadInputError(f"The eval file {path} line {lineno} is not valid JSON ({exc})", fix) from exc
        except RecursionError as exc:
            raise BadInputError(f"The eval file {path} line {lineno} nests arrays or objects too deeply to read",
                                fix) from exc
        if not isinstance(row, dict):
            raise BadInputError(f"The eval file {path} line {lineno} is {line.strip()[:40]!r}, not a JSON object "
                                "(a row)", fix)


def _root_cause(exc: BaseException) -> str:
    """The error under datasets' wrappers ("An error occurred while generating the dataset"): the
    parser's own words (a UnicodeDecodeError, pandas' "Expected 2 fields in line 3, saw 4")."""
    seen = {id(exc)}
    while (inner := exc.__cause__ or exc.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        exc = inner
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


def _read_dataset(spec: EvalDataSpec) -> _Source:
    import datasets

    try:
        ds = datasets.load_dataset(spec.dataset, spec.dataset_config, split=spec.split)
    except Exception as exc:
        raise BadInputError(
            f"The dataset {spec.dataset!r} (config {spec.dataset_config!r}, split "
            f"{spec.split!r}) cannot be loaded ({type(exc).__name__}: {exc})",
            "Check the id, config and split; without network use --eval-file with a local copy",
        ) from exc
    info_kw = dict(name=spec.dataset, type=spec.dataset, config=spec.dataset_config,
                   split=spec.split, source=f"hub:{spec.dataset}")
    return _Source(rows=ds, info=info_kw)


def _read_bundled_sst2() -> _Source:
    import datasets

    path = bundled_sst2_path()
    sha = sha256_file(path)
    if sha != BUNDLED_SST2_SHA256:
        raise BadInputError(f"The bundled SST-2 file {path} is modified (sha256 {sha})",
                            "Reinstall publisher")
    ds = datasets.load_dataset("csv", data_files=str(path), delimiter="\t", split="train")
    info_kw = dict(name="GLUE SST2", type="glue", config="sst2", split="validation",
                   source="bundled:glue-sst2-validation", args="sst2")
    return _Source(rows=ds, info=info_kw, sha256=sha, label_names=BUNDLED_SST2_LABELS)


def _check_columns(ds: Any, text_column: str, label_column: str, where: str) -> None:
    for col, flag in ((text_column, "--text-column"), (label_column, "--label-column")):
        if col not in ds.column_names:
            raise BadInputError(
                f"The evaluation data in {where} has no column {col!r} (columns: {', '.join(ds.column_names)})",
                f"Pass {flag} with one of those column names",
            )


def _selected_rows(ds: Any, max_samples: int | None, where: str) -> Any:
    """The first ``max_samples`` rows (all without it); no rows is an error."""
    if max_samples:
        ds = ds.select(range(min(max_samples, len(ds))))
    if len(ds) == 0:
        raise BadInputError(f"The evaluation data in {where} has no rows",
                            "Pass a file or split with examples")
    return ds


def _labels(ds: Any, label_column: str, given: list[str] | None, where: str
            ) -> tuple[list[int], list[str] | None, bool]:
    """Each row's dataset label id, the label names (the source's own, else the column's class
    names, else the sorted names a column of strings holds; None for unnamed ids), and whether
    the column held names rather than ids."""
    import datasets

    label_names = given
    feature = ds.features[label_column]
    if label_names is None and isinstance(feature, datasets.ClassLabel):
        label_names = list(feature.names)
    raw_labels = list(ds[label_column])
    names = [isinstance(v, str) for v in raw_labels]
    if any(names) and not all(names):
        row = names.index(not names[0]) + 1
        raise BadInputError(
            f"The label column {label_column!r} of {where} holds both names and numbers (row 1: "
            f"{raw_labels[0]!r}, row {row}: {raw_labels[row - 1]!r})",
            "Use integer class ids or class names as labels, the same kind in every row")
    if label_names is None and raw_labels and names[0]:
        label_names = sorted(set(raw_labels))
        labels = [label_names.index(v) for v in raw_labels]
    else:
        labels = [_class_id(v, row, label_column, where) for row, v in enumerate(raw_labels, 1)]
    return labels, label_names, bool(raw_labels) and names[0]


def _class_id(value: Any, row: int, label_column: str, where: str) -> int:
    """A label read as a class id: an integer (a float only when whole: 1.0, never 0.5)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):  # bool too: False/True are classes 0 and 1
        return int(value)
    shown = "an empty value" if value is None or (isinstance(value, float) and value != value) else repr(value)[:40]
    raise BadInputError(
        f"The label column {label_column!r} of {where} holds non-integer values (row {row}: {shown})",
        "Use integer class ids or class names as labels")


def map_labels(id2label: dict[int, str], data: EvalData) -> dict[int, int]:
    """Model class id -> dataset label id, by name when both sides name their labels.

    Generic names (``LABEL_0``) on the model side fall back to matching ids. A name that matches
    nothing, or several things, is an error: guessing would publish a wrong accuracy.
    """
    num_labels = len(id2label)
    bad = sorted({v for v in data.labels if v < 0 or v >= num_labels})
    if bad and not data.label_names:
        raise BadInputError(
            f"The evaluation labels {bad[:5]} are outside the model's {num_labels} classes "
            f"(0..{num_labels - 1}): column {data.info.label_column!r} of {data.info.source}",
            "Check --label-column, or evaluate on data made for this model",
        )
    model_generic = all(_GENERIC_LABEL.match(n) for n in id2label.values())
    if model_generic and data.labels_are_names:
        raise BadInputError(
            f"The evaluation labels of {data.info.source} are names ({', '.join(data.label_names or [])}) but "
            "the model's id2label is generic (LABEL_0, ...), so there is no way to tell which class is which",
            "Set id2label in config.json to the dataset's label names, or use integer labels",
        )
    if data.label_names is None or model_generic:
        if data.label_names is not None and len(data.label_names) != num_labels:
            raise BadInputError(
                f"The dataset {data.info.source} has {len(data.label_names)} classes and the model {num_labels}",
                "Evaluate on data with the model's classes",
            )
        if bad:
            raise BadInputError(f"Labels {bad[:5]} of {data.info.source} are outside the model's classes",
                                "Check --label-column")
        return {i: i for i in range(num_labels)}

    wanted = {n.strip().lower(): i for i, n in enumerate(data.label_names)}
    mapping: dict[int, int] = {}
    for cls_id, name in sorted(id2label.items()):
        key = name.strip().lower()
        if key not in wanted:
            raise BadInputError(
                f"The model's label {name!r} (class {cls_id}) matches none of the dataset's labels "
                f"{data.label_names} in {data.info.source}",
                "Fix id2label in config.json so that its names match the dataset's label names",
            )
        mapping[cls_id] = wanted[key]
    if len(set(mapping.values())) != len(mapping):
        raise BadInputError(
            f"The model's labels {list(id2label.values())} map ambiguously onto the dataset's "
            f"{data.label_names} in {data.info.source}",
            "Give every class a distinct name in id2label (config.json)",
        )
    return mapping


def tokenize(tokenizer: Any, texts: list[str], *, max_length: int, batch_size: int,
             pairs: list[str] | None = None) -> TokenizedBatches:
    """Tokenize once (``pairs`` as each row's second segment, the tokenizer's own pair encoding, as
    at training); sort by length so each batch pads only to its own longest row."""
    enc = encode(tokenizer, texts, pairs, max_length=max_length, what="the evaluation text")
    batches, order = padded_batches(enc, tokenizer.pad_token_id or 0, batch_size)
    return TokenizedBatches(batches=batches, order=order, num_samples=len(texts))


def encode(tokenizer: Any, texts: list[str], pairs: list[str] | None = None, *, max_length: int,
           what: str) -> Any:
    """The tokenizer's unpadded, truncated encoding of ``texts`` (with ``pairs`` as second segments);
    a tokenizer that loads but cannot encode them is bad input naming ``what``."""
    try:
        args = (texts,) if pairs is None else (texts, pairs)
        return tokenizer(*args, truncation=True, max_length=max_length, padding=False)
    except Exception as exc:  # tokenizers raises a bare Exception (a vocabulary without [UNK])
        raise BadInputError(
            f"The checkpoint's tokenizer cannot encode {what} ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())[:200]})",
            "Save the tokenizer the model was trained with into the checkpoint folder "
            "(tokenizer.save_pretrained(folder))") from exc


def in_input_order(chunks: list[Any], order: list[int]) -> Any:
    """Per-batch outputs of ``padded_batches``' batches, concatenated back into the inputs' own order."""
    import numpy as np

    by_length = np.concatenate(chunks, axis=0)
    out = np.empty_like(by_length)
    out[np.asarray(order)] = by_length
    return out


def padded_batches(enc: Any, pad_id: int, batch_size: int) -> tuple[list[dict[str, Any]], list[int]]:
    """Rows of a tokenizer's unpadded output sorted by length, in batches padded to their own longest
    row; returns the batches and ``order`` (the row of each sorted position)."""
    import numpy as np

    lengths = [len(ids) for ids in enc["input_ids"]]
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
    batches = []
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        width = max(lengths[i] for i in rows)
        batch = {}
        for k in keys:
            arr = np.full((len(rows), width), pad_id if k == "input_ids" else 0, dtype=np.int64)
            for r, i in enumerate(rows):
                arr[r, : lengths[i]] = enc[k][i]
            batch[k] = arr
        batches.append(batch)
    return batches, order
