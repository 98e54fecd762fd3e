"""Model card metadata: README front matter for ``cardData``, and ``/api/validate-yaml``.

The rules are publisher's one card-metadata module (``publisher.card.schema``), shared with
``publisher card lint``. The Hub refuses metadata that ``huggingface_hub``'s own parser lets
through (a metric value given as ``"91.3%"``, a ``dataset.config`` that is a number), so what the
server refuses follows the Hub's model-index schema rather than the client's leniency: a release
that passes here must not be refused later by the real Hub. Like the Hub, a README without
metadata is accepted with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from publisher.card.schema import (
    HUB_REFUSES,
    NO_METADATA_WARNING,
    check_metadata,
    dotted,
    load_metadata,
    split_front_matter,
)

__all__ = ["Validation", "card_data", "split_front_matter", "validate_readme"]


@dataclass
class Validation:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def card_data(text: str) -> dict[str, Any] | None:
    """The README's metadata as a mapping, or None when absent or unreadable."""
    raw, _ = split_front_matter(text)
    if raw is None:
        return None
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def validate_readme(text: str) -> Validation:
    result = Validation()
    raw, _ = split_front_matter(text)
    if raw is None:
        result.warnings.append(NO_METADATA_WARNING)
        return result
    data, problem = load_metadata(raw)
    if problem is not None:
        result.errors.append(problem.message)
        return result
    if not data:
        result.warnings.append(NO_METADATA_WARNING)
        return result
    for problem in check_metadata(data):
        if problem.rule in HUB_REFUSES:
            where = dotted(problem.path)
            result.errors.append(f'"{where}": {problem.message}' if where else problem.message)
    if result.ok and "model-index" in data:
        # The client must be able to read what the server accepts.
        from huggingface_hub.repocard_data import model_index_to_eval_results

        try:
            model_index_to_eval_results(data["model-index"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            result.errors.append(f'"model-index" cannot be parsed: {type(exc).__name__}: {exc}')
    return result
