"""The card's inputs from the settings: what the flags say overrides what the checkpoint folder
says (training metadata, license, base model), with defaults where neither says anything."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from publisher.errors import BadInputError
from publisher.results import CardInputs, CheckpointInfo, TrainingMetadata
from publisher.settings import PublishSettings
from publisher.tasks.contract import Task


def card_inputs(settings: PublishSettings, training: TrainingMetadata, task: Task) -> CardInputs:
    language = list(settings.card.language) or list(training.language or []) or ["en"]
    return CardInputs(
        model_name=settings.card.model_name or settings.name,
        repo_id=settings.repo_id,
        license=settings.card.license or training.license,
        language=language,
        tags=list(settings.card.tags),
        pipeline_tag=task.pipeline_tag(settings.checkpoint),
        **({"library_name": lib} if (lib := task.library_name(settings.checkpoint)) else {}),
    )


def _training_with_overrides(settings: PublishSettings, info: CheckpointInfo,
                             training_args: dict | None) -> TrainingMetadata:
    """Card inputs from flags override what the checkpoint folder says."""
    t = info.training
    sources = dict(t.sources)
    changes: dict[str, Any] = {}
    c = settings.card
    if c.nncf_config:
        try:
            changes["nncf_config"] = json.loads(Path(c.nncf_config).read_text())
        except (OSError, ValueError) as exc:
            raise BadInputError(f"--nncf-config {c.nncf_config} cannot be read as JSON ({exc})",
                                "Pass the nncf_config.json used for training") from exc
        sources["nncf_config"] = str(c.nncf_config)
    if c.training_command:
        try:
            changes["training_command"] = Path(c.training_command).read_text().strip()
        except OSError as exc:
            raise BadInputError(f"--training-command {c.training_command} cannot be read ({exc})",
                                "Pass a text file holding the command line") from exc
        sources["training_command"] = str(c.training_command)
    elif t.training_command is None and training_args:
        from publisher.card.inputs import reconstruct_training_command

        changes["training_command"] = reconstruct_training_command(training_args)
        sources["training_command"] = "training_args.json (reconstructed)"
    for name in ("base_model", "base_model_relation", "teacher_model", "license"):
        value = getattr(c, name)
        if value:
            changes[name], sources[name] = value, "flag"
    training = dataclasses.replace(t, sources=sources, **changes)
    if c.training_command:
        from publisher.stages.training_metadata import refresh_training_files

        # The script this command runs ships in training/ (a reconstructed command's script name
        # is a guess, so only a command the user gave is looked up).
        training = refresh_training_files(training, Path(info.path))
    return training
