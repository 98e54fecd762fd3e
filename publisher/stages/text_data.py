"""Evaluation text for causal language models: a local .txt/.jsonl file, a ``datasets`` id, or a
bundled text: by default WikiText-2 (raw), test split (``publisher/data/text/wikitext2_test.txt``;
provenance and licence in ``publisher/data/text/``). The GLUE SST-2 validation sentences, the
default before it, stay bundled so that releases measured on them can be re-checked.

The text is read once into one string; perplexity windows are cut from its tokenization. The sha256
recorded is that of the text actually evaluated (after any ``max_characters`` cut), so two reports
with the same sha256 scored the same characters.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from publisher.errors import BadInputError
from publisher.results import TextDatasetInfo


@dataclass(frozen=True)
class BundledText:
    """A text shipped in ``publisher/data/text/``; a report names it as ``bundled:<key>``."""

    key: str
    file: str
    sha256: str  # of the file's text (UTF-8), checked whenever it is read
    name: str  # as the card names it
    type: str  # model-index dataset.type: the Hub id of the dataset it is a copy of
    config: str | None
    split: str
    license: str

    @property
    def source(self) -> str:
        return f"bundled:{self.key}"


WIKITEXT2_TEST = BundledText(
    key="wikitext-2-raw-test", file="wikitext2_test.txt",
    sha256="696cca6b65a171b0a358a4be6732cdfdf2dd6164a32e20fd70e3c13fc4dfae83",
    name="WikiText-2 (raw)", type="Salesforce/wikitext", config="wikitext-2-raw-v1", split="test",
    license="cc-by-sa-3.0")
SST2_TEXT = BundledText(
    key="glue-sst2-validation-text", file="sst2_validation.txt",
    sha256="99ca2be130ecd547e1abf871686b96a646aadfe16c863e066e97aca05ee5c50c",
    name="GLUE SST-2 validation sentences", type="txt", config="sst2", split="validation",
    license="other (GLUE SST-2; research use)")
BUNDLED_TEXTS = {t.key: t for t in (WIKITEXT2_TEST, SST2_TEXT)}
DEFAULT_TEXT = WIKITEXT2_TEST  # a language model's evaluation text when none is named

# The default text, as names other modules use.
BUNDLED_NAME = DEFAULT_TEXT.name
BUNDLED_SOURCE = DEFAULT_TEXT.source
BUNDLED_SHA256 = DEFAULT_TEXT.sha256
BUNDLED_LICENSE = DEFAULT_TEXT.license


@dataclass(frozen=True)
class TextEvalSpec:
    """Which text to evaluate on; all None means the bundled default."""

    eval_file: Path | None = None  # .txt (used as is) or .jsonl (one JSON object per line)
    dataset: str | None = None  # datasets id, e.g. "wikitext"
    dataset_config: str | None = None  # e.g. "wikitext-2-raw-v1"
    split: str | None = None  # None: the task's (publisher.tasks: Task.default_split)
    text_field: str = "text"
    max_characters: int | None = None  # evaluate on the first N characters only
    bundled: str | None = None  # a bundled text's key (BUNDLED_TEXTS); None: DEFAULT_TEXT


@dataclass(frozen=True)
class EvalText:
    info: TextDatasetInfo
    text: str


def bundled_text_path(text: BundledText = SST2_TEXT) -> Path:
    """The file of a bundled text; with no argument the SST-2 sentences, whose lines the
    compatibility check and the benchmarks use as short inputs (not the LM default: DEFAULT_TEXT)."""
    return Path(str(resources.files("publisher") / "data" / "text" / text.file))


def bundled_text(key: str | None = None) -> BundledText:
    """The bundled text a key names (a report's ``bundled:<key>`` source), DEFAULT_TEXT for None."""
    if key is None:
        return DEFAULT_TEXT
    if key not in BUNDLED_TEXTS:
        raise BadInputError(
            f"The evaluation text bundled:{key} is not bundled with this publisher (it has "
            f"{', '.join('bundled:' + k for k in BUNDLED_TEXTS)})",
            "Pass the text with --eval-file, or use the publisher release that measured it")
    return BUNDLED_TEXTS[key]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_jsonl(path: Path, field: str) -> str:
    parts = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise BadInputError(f"{path} line {lineno} is not valid JSON ({exc})",
                                "Write one JSON object per line, each with a text field") from exc
        except RecursionError as exc:
            raise BadInputError(f"{path} line {lineno} is not valid JSON (it nests arrays or objects too "
                                "deeply to read)", "Write one JSON object per line, each with a text field") from exc
        if not isinstance(row, dict) or not isinstance(row.get(field), str):
            raise BadInputError(
                f"{path} line {lineno} has no string field {field!r}",
                f"Give every line a {field!r} field holding the text (or name the field to read)")
        try:
            row[field].encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate escape ("\ud800"): no UTF-8 form, no tokens
            raise BadInputError(
                f"{path} line {lineno}: the {field!r} field is not text (a lone surrogate escape at character "
                f"{exc.start}, which has no UTF-8 form)",
                "Write the text as UTF-8 (json.dumps of a str read from UTF-8 never writes a lone surrogate)") from exc
        parts.append(row[field])
    # Documents are separated by a blank line, as the usual wikitext perplexity recipe joins them.
    return "\n\n".join(parts)


def _from_file(path: Path, field: str) -> tuple[str, str]:
    if not path.is_file():
        raise BadInputError(f"The evaluation file {path} does not exist",
                            "Pass an existing .txt or .jsonl file to --eval-file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".txt":
            return path.read_text(encoding="utf-8"), "txt"
        if suffix == ".jsonl":
            return _read_jsonl(path, field), "jsonl"
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path} is not UTF-8 text ({exc})", "Save the file as UTF-8") from exc
    raise BadInputError(
        f"The evaluation file {path} is a {suffix or 'file without extension'}; a language model is "
        "evaluated on plain text",
        "Pass a .txt file (used as is) or a .jsonl file with a 'text' field per line")


def _from_hub(spec: TextEvalSpec) -> str:
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - datasets is a dependency
        raise BadInputError("The datasets package is not installed", "pip install datasets") from exc
    try:
        ds = datasets.load_dataset(spec.dataset, spec.dataset_config, split=spec.split)
    except Exception as exc:  # datasets raises many unrelated types for "not found / offline"
        raise BadInputError(
            f"The dataset {spec.dataset!r} (config {spec.dataset_config!r}, split {spec.split!r}) "
            f"could not be loaded: {exc}",
            "Check the id, config and split, and the network; or pass a local --eval-file") from exc
    if spec.text_field not in ds.column_names:
        raise BadInputError(
            f"The dataset {spec.dataset!r} has no column {spec.text_field!r} (it has "
            f"{', '.join(ds.column_names)})", "Name the text column")
    return "\n\n".join(list(ds[spec.text_field]))


def load_eval_text(spec: TextEvalSpec | None = None) -> EvalText:
    spec = spec or TextEvalSpec()
    if spec.eval_file is not None and spec.dataset is not None:
        raise BadInputError("Both an evaluation file and a dataset id were given",
                            "Pass one of --eval-file and --dataset")
    license_ = None
    if spec.eval_file is not None:
        path = Path(spec.eval_file)
        text, kind = _from_file(path, spec.text_field)
        info = dict(name=path.name, type=kind, config=None, split=None, source=str(path.resolve()))
    elif spec.dataset is not None:
        text = _from_hub(spec)
        info = dict(name=spec.dataset, type=spec.dataset, config=spec.dataset_config,
                    split=spec.split, source=f"hub:{spec.dataset}")
    else:
        bundled = bundled_text(spec.bundled)
        path = bundled_text_path(bundled)
        text = path.read_text(encoding="utf-8")
        if _sha(text) != bundled.sha256:
            raise BadInputError(f"The bundled evaluation text {path} is modified (sha256 {_sha(text)})",
                                "Reinstall publisher")
        info = dict(name=bundled.name, type=bundled.type, config=bundled.config, split=bundled.split,
                    source=bundled.source)
        license_ = bundled.license
    if spec.max_characters is not None:
        if spec.max_characters <= 0:
            raise BadInputError(f"max_characters is {spec.max_characters}", "Pass a positive number")
        text = text[: spec.max_characters]
    if not text.strip():
        raise BadInputError(f"The evaluation text from {info['source']} is empty",
                            "Pass a file or dataset that holds text")
    return EvalText(
        info=TextDatasetInfo(**info, sha256=_sha(text), license=license_, num_characters=len(text)),
        text=text,
    )
