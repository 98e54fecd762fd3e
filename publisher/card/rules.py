"""Bundled Hub vocabularies (licenses, pipeline tags) that card building and lint rely on.

They are data files under ``publisher/data/card_rules/`` so that lint works offline and the lists
can be refreshed without touching code.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from publisher.card.schema import BASE_MODEL_RELATIONS  # noqa: F401 (the one list, re-exported)


@cache
def _load(name: str) -> dict[str, Any]:
    text = resources.files("publisher").joinpath("data", "card_rules", name).read_text("utf-8")
    return json.loads(text)


def licenses() -> dict[str, dict[str, str | None]]:
    """Hub license id -> {"name": full name, "url": choosealicense.com page or None}."""
    return _load("licenses.json")["licenses"]


def pipeline_tags() -> dict[str, str]:
    """Hub pipeline tag -> display name (e.g. "text-classification" -> "Text Classification")."""
    return _load("pipeline_tags.json")["pipeline_tags"]


def task_types() -> frozenset[str]:
    """Every value the Hub knows for a model-index ``task.type``: pipeline tags and subtasks."""
    data = _load("pipeline_tags.json")
    return frozenset(data["pipeline_tags"]) | frozenset(data["subtasks"])


def task_display_name(task: str) -> str:
    return pipeline_tags().get(task) or task.replace("-", " ").title()
