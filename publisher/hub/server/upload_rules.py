"""The Hub's preupload decisions: which files go to LFS and which a ``.gitignore`` drops.

A file is uploaded through LFS when ``.gitattributes`` routes it there (``filter=lfs``), when it
is 10 MiB or larger, or when its first bytes hold a NUL (git's own binary test): the Hub refuses
binary content in plain git blobs. Everything else travels inline in the commit.

The pattern semantics are git's, through dulwich (``dulwich.attrs``, ``dulwich.ignore``), not an
approximation of them.
"""

from __future__ import annotations

from io import BytesIO

from dulwich.attrs import Pattern, match_path, parse_git_attributes
from dulwich.ignore import IgnoreFilter

LFS_THRESHOLD = 10 * 1024 * 1024


class GitIgnore:
    def __init__(self, text: str | None) -> None:
        lines = (text or "").encode("utf-8", "surrogateescape").splitlines()
        self._filter = IgnoreFilter(lines)

    def ignores(self, path: str) -> bool:
        """As git decides for a file at ``path``: a file inside an ignored folder is ignored,
        and no negation can bring it back (git does not look inside excluded folders)."""
        parts = path.split("/")
        for depth in range(1, len(parts)):
            if self._filter.is_ignored("/".join(parts[:depth]) + "/"):
                return True
        return bool(self._filter.is_ignored(path))


class LfsAttributes:
    """The ``filter`` attribute of each path under a ``.gitattributes`` file (later lines win)."""

    def __init__(self, text: str | None) -> None:
        entries = parse_git_attributes(BytesIO((text or "").encode("utf-8", "surrogateescape")))
        self._patterns = []
        for pattern, attributes in entries:
            try:
                self._patterns.append((Pattern(pattern), attributes))
            except Exception:  # a pattern git itself would not compile: git skips it too
                continue

    def wants_lfs(self, path: str) -> bool:
        attributes = match_path(self._patterns, path.encode("utf-8", "surrogateescape"))
        return attributes.get(b"filter") == b"lfs"


def upload_mode(path: str, size: int, sample: bytes, attributes: LfsAttributes) -> str:
    if size >= LFS_THRESHOLD or b"\x00" in sample or attributes.wants_lfs(path):
        return "lfs"
    return "regular"
