"""publisher's hub client refuses a branch or tag name the Hub cannot hold, before any work.

``publisher publish --tag T`` creates the tag after the release commit: an invalid tag found by
the Hub left a pushed, untagged release and a failed run. The rule is the server's own
(publisher/hub/server/refnames.py), checked in the pipeline's ``check()``.
"""

from __future__ import annotations

import pytest

from publisher.errors import BadInputError
from publisher.hub.client import validate_ref_name, validate_release_refs


@pytest.mark.parametrize("tag", ["v1.0", "release/2026-q4", "v1.0-rc.1"])
def test_valid_tags_pass(tag):
    validate_ref_name(tag, "tag")
    validate_release_refs("main", tag)


@pytest.mark.parametrize("tag,reason", [("v 1", "not allowed"), ("v1..2", "'..'"),
                                        ("x" * 300, "bytes long"), ("v1.lock", ".lock"),
                                        ("-v1", "'-'"), ("\ud800", "not valid Unicode")])
def test_an_invalid_tag_is_bad_input_naming_the_option(tag, reason):
    with pytest.raises(BadInputError) as error:
        validate_release_refs("main", tag)
    text = error.value.paragraph()
    assert text.startswith("--tag ") and reason in text and "not a valid tag name" in text
    assert len(text) < 600  # a 300-character name is cut, not repeated whole
    assert error.value.exit_code == 2


def test_the_revision_branch_is_checked_too_except_a_pull_request():
    validate_release_refs("refs/pr/3", None)  # committing to an open PR creates no branch
    validate_release_refs("dev/x", "")  # an empty --tag means no tag
    with pytest.raises(BadInputError, match="^--revision 'a b'"):
        validate_release_refs("a b", None)
    with pytest.raises(BadInputError, match="--revision"):
        validate_release_refs("refs/pr/x", None)


def test_check_refuses_an_invalid_tag_before_reading_the_checkpoint(tmp_path):
    from publisher.pipeline import check
    from publisher.settings import HubOptions, PublishSettings

    settings = PublishSettings(checkpoint=tmp_path / "does-not-exist", repo_id="tester/model",
                               output=tmp_path / "out", hub=HubOptions(tag="v 1", push=True))
    with pytest.raises(BadInputError, match="^--tag 'v 1' is not a valid tag name"):
        check(settings)
    assert not (tmp_path / "out").exists()  # refused before anything was prepared
