"""File digests: sha256 for checkpoints, releases and data; git's blob sha1 for the Hub's file ids."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def _digest(path: Path, h: "hashlib._Hash") -> str:
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_file(path: Path) -> str:
    return _digest(path, hashlib.sha256())


def git_blob_sha1(path: Path) -> str:
    """The id git (and so the Hub) gives a file's content."""
    return _digest(path, hashlib.sha1(f"blob {Path(path).stat().st_size}\0".encode()))
