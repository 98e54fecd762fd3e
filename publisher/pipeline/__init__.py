"""``publish``: check -> measure -> report -> card -> gates -> push, for any task.

The task (``publisher.tasks``) decides how the checkpoint is loaded, exported and measured; the
runner owns everything around it. Stage results are cached in ``OUTPUT/.publisher/cache.json``,
keyed by the hashes of their inputs and settings, so a re-run with unchanged inputs re-uses the
export and the measurements without loading the model. The files pushed are exactly the release
set (IR, config, tokenizer, README.md, report.json, and any training files the card names),
compared with the remote revision first, so an unchanged release makes no commit.

The modules, one concern each:

- ``runner``: ``publish`` and ``publish_batch``, the steps ``check``, ``measure`` and ``render``, and
  the JSON documents of an outcome or an error;
- ``checks``: the cheap refusals made before any heavy work (repo id, weight format, output folder,
  card options) and the rendered card's vocabulary;
- ``stage_cache``: the stage cache (``StageCache``) and its keys;
- ``extra_stages``: what the runner measures around the task (environment, benchmark, OpenVINO
  compatibility runs);
- ``card_settings``: the card's inputs from the settings (flags over the checkpoint folder);
- ``release_set``: which files make a release, written and copied safely;
- ``push``: the release compared with the remote and committed (or the dry run's diff);
- ``single_stage``: one stage alone, for the stage subcommands.
"""

from publisher.pipeline.card_settings import card_inputs
from publisher.pipeline.checks import validate_repo_id
from publisher.pipeline.push import default_commit_message, push
from publisher.pipeline.release_set import CARD, RELEASE_REPORT
from publisher.pipeline.runner import (
    LIBRARY_LOG,
    Checked,
    Measured,
    PublishOutcome,
    Rendered,
    check,
    error_document,
    measure,
    outcome_document,
    publish,
    publish_batch,
    render,
)
from publisher.pipeline.single_stage import (
    export_checkpoint,
    inspect_checkpoint,
    measure_ir,
    measure_ir_sparsity,
)
from publisher.pipeline.stage_cache import StageCache

__all__ = [
    "CARD", "LIBRARY_LOG", "RELEASE_REPORT", "Checked", "Measured", "PublishOutcome", "Rendered",
    "StageCache", "card_inputs", "check", "default_commit_message", "error_document",
    "export_checkpoint", "inspect_checkpoint", "measure", "measure_ir", "measure_ir_sparsity",
    "outcome_document", "publish", "publish_batch", "push", "render", "validate_repo_id",
]
