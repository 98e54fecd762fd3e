"""Card front matter: built through huggingface_hub's typed metadata, written canonically by us.

``ModelCardData`` / ``EvalResult`` give the Hub's field names and parsing; their serialisers are
avoided because they group results that share task, dataset, config and split (torch and IR
accuracy collapse into one entry), keep numpy scalars as Python objects, and reorder keys between
runs. Here every ``EvalResult`` becomes its own model-index entry, every number is a plain
``float`` or ``int``, and keys come out in one fixed order, so the same data always gives the same
bytes.
"""

from __future__ import annotations

import numbers
from typing import Any

import yaml

from publisher.card import claims, facts
from publisher.card.rules import task_display_name
from publisher.card.schema import FRONT_MATTER, split_front_matter  # noqa: F401 (re-exported)
from publisher.errors import BadInputError
from publisher.results import Report
from publisher.tasks import task_of

MODEL_INDEX = "model-index"

# Top-level order; keys publisher does not produce keep their own order after these, and the long
# model-index always comes last.
KEY_ORDER = (
    "license",
    "license_name",
    "license_link",
    "language",
    "library_name",
    "pipeline_tag",
    "base_model",
    "base_model_relation",
    "tags",
    "datasets",
    "metrics",
)
MANAGED_KEYS = frozenset(KEY_ORDER) | {MODEL_INDEX}

_ENTRY_ORDER = ("name", "results")
_RESULT_ORDER = ("task", "dataset", "metrics", "source")
_TASK_ORDER = ("name", "type")
_DATASET_ORDER = ("name", "type", "config", "split", "revision", "args")
_METRIC_ORDER = ("name", "type", "value", "config", "args", "verified", "verifyToken")
_SOURCE_ORDER = ("name", "url")



def build_eval_results(report: Report) -> list[Any]:
    """One ``EvalResult`` per published figure, each distinguishable by metric name and config."""
    from huggingface_hub import EvalResult

    ds = facts.eval_dataset(report)
    task = report.card.pipeline_tag
    # How the figure was measured, when it depends on it (a language model's windows), travels
    # with it as model-index metric.args.
    args = task_of(report).model_index_args(report)
    task_type, task_name = task_of(report).model_index_task(report) or (task, task_display_name(task))
    return [
        EvalResult(
            task_type=task_type,
            task_name=task_name,
            dataset_type=ds.type,
            dataset_name=ds.name,
            dataset_config=ds.config,
            dataset_split=ds.split,
            dataset_args=getattr(ds, "args", None),
            metric_type=fig.metric_type,
            metric_name=fig.metric_name,
            metric_value=fig.value,
            metric_config=fig.config,
            metric_args=args,
        )
        for fig in facts.figures(report)
    ]


def build_card_data(report: Report) -> Any:
    """The release's metadata as a ``huggingface_hub.ModelCardData``."""
    from huggingface_hub import ModelCardData

    base = facts.base_model(report)
    # ``datasets`` is what the Hub lists as the data a model was trained on: the evaluation set
    # only where the task says it is the fine-tuning set's own split (a classifier's validation
    # split, as the seed card names it); otherwise it appears only in model-index.
    hub_ds = facts.hub_dataset(report) if task_of(report).lists_eval_dataset else None
    extra: dict[str, Any] = {}
    relation = claims.report_relation(report).value
    if base and relation:
        extra["base_model_relation"] = relation
    return ModelCardData(
        license=facts.license_id(report),
        language=facts.languages(report) or None,
        library_name=facts.library_name(report),
        pipeline_tag=report.card.pipeline_tag or None,
        base_model=base,
        tags=facts.tags(report),
        datasets=[hub_ds] if hub_ds else None,
        metrics=[facts.metric(report)],
        model_name=facts.model_index_name(report),
        eval_results=build_eval_results(report),
        **extra,
    )


def build_card_metadata(report: Report) -> dict[str, Any]:
    """The canonical front-matter mapping of a release (what ``canonical_yaml`` writes)."""
    return metadata_from_card_data(build_card_data(report))


def metadata_from_card_data(card_data: Any) -> dict[str, Any]:
    """Canonical mapping from a ``ModelCardData`` (built here or parsed from a README)."""
    raw = {k: v for k, v in vars(card_data).items() if k not in ("eval_results", "model_name")}
    if card_data.eval_results:
        raw[MODEL_INDEX] = model_index_from_eval_results(card_data.model_name, card_data.eval_results)
    return canonicalize(raw)


def model_index_from_eval_results(name: str, results: list[Any]) -> list[dict[str, Any]]:
    """A model-index with one entry per result: nothing is grouped, so nothing is lost."""
    entries = []
    for r in results:
        entry: dict[str, Any] = {
            "task": {"name": r.task_name, "type": r.task_type},
            "dataset": {
                "name": r.dataset_name,
                "type": r.dataset_type,
                "config": r.dataset_config,
                "split": r.dataset_split,
                "revision": r.dataset_revision,
                "args": r.dataset_args,
            },
            "metrics": [
                {
                    "name": r.metric_name,
                    "type": r.metric_type,
                    "value": r.metric_value,
                    "config": r.metric_config,
                    "args": r.metric_args,
                    "verified": r.verified,
                    "verifyToken": r.verify_token,
                }
            ],
        }
        if r.source_url is not None:
            entry["source"] = {"name": r.source_name, "url": r.source_url}
        entries.append(entry)
    return [{"name": name, "results": entries}]


def canonicalize(meta: dict[str, Any]) -> dict[str, Any]:
    """Fixed key order, plain types, no ``None`` at the top level or inside model-index."""
    out: dict[str, Any] = {}
    for key in KEY_ORDER:
        if meta.get(key) is not None:
            out[key] = _plain(meta[key], key)
    for key, value in meta.items():
        if key not in MANAGED_KEYS and value is not None:
            out[str(key)] = _plain(value, str(key))
    if meta.get(MODEL_INDEX) is not None:
        out[MODEL_INDEX] = _model_index(meta[MODEL_INDEX])
    return out


def _model_index(model_index: Any) -> Any:
    if not isinstance(model_index, list):
        return _plain(model_index, MODEL_INDEX)
    entries = []
    for entry in model_index:
        if not isinstance(entry, dict):
            entries.append(_plain(entry, MODEL_INDEX))
            continue
        results = entry.get("results")
        if isinstance(results, list):
            results = [_result(r) if isinstance(r, dict) else _plain(r, MODEL_INDEX) for r in results]
        entries.append(_ordered({**entry, "results": results}, _ENTRY_ORDER))
    return entries


def _result(result: dict[str, Any]) -> dict[str, Any]:
    shaped = dict(result)
    for key, order in (("task", _TASK_ORDER), ("dataset", _DATASET_ORDER), ("source", _SOURCE_ORDER)):
        if isinstance(shaped.get(key), dict):
            shaped[key] = _ordered(shaped[key], order)
    if isinstance(shaped.get("metrics"), list):
        shaped["metrics"] = [
            _ordered(m, _METRIC_ORDER) if isinstance(m, dict) else m for m in shaped["metrics"]
        ]
    return _ordered(shaped, _RESULT_ORDER)


def _ordered(mapping: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    out = {k: _plain(mapping[k], k) for k in order if mapping.get(k) is not None}
    out.update({str(k): _plain(v, str(k)) for k, v in mapping.items() if k not in order and v is not None})
    return out


def _plain(value: Any, where: str) -> Any:
    """Only YAML's core types: numpy scalars become float/int; anything else is refused."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, dict):
        return {str(k): _plain(v, where) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    if hasattr(value, "item") and callable(value.item):  # 0-d numpy array or similar
        return _plain(value.item(), where)
    raise BadInputError(
        f"Card metadata field {where!r} holds a {type(value).__name__}, which cannot be written as "
        "plain YAML",
        "Give card fields as strings, numbers, lists or mappings",
    )


def canonical_yaml(meta: dict[str, Any]) -> str:
    """The YAML text of a front matter (without the ``---`` fences), byte-stable."""
    text = yaml.safe_dump(
        canonicalize(meta),
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1 << 16,  # never fold long strings: folding depends on the text and moves bytes
    )
    return text


def front_matter(meta: dict[str, Any]) -> str:
    return f"---\n{canonical_yaml(meta)}---\n"


def parse_metadata(text: str) -> dict[str, Any]:
    """The front matter of a README as a mapping ({} when there is none); raises on broken YAML."""
    block, _ = split_front_matter(text)
    if block is None:
        return {}
    data = yaml.safe_load(block)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInputError("The card's YAML front matter is not a mapping", "Fix the README's metadata block")
    return data


def compose(meta: dict[str, Any], body: str) -> str:
    """A README: canonical front matter, one blank line, the body ending in one newline."""
    return front_matter(meta) + "\n" + body.strip("\n") + "\n"


def recanonicalize(text: str) -> str:
    """Parse a README with ``huggingface_hub.ModelCard`` and write it back canonically.

    For a card publisher rendered this returns the same bytes: the round trip loses nothing.
    """
    from huggingface_hub import ModelCard

    card = ModelCard(text)
    return front_matter(metadata_from_card_data(card.data)) + card.text

