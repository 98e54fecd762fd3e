"""What a card may claim about how a model was made, from the evidence of the run only.

Two kinds of claim live here, each as one rule that every card (classifier or LLM) uses:

- lineage: ``base_model_relation`` (``relation``), from training records and the checkpoint's origin;
- compression: the methods the description names (``compression``), each from its own evidence:
  sparsity from the measured zeros, quantization-aware training from NNCF quantizer state in the
  checkpoint, distillation from a named teacher.

A statement in a config file or record that the evidence does not bear out is never repeated on
the card; ``card_warnings`` names it, so the user can fix the record or supply the evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from publisher.card.schema import BASE_MODEL_RELATIONS
from publisher.results import Report, TrainingMetadata

FINETUNE = "finetune"
QUANTIZED = "quantized"
COMPRESSED_WEIGHT_FORMATS = frozenset({"int8", "int4"})

# A folder of the huggingface_hub cache: .../models--ORG--NAME/snapshots/<commit>[/...]
_HUB_SNAPSHOT = re.compile(r"(?:^|/)models--(?P<repo>[^/]+)/snapshots/[0-9a-f]{6,64}(?:/|$)")

# NNCF algorithm -> (phrase for the card, kind of evidence it needs).
SPARSITY_ALGORITHMS = {
    "magnitude_sparsity": "unstructured magnitude pruning",
    "rb_sparsity": "regularization-based sparsity",
    "movement_sparsity": "movement pruning",
    "const_sparsity": "fixed-mask sparsity",
}
QUANTIZATION_ALGORITHMS = {"quantization", "experimental_quantization"}
QAT = "quantization-aware training"
DISTILLATION = "knowledge distillation"


@dataclass(frozen=True)
class Relation:
    """``base_model_relation`` for the card, or None with the reason it is left out."""

    value: str | None
    source: str  # "flag", "training_metadata.json", "derived", "none"
    reason: str
    warnings: tuple[str, ...] = ()


def checkpoint_hub_repo(checkpoint_path: str | None) -> str | None:
    """The Hub repo a checkpoint folder is a cached download of (``org/name``), else None."""
    if not checkpoint_path:
        return None
    match = _HUB_SNAPSHOT.search(checkpoint_path.replace("\\", "/"))
    return match.group("repo").replace("--", "/") if match else None


def training_evidence(training: TrainingMetadata, nncf_state: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Records showing the weights were trained after the base model: each named for the card's reasons."""
    found = []
    if training.training_command:
        found.append(f"a training command ({training.sources.get('training_command', 'given')})")
    if training.training_dataset:
        found.append(f"a training dataset ({training.training_dataset})")
    if training.recipe_record:
        found.append(f"a recipe record ({training.sources.get('recipe_record', 'recipe_record.json')})")
    if training.teacher_model:
        found.append(f"a distillation teacher ({training.teacher_model})")
    if nncf_state:
        found.append(f"NNCF training state in the weights ({', '.join(nncf_state)})")
    return found


def relation(training: TrainingMetadata, *, checkpoint_path: str | None, weight_format: str,
             nncf_state: list[str] | tuple[str, ...] = ()) -> Relation:
    """The one rule for ``base_model_relation`` (classifier and LLM cards alike).

    - stated (``--base-model-relation`` or training_metadata.json): used as given when it is one of
      the Hub's values; a warning when the evidence says otherwise;
    - any training record (command, dataset, recipe record, teacher, NNCF training state):
      ``finetune``: the weights are no longer the base model's;
    - the checkpoint is the base model's own download (a huggingface_hub cache snapshot of
      ``base_model``), exported with compressed weights: ``quantized`` (the usual LLM release);
    - otherwise left out, with a warning: the Hub guesses (an IR repo is listed as a quantization).
    """
    base = training.base_model
    if not base:
        return Relation(None, "none", "no base model")
    evidence = training_evidence(training, nncf_state)
    origin = checkpoint_hub_repo(checkpoint_path)
    own_weights = origin is not None and origin.lower() == base.lower() and not evidence
    stated = training.base_model_relation
    if stated:
        source = training.sources.get("base_model_relation", "flag")
        if stated not in BASE_MODEL_RELATIONS:
            return Relation(None, source, f"stated {stated!r} is not a Hub value", (
                f"base_model_relation {stated!r} (from {source}) is not one of the Hub's values "
                f"({', '.join(BASE_MODEL_RELATIONS)}); it is left off the card",))
        warnings: tuple[str, ...] = ()
        if stated == QUANTIZED and evidence:
            warnings = (f"base_model_relation is stated as 'quantized' (from {source}), but "
                        f"{'; '.join(evidence)} show the weights were trained after {base}: "
                        "'finetune' is what the Hub means for that",)
        elif stated == FINETUNE and own_weights:
            warnings = (f"base_model_relation is stated as 'finetune' (from {source}), but the "
                        f"checkpoint is {base}'s own download with no training record",)
        return Relation(stated, source, f"stated in {source}", warnings)
    if evidence:
        return Relation(FINETUNE, "derived", f"trained from {base}: {'; '.join(evidence)}")
    if own_weights and weight_format in COMPRESSED_WEIGHT_FORMATS:
        return Relation(QUANTIZED, "derived",
                        f"the checkpoint is {base}'s own weights, compressed to {weight_format} at export")
    why = ("the checkpoint is the base model's own weights, exported without compression"
           if own_weights else f"no training record says how this checkpoint relates to {base}")
    return Relation(None, "none", why, (
        f"base_model_relation is left off the card: {why}. The Hub then guesses (an OpenVINO or "
        "ONNX repo is listed among the base model's quantizations); state it with "
        "--base-model-relation finetune|quantized|merge|adapter or in training_metadata.json",))


def report_relation(report: Report) -> Relation:
    checkpoint = report.checkpoint
    return relation(checkpoint.training, checkpoint_path=checkpoint.path,
                    weight_format=report.export.weight_format, nncf_state=checkpoint.nncf_state)


@dataclass(frozen=True)
class Compression:
    """The compression methods a card may state, in the seed card's order, and what was left out."""

    methods: list[str] = field(default_factory=list)  # phrases: "unstructured magnitude pruning", ...
    quantization_aware: bool = False
    distillation: bool = False
    shown_entries: list[int] = field(default_factory=list)  # indexes of the config entries the evidence shows
    warnings: list[str] = field(default_factory=list)


def nncf_algorithms(config: Any) -> list[dict[str, Any]]:
    """The algorithm sections of an NNCF config in any of its saved shapes."""
    if isinstance(config, list):
        return [c for c in config if isinstance(c, dict)]
    if isinstance(config, dict):
        if "compression" in config:
            return nncf_algorithms(config["compression"])
        if "algorithm" in config:
            return [config]
    return []


def compression(training: TrainingMetadata, *, nncf_state: list[str] | tuple[str, ...],
                sparse: bool, sparsity: float | None, ir_fake_quantize: bool = False) -> Compression:
    """Which NNCF config entries the evidence bears out; the rest become warnings.

    ``ir_fake_quantize``: the exported IR holds FakeQuantize/FakeConvert ops, the other evidence of
    quantization-aware training (``ExportResult.quantizer_ops``).
    """
    entries = nncf_algorithms(training.nncf_config)
    source = training.sources.get("nncf_config", "nncf_config.json")
    sparsity_phrases: list[str] = []
    shown: list[int] = []
    warnings: list[str] = []
    qat = False
    for index, entry in enumerate(entries):
        name = str(entry.get("algorithm"))
        label = f"{source} entry {index + 1} ({name!r})"
        if name in SPARSITY_ALGORITHMS:
            if sparse:
                shown.append(index)
                if SPARSITY_ALGORITHMS[name] not in sparsity_phrases:
                    sparsity_phrases.append(SPARSITY_ALGORITHMS[name])
            else:
                measured = "no" if sparsity is None else f"{sparsity:.1%}"
                warnings.append(f"{label} says the weights were pruned, but the checkpoint measures "
                                f"{measured} sparsity: not stated on the card")
        elif name in QUANTIZATION_ALGORITHMS:
            if "quantizer_state" in nncf_state or ir_fake_quantize:
                shown.append(index)
                qat = True
            else:
                warnings.append(f"{label} describes quantization, but the checkpoint carries no NNCF "
                                "quantizer state, so quantization-aware training is not shown: not "
                                "stated on the card (the IR's INT8/INT4 weights are stated from the export)")
        else:
            warnings.append(f"{label}: publisher has no evidence to check this algorithm against: "
                            "not stated on the card")
    methods = list(sparsity_phrases)
    if qat:
        methods.append(QAT)
    if training.teacher_model:
        methods.append(DISTILLATION)
    return Compression(methods, qat, bool(training.teacher_model), shown, warnings)


def report_compression(report: Report) -> Compression:
    from publisher.card import facts

    measured = report.sparsity.torch.overall if report.sparsity is not None else None
    return compression(report.checkpoint.training, nncf_state=report.checkpoint.nncf_state,
                       sparse=facts.is_sparse(report) if report.sparsity is not None else False,
                       sparsity=None if measured is None else float(measured),
                       ir_fake_quantize=sum(report.export.quantizer_ops.values()) > 0)


def card_warnings(report: Report) -> list[str]:
    """What the card leaves out or doubts, one sentence each: publish and `card render` print these."""
    return [*report_relation(report).warnings, *report_compression(report).warnings]
