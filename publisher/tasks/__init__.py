"""The task seam: what publisher does differently for each kind of model it releases.

One ``TaskSpec`` per supported task says which checkpoints it accepts (by the ``architectures``
of config.json), how it exports (optimum-intel's task name and the ``OVModelFor...`` class that
loads the IR), what its evaluation data looks like, which metrics it measures, which card template
and model-index task type it produces, and which quality gates apply. The measuring itself lives in
one module per task (``classification.py``, ``generation.py``), reached through ``TaskSpec.runner``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from publisher.errors import BadInputError


@dataclass(frozen=True)
class TaskSpec:
    name: str  # the Hub's pipeline tag and model-index task type, e.g. "text-classification"
    title: str  # for messages, e.g. "text classifier"
    architecture_suffixes: tuple[str, ...]  # config.json architectures[0] ends with one of these
    auto_class: str  # transformers class that loads the checkpoint
    optimum_task: str  # optimum-intel's export task
    ov_model_class: str  # optimum-intel class that loads the IR
    template: str  # bundled card template
    evaluation: str  # what the evaluation data looks like (help and errors)
    metrics: tuple[str, ...]  # what the release reports on its evaluation data
    gates: tuple[str, ...]  # option keys of the gates that apply
    weight_formats: tuple[str, ...]
    runner: str  # module (under publisher.tasks) that measures a release of this task

    def accepts(self, architecture: str | None) -> bool:
        return bool(architecture) and architecture.endswith(self.architecture_suffixes)

    def module(self) -> Any:
        return importlib.import_module(f"publisher.tasks.{self.runner}")


TEXT_CLASSIFICATION = TaskSpec(
    name="text-classification",
    title="text classifier",
    architecture_suffixes=("ForSequenceClassification",),
    auto_class="AutoModelForSequenceClassification",
    optimum_task="text-classification",
    ov_model_class="OVModelForSequenceClassification",
    template="openvino.md.j2",
    evaluation="labelled sentences (.tsv/.csv/.jsonl with a text and a label column)",
    metrics=("accuracy",),
    gates=("min_ir_accuracy", "max_accuracy_drop", "min_sparsity", "min_argmax_agreement",
           "max_logit_diff"),
    weight_formats=("int8", "fp16", "fp32"),
    runner="classification",
)

TEXT_GENERATION = TaskSpec(
    name="text-generation",
    title="causal language model",
    architecture_suffixes=("ForCausalLM", "LMHeadModel"),
    auto_class="AutoModelForCausalLM",
    optimum_task="text-generation-with-past",
    ov_model_class="OVModelForCausalLM",
    template="openvino-llm.md.j2",
    evaluation="plain text (.txt, or .jsonl with a text field)",
    metrics=("perplexity",),
    gates=("max_perplexity_increase", "min_top1_agreement", "min_generation_match", "min_sparsity"),
    weight_formats=("int8", "int4", "fp16", "fp32"),
    runner="generation",
)

TASKS: dict[str, TaskSpec] = {t.name: t for t in (TEXT_CLASSIFICATION, TEXT_GENERATION)}


def _supported() -> str:
    return "; ".join(f"{t.name} ({t.title}s: *{', *'.join(t.architecture_suffixes)})"
                     for t in TASKS.values())


def get_task(name: str) -> TaskSpec:
    try:
        return TASKS[name]
    except KeyError:
        raise BadInputError(f"Unknown task {name!r}", f"Use one of: {', '.join(TASKS)}") from None


def infer_task(cfg: dict[str, Any], folder: Path, forced: str | None = None) -> TaskSpec:
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
        if task.accepts(arch):
            return task
    raise BadInputError(
        f"The checkpoint in {folder} is a {arch or 'model without an architecture'} (model_type "
        f"{cfg.get('model_type')!r}), which publisher does not release. Supported tasks: {_supported()}",
        "Save a checkpoint of a supported task (for example AutoModelForSequenceClassification or "
        "AutoModelForCausalLM .save_pretrained)",
    )
