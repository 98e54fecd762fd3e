"""Model cards: templates, Hub-grade metadata, offline lint and lossless regeneration.

The publish pipeline calls ``render_card``; the ``publisher card`` commands call the rest.
Nothing here imports torch or OpenVINO.
"""

from publisher.card.claims import card_warnings, report_relation, relation
from publisher.card.inputs import reconstruct_training_command
from publisher.card.lint import RULES, Finding, lint_card, lint_target
from publisher.card.metadata import build_card_metadata, canonical_yaml, recanonicalize
from publisher.card.regenerate import (
    RegenerateOutcome,
    format_summary,
    regenerate,
    regenerate_many,
    repo_ids_from_file,
)
from publisher.card.remote import REPORT_FILENAME
from publisher.card.render import DEFAULT_TEMPLATE, default_template, render_body, render_card
from publisher.card.variables import TemplateVariable, check_template, template_variables
from publisher.stages.training_metadata import training_files

__all__ = [
    "DEFAULT_TEMPLATE",
    "REPORT_FILENAME",
    "RULES",
    "Finding",
    "RegenerateOutcome",
    "TemplateVariable",
    "build_card_metadata",
    "canonical_yaml",
    "card_warnings",
    "check_template",
    "default_template",
    "format_summary",
    "lint_card",
    "lint_target",
    "recanonicalize",
    "reconstruct_training_command",
    "relation",
    "report_relation",
    "regenerate",
    "regenerate_many",
    "render_body",
    "render_card",
    "repo_ids_from_file",
    "template_variables",
    "training_files",
]
