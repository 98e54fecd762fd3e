"""The task seam: what publisher does differently for each kind of model it releases.

Each task is one ``publisher.tasks.contract.Task`` subclass in a module of its own
(``classification.py``, ``generation.py``), registered below. Everything outside this package asks
the report's or the checkpoint's task (``task_of``, ``infer_task``) and never branches on its name.
Adding a task: docs/adding-a-task.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from publisher.errors import BadInputError
from publisher.results import TASK_SECTION_TYPES
from publisher.tasks.classification import TextClassification
from publisher.tasks.contract import Task
from publisher.tasks.embeddings import FeatureExtraction
from publisher.tasks.generation import TextGeneration
from publisher.tasks.question_answering import QuestionAnswering
from publisher.tasks.ranking import TextRanking
from publisher.tasks.token_classification import TokenClassification

# The registry, in the order a checkpoint's architecture is matched against.
# A reranker (one output score) is a *ForSequenceClassification too: it is matched before the classifier.
TASKS: dict[str, Task] = {t.name: t for t in (TextRanking(), TextClassification(), TextGeneration(),
                                               TokenClassification(), FeatureExtraction(),
                                               QuestionAnswering())}
for _task in TASKS.values():
    TASK_SECTION_TYPES[_task.name] = _task.section_types()

TEXT_CLASSIFICATION = TASKS["text-classification"]
LEGACY_TASK = TEXT_CLASSIFICATION.name
TEXT_GENERATION = TASKS["text-generation"]


def _supported() -> str:
    return "; ".join(f"{t.name} ({t.title}s: *{', *'.join(t.architecture_suffixes)})"
                     for t in TASKS.values())


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise BadInputError(f"Unknown task {name!r}", f"Use one of: {', '.join(TASKS)}") from None


def task_of(report: Any) -> Task:
    """The task of a report (or its JSON document); a task publisher does not know is bad input."""
    # Reports written before publisher knew more than one task were classifiers (Report.task's default).
    name = report.get("task", LEGACY_TASK) if isinstance(report, dict) else getattr(report, "task", None)
    task = TASKS.get(name) if isinstance(name, str) else None
    if task is None:
        raise BadInputError(
            f"The report names the task {name!r}, which this version of publisher does not know",
            f"Use a publisher release that knows it; this one knows: {', '.join(TASKS)}")
    return task


def infer_task(cfg: dict[str, Any], folder: Path, forced: str | None = None) -> Task:
    """The task of the checkpoint whose config.json is ``cfg``; ``forced`` (``--task``) must fit it."""
    archs = cfg.get("architectures") or []
    arch = archs[0] if archs else None
    if forced is not None:
        task = get_task(forced)
        if arch and not task.accepts(arch):
            raise BadInputError(
                f"--task {forced} does not fit the checkpoint in {folder}, a {arch}",
                f"Leave --task out to infer the task, or pass a checkpoint of the task: {_supported()}",
            )
        if arch is None:
            raise BadInputError(f"The checkpoint in {folder} names no architecture in config.json",
                                "Re-save it with save_pretrained (it writes architectures)")
        return task
    for task in TASKS.values():
        if task.accepts_checkpoint(cfg):
            return task
    raise BadInputError(
        f"The checkpoint in {folder} is a {arch or 'model without an architecture'} (model_type "
        f"{cfg.get('model_type')!r}), which publisher does not release. Supported tasks: {_supported()}",
        "Save a checkpoint of a supported task (for example AutoModelForSequenceClassification or "
        "AutoModelForCausalLM .save_pretrained)",
    )
