"""Content-addressed store for LFS objects, shared by every repository under one root.

Objects live at ``lfs/objects/ab/cd/<sha256>``. An upload is streamed to ``lfs/tmp``, hashed on
the way, and moved into place with ``os.replace`` only once its sha256 and size match what the
client announced, so a half-written or corrupt file is never visible under its oid.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from dulwich.lfs import LFSPointer

from publisher.hub.server.errors import PayloadError

_OID = re.compile(r"[0-9a-f]{64}")  # with fullmatch: "$" would let a trailing "\n" pass
_MAX_POINTER_BYTES = 200


@dataclass(frozen=True)
class LfsPointer:
    """What a git blob says about an LFS file: its content hash and size (an immutable value
    for the modules that pass it around; the format itself is dulwich's ``LFSPointer``)."""

    oid: str
    size: int

    def encode(self) -> bytes:
        return LFSPointer(self.oid, self.size).to_bytes()

    @property
    def pointer_size(self) -> int:
        return len(self.encode())


def parse_pointer(data: bytes) -> LfsPointer | None:
    """The pointer a blob holds, or None for an ordinary file.

    Only a pointer in its exact canonical form counts: dulwich's parser also accepts extra
    lines and any oid, and a user's text file that merely resembles a pointer must stay a file.
    """
    if len(data) > _MAX_POINTER_BYTES or not data.startswith(b"version "):
        return None
    pointer = LFSPointer.from_bytes(data)
    if pointer is None or not is_oid(pointer.oid) or pointer.to_bytes() != data:
        return None
    return LfsPointer(pointer.oid, pointer.size)


def is_oid(value: object) -> bool:
    """A sha256 as LFS names objects: a string of exactly 64 lowercase hex digits."""
    return isinstance(value, str) and bool(_OID.fullmatch(value))


def is_size(value: object) -> bool:
    """An object size: a non-negative JSON integer. ``true`` is no size, though Python's bool
    is an int (``True == 1``), and neither are ``1.0`` or ``"1"``."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class LfsUpload:
    """One object being received: write chunks, then ``commit`` (verify and publish) or ``abort``."""

    def __init__(self, store: "LfsStore", oid: str, size: int) -> None:
        self._store = store
        self.oid = oid
        self.size = size
        self._tmp = store.tmp_dir / f"{oid}.{uuid.uuid4().hex}"
        self._file = open(self._tmp, "wb")
        self._hash = hashlib.sha256()
        self._written = 0

    def write(self, chunk: bytes) -> None:
        self._written += len(chunk)
        if self._written > self.size:
            raise PayloadError(f"More bytes than the announced size {self.size} for {self.oid}")
        self._hash.update(chunk)
        self._file.write(chunk)

    def commit(self) -> None:
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            if self._written != self.size or self._hash.hexdigest() != self.oid:
                raise PayloadError(
                    f"Uploaded content does not match oid {self.oid} and size {self.size} "
                    f"(got {self._written} bytes, sha256 {self._hash.hexdigest()})")
            final = self._store.path_for(self.oid)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._tmp, final)
        finally:
            self.abort()

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._tmp.unlink(missing_ok=True)


class LfsStore:
    def __init__(self, root: Path) -> None:
        self.objects_dir = root / "objects"
        self.tmp_dir = root / "tmp"
        self.objects_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def path_for(self, oid: str) -> Path:
        if not is_oid(oid):
            raise PayloadError(f"Invalid LFS oid {oid!r}: expected 64 lowercase hex digits")
        return self.objects_dir / oid[:2] / oid[2:4] / oid

    def size_of(self, oid: str) -> int | None:
        """The stored size of ``oid``, or None when it is not stored."""
        try:
            return self.path_for(oid).stat().st_size
        except FileNotFoundError:
            return None

    def begin(self, oid: str, size: int) -> LfsUpload:
        self.path_for(oid)  # validates the oid before a temp file exists
        if size < 0:
            raise PayloadError(f"Invalid size {size} for LFS object {oid}")
        return LfsUpload(self, oid, size)

    def discard_partial_uploads(self) -> int:
        """Remove uploads a killed server left behind; only safe while no upload is running."""
        removed = 0
        for leftover in self.tmp_dir.iterdir():
            leftover.unlink(missing_ok=True)
            removed += 1
        return removed
