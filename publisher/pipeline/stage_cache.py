"""The stage cache: typed stage results in ``OUTPUT/.publisher/cache.json``, keyed by the hashes of
their inputs and settings, so a re-run with unchanged inputs re-uses the export and the
measurements without loading the model."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from publisher.results import ExportResult, from_dict, to_jsonable
from publisher.tasks.run import CACHE_DIR


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class StageCache:
    """Typed records keyed by input hashes, in one JSON file; a missing or corrupt file is empty."""

    def __init__(self, folder: Path, enabled: bool) -> None:
        self.path = folder / CACHE_DIR / "cache.json"
        self.enabled = enabled
        try:
            self.data = json.loads(self.path.read_text()) if enabled else {}
        except (OSError, ValueError):
            self.data = {}

    def get(self, stage: str, key: str, cls: type) -> Any:
        rec = self.data.get(stage)
        if not (self.enabled and rec and rec.get("key") == key):
            return None
        try:
            return from_dict(cls, rec["value"])
        except (TypeError, KeyError, ValueError, AttributeError):
            return None  # written by another version: measure again

    def put(self, stage: str, key: str, value: Any) -> None:
        self.data[stage] = {"key": key, "value": to_jsonable(dataclasses.asdict(value))}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        os.replace(tmp, self.path)


def _export_intact(output: Path, export: ExportResult) -> bool:
    from publisher.digest import sha256_file

    for f in export.files:
        p = output / f.path
        if not p.is_file() or p.stat().st_size != f.size or sha256_file(p) != f.sha256:
            return False
    return True
