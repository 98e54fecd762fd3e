"""Branch and tag names (publisher/hub/server/refnames.py): git's rule, the length limit, clashes.

Cases are checked against ``git check-ref-format --branch`` when git is installed, so the rule
cannot drift from git's without a failing test.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from publisher.hub.server.refnames import MAX_REF_NAME_BYTES, ref_conflict, ref_name_problem

VALID = ["main", "dev", "dev/x", "release/2026/q4", "v1.0", "v1.0-rc.1", "feature_x", "a",
         "caf\u00e9", "x" * MAX_REF_NAME_BYTES, "UPPER/lower", "a.b", "with@sign", "tag+meta"]
# (name, a word the reason must contain)
INVALID = [
    ("", "empty"), ("x" * (MAX_REF_NAME_BYTES + 1), "bytes long"), ("x" * 300, "bytes long"),
    ("\u00e9" * 101, "bytes long"),  # 101 characters, 202 bytes of UTF-8
    ("a b", "not allowed"), ("a\tb", "not allowed"), ("a\x00b", "not allowed"),
    ("a\nb", "not allowed"), ("a\x7fb", "not allowed"), ("a~1", "not allowed"),
    ("a^", "not allowed"), ("a:b", "not allowed"), ("a?", "not allowed"), ("a*", "not allowed"),
    ("a[b", "not allowed"), ("a\\b", "not allowed"), ("a..b", "'..'"), ("a@{b", "'@{'"),
    ("@", "'@'"), ("-lead", "'-'"), ("trail.", "end with '.'"), ("a//b", "empty components"),
    ("/a", "empty components"), ("a/", "empty components"), (".hidden", "start with '.'"),
    ("a/.b", "start with '.'"), ("x.lock", ".lock"), ("a.lock/b", ".lock"), ("HEAD", "reserved"),
    ("0123456789abcdef0123456789abcdef01234567", "commit id"), ("refs/pr/1", "refs/"),
    ("refs/tags/v1", "refs/"), ("\ud800", "not valid Unicode"),
]


@pytest.mark.parametrize("name", VALID)
def test_valid_names(name):
    assert ref_name_problem(name, "branch") is None
    assert ref_name_problem(name, "tag") is None


@pytest.mark.parametrize("name,reason", INVALID)
def test_invalid_names_name_their_reason(name, reason):
    for kind in ("branch", "tag"):
        problem = ref_name_problem(name, kind)
        assert problem is not None and reason in problem, (kind, name, problem)


def test_a_branch_may_be_given_as_a_full_ref_and_a_tag_may_not():
    assert ref_name_problem("refs/heads/dev", "branch") is None
    assert ref_name_problem("refs/heads/a..b", "branch") is not None
    assert ref_name_problem("refs/heads/dev", "tag") is not None
    assert ref_name_problem(7, "tag") == "a name must be a string"


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("name", [*VALID, *(n for n, _ in INVALID)])
def test_every_name_git_refuses_is_refused(name):
    if "\x00" in name or "\ud800" in name:
        pytest.skip("not passable as a command-line argument")
    result = subprocess.run(["git", "check-ref-format", "--branch", name], capture_output=True)
    if result.returncode != 0:
        assert ref_name_problem(name, "branch") is not None, name


@pytest.mark.parametrize("name,existing,clash", [
    ("dev/x", ["main", "dev"], "dev"),          # nested under an existing ref
    ("dev/x/y", ["dev"], "dev"),
    ("p", ["main", "p/q"], "p/q"),              # the parent of an existing ref
    ("p", ["p/q/r"], "p/q/r"),
    ("dev", ["dev"], None),                    # the same name is "already exists", elsewhere
    ("dev2", ["dev"], None),
    ("de", ["dev/x"], None),
    ("Dev/x", ["dev"], None),                  # case matters, as in git on Linux
])
def test_ref_conflict(name, existing, clash):
    assert ref_conflict(name, existing) == clash
