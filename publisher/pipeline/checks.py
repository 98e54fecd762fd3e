"""The refusals: everything that can be refused cheaply is refused before any heavy work (repo id,
weight format, output folder, card options), and a rendered card whose metadata the Hub does not
know is refused before anything is pushed."""

from __future__ import annotations

from pathlib import Path

from publisher.errors import BadInputError
from publisher.settings import PublishSettings
from publisher.tasks import Task
from publisher.tasks.run import CACHE_DIR


def validate_repo_id(repo_id: str) -> None:
    from huggingface_hub.utils import HFValidationError, validate_repo_id as hf_validate

    try:
        hf_validate(repo_id)
    except HFValidationError as exc:
        raise BadInputError(f"{repo_id!r} is not a valid repo id ({exc})",
                            "Use NAMESPACE/NAME with letters, digits, '-', '_' and '.'") from exc
    if "/" not in repo_id:
        raise BadInputError(f"The repo id {repo_id!r} has no namespace",
                            "Use NAMESPACE/NAME, for example my-org/bert-sst2-int8-ov")


def _check_output_is_not_the_checkpoint(out: Path, ckpt: Path) -> None:
    """The export writes config.json and tokenizer files: never over the user's checkpoint."""
    out_r, ckpt_r = out.resolve(), ckpt.resolve()
    if out_r == ckpt_r or ckpt_r in out_r.parents:
        raise BadInputError(
            f"The output folder {out} is the checkpoint folder {ckpt} or lies inside it; the export "
            "would overwrite the checkpoint's config.json and tokenizer files",
            "Pass --output with a folder outside the checkpoint folder",
        )


def _check_card_options(settings: PublishSettings, task: Task) -> None:
    """Refuse a bad license or card template before any slow stage runs."""
    from publisher.card import rules

    license_id = settings.card.license
    if license_id and license_id not in rules.licenses():
        raise BadInputError(
            f"The license {license_id!r} is not a Hub license id, so the Hub would not recognise it "
            "on the card",
            "Pass --license with a Hub license id (for example apache-2.0 or mit), or 'other' and "
            "name the license in the card",
        )
    if settings.card.template is not None or settings.card.sections_dir is not None:
        from publisher.card.variables import check_template

        check_template(settings.card.template, settings.card.sections_dir, task=task.name)


def _prepare_output(out: Path) -> None:
    try:
        (out / CACHE_DIR).mkdir(parents=True, exist_ok=True)
        probe = out / CACHE_DIR / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise BadInputError(f"The output folder {out} is not writable ({exc.strerror or exc})",
                            "Pass --output with a folder you can write to") from exc


def _check_card_vocabulary(card: str) -> None:
    """The card's license and pipeline tag must be ids the Hub knows, or nothing is pushed."""
    from publisher.card.lint import lint_card

    wrong = [f for f in lint_card(card, None)
             if f.rule in ("license-unknown", "pipeline-tag-unknown")]
    if wrong:
        raise BadInputError(
            "The card's metadata has values the Hub does not know: "
            + "; ".join(f.message for f in wrong) + ". Nothing was pushed",
            "Use a Hub license id (--license, or license in training_metadata.json) and a Hub "
            "pipeline tag",
        )
