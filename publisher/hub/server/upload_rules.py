"""The Hub's preupload decisions: which files go to LFS and which a ``.gitignore`` drops.

A file is uploaded through LFS when ``.gitattributes`` routes it there (``filter=lfs``), when it
is 10 MiB or larger, or when its first bytes hold a NUL (git's own binary test): the Hub refuses
binary content in plain git blobs. Everything else travels inline in the commit.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

LFS_THRESHOLD = 10 * 1024 * 1024


@dataclass(frozen=True)
class _Pattern:
    glob: str
    anchored: bool  # contains a '/': matched against the whole path, not the file name
    directory_only: bool = False
    negated: bool = False

    def matches(self, path: str) -> bool:
        if self.anchored:
            return fnmatch.fnmatchcase(path, self.glob) or fnmatch.fnmatchcase(path, self.glob + "/*")
        parts = path.split("/")
        candidates = parts[:-1] if self.directory_only else parts
        return any(fnmatch.fnmatchcase(part, self.glob) for part in candidates)


def _parse(line: str) -> _Pattern | None:
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    negated = line.startswith("!")
    line = line[1:] if negated else line
    directory_only = line.endswith("/")
    line = line.rstrip("/")
    anchored = "/" in line
    glob = line.lstrip("/").replace("**/", "*").replace("/**", "/*")
    return _Pattern(glob, anchored, directory_only, negated) if glob else None


class GitIgnore:
    def __init__(self, text: str | None) -> None:
        self._patterns = [p for p in map(_parse, (text or "").splitlines()) if p]

    def ignores(self, path: str) -> bool:
        ignored = False
        for pattern in self._patterns:
            if pattern.matches(path):
                ignored = not pattern.negated
        return ignored


class LfsAttributes:
    """The ``filter=lfs`` patterns of a ``.gitattributes`` file (later lines win)."""

    def __init__(self, text: str | None) -> None:
        self._rules: list[tuple[_Pattern, bool]] = []
        for line in (text or "").splitlines():
            fields = line.split()
            if len(fields) < 2 or fields[0].startswith("#"):
                continue
            pattern = _parse(fields[0])
            if pattern is None:
                continue
            attrs = fields[1:]
            if "filter=lfs" in attrs:
                self._rules.append((pattern, True))
            elif "-filter" in attrs or "!filter" in attrs:
                self._rules.append((pattern, False))

    def wants_lfs(self, path: str) -> bool:
        decision = False
        for pattern, lfs in self._rules:
            if pattern.matches(path):
                decision = lfs
        return decision


def upload_mode(path: str, size: int, sample: bytes, attributes: LfsAttributes) -> str:
    if size >= LFS_THRESHOLD or b"\x00" in sample or attributes.wants_lfs(path):
        return "lfs"
    return "regular"
