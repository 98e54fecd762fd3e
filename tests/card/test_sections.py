"""Managed sections: user text outside the markers survives a re-render."""

from __future__ import annotations

import pytest

from publisher.card.sections import merge, normalize_blank_lines, segments, wrap
from publisher.errors import BadInputError


def _card(*parts: str) -> str:
    return "\n\n".join(parts) + "\n"


A1, A2 = wrap("a", "# A v1").strip(), wrap("a", "# A v2").strip()
B1, B2 = wrap("b", "B v1").strip(), wrap("b", "B v2").strip()
C2 = wrap("c", "C v2").strip()


def test_a_blank_section_is_dropped():
    assert wrap("a", "\n  \n") == ""


def test_managed_sections_are_replaced_and_user_text_kept_where_it_was():
    old = _card(A1, "My own notes.\n\n* keep  \n  this", B1, "## Appendix\n\nmine")
    assert merge(old, _card(A2, B2)) == _card(A2, "My own notes.\n\n* keep  \n  this", B2, "## Appendix\n\nmine")


def test_a_new_section_goes_after_the_one_before_it_in_the_new_render():
    old = _card(A1, "notes", B1)
    assert merge(old, _card(A2, C2, B2)) == _card(A2, C2, "notes", B2)


def test_a_section_the_new_render_lacks_is_removed():
    assert merge(_card(A1, B1, "tail"), _card(A2)) == _card(A2, "tail")


def test_a_card_without_managed_sections_is_not_overwritten():
    with pytest.raises(BadInputError, match="no publisher-managed sections"):
        merge("# Hand-written card\n", _card(A2))


def test_broken_markers_are_refused():
    with pytest.raises(BadInputError, match="never closed"):
        segments("<!-- publisher:begin a -->\ntext\n")


def test_blank_lines_are_collapsed_outside_code_fences_only():
    text = "a\n\n\n\nb\n```\nx\n\n\n\ny\n```\n\n\nc \n"
    assert normalize_blank_lines(text) == "a\n\nb\n```\nx\n\n\n\ny\n```\n\nc\n"


def test_two_trailing_spaces_are_a_line_break_and_are_kept():
    assert normalize_blank_lines("first  \nsecond\n") == "first  \nsecond\n"
