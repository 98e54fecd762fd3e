"""Branch and tag names: git's ref-name rules plus the local hub's length limit, in one place.

The rule is ``git check-ref-format --branch`` (``git help check-ref-format``), checked on the name
itself, before anything is written: a name git would refuse cannot be stored as a ref file, and
one that breaks a file-system limit (a 300-character name: ``File name too long``) used to reach
the disk and come back as a 500. The server's storage and publisher's hub client
(``publisher.hub.client.validate_ref_name``) share this module; it imports nothing but ``re``,
so the server stays free of torch and OpenVINO.

What the rule refuses, each with its reason:

- an empty name, or one over ``MAX_REF_NAME_BYTES`` bytes of UTF-8;
- text that is not valid Unicode (a lone surrogate) and so has no UTF-8 form;
- ASCII control characters, space, ``~ ^ : ? * [ \\``, ``..``, ``@{``, the name ``@``;
- an empty component (``a//b``, a leading or trailing ``/``), a component that starts with ``.``
  or ends with ``.lock``, a name that ends with ``.``;
- a name that starts with ``-`` (git refuses it as a branch or tag name), ``HEAD``;
- a 40-hex name (it would read as a commit id), and ``refs/...`` names other than the Hub's
  ``refs/heads/`` form for a branch.

A name that is valid here may still clash with an existing ref: ``dev/x`` cannot be created
while ``dev`` exists (``refs/heads/dev`` is a file, not a folder), nor ``dev`` while ``dev/x``
does. :func:`ref_conflict` finds that clash among the existing names.
"""

from __future__ import annotations

import re
from typing import Iterable

# The longest branch or tag name, in UTF-8 bytes. Every component of a name is a file name
# under refs/heads/ (refs/tags/), written first as ``<component>.lock``: 200 + 5 stays under
# the 255-byte file-name limit of common file systems (ext4, XFS, APFS, NTFS), and the whole
# ref path stays far below PATH_MAX.
MAX_REF_NAME_BYTES = 200

_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_HEX40 = re.compile(r"[0-9a-f]{40}")


def ref_name_problem(name: object, kind: str = "branch") -> str | None:
    """Why ``name`` cannot be a branch (``kind="branch"``) or tag name, or None when it can.

    A branch may be given as ``refs/heads/NAME`` (the Hub accepts that form); the rule is then
    applied to ``NAME``.
    """
    if not isinstance(name, str):
        return "a name must be a string"
    if kind == "branch" and name.startswith("refs/heads/"):
        name = name[len("refs/heads/"):]
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return "it holds text that is not valid Unicode (a lone surrogate)"
    if not name:
        return "a name cannot be empty"
    if size > MAX_REF_NAME_BYTES:
        return f"it is {size} bytes long; the local hub takes at most {MAX_REF_NAME_BYTES}"
    bad = _FORBIDDEN.search(name)
    if bad:
        shown = repr(bad.group())
        return f"{shown} is not allowed (no spaces, control characters or any of ~ ^ : ? * [ \\)"
    if ".." in name:
        return "'..' is not allowed"
    if "@{" in name or name == "@":
        return "'@{' and the name '@' are not allowed"
    if name.startswith("-"):
        return "a name cannot start with '-'"
    if name.endswith("."):
        return "a name cannot end with '.'"
    for part in name.split("/"):
        if not part:
            return "empty components ('//', or a leading or trailing '/') are not allowed"
        if part.startswith("."):
            return "a component cannot start with '.'"
        if part.endswith(".lock"):
            return "a component cannot end with '.lock'"
    if name == "HEAD":
        return "'HEAD' is reserved"
    if _HEX40.fullmatch(name):
        return "a 40-character hexadecimal name would read as a commit id"
    if name.startswith("refs/"):
        # A revision that starts with refs/ is read as a full ref, so such a branch or tag
        # could never be named again; the Hub refuses refs/pr/N as a branch the same way.
        return ("names under refs/ are reserved (pull requests are refs/pr/N); "
                + ("give the branch as NAME or refs/heads/NAME" if kind == "branch"
                   else "give the tag as NAME"))
    return None


def ref_conflict(name: str, existing: Iterable[str]) -> str | None:
    """An existing name that ``name`` cannot live beside: its parent or a name nested under it.

    ``refs/heads/dev`` is a file, so ``dev/x`` (a file inside the folder ``dev``) cannot exist
    while it does, and ``dev`` cannot be created while ``dev/...`` exists. git refuses the same
    pairs ("'refs/heads/dev' exists; cannot create 'refs/heads/dev/x'").
    """
    for other in existing:
        if other == name:
            continue
        if name.startswith(other + "/") or other.startswith(name + "/"):
            return other
    return None


__all__ = ["MAX_REF_NAME_BYTES", "ref_conflict", "ref_name_problem"]
