"""What the publish runner hands a task's measuring step, and how a step's time is recorded."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from publisher.progress import Progress
from publisher.results import ExportResult, GateResult

CACHE_DIR = ".publisher"  # hidden folder of the output folder: caches, staging, logs; never pushed


class StageTimer:
    """Seconds per stage for report.json's ``timings`` (this run only)."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.record(stage, time.perf_counter() - start)

    def record(self, stage: str, seconds: float) -> None:
        self._seconds[stage] = seconds

    def rounded(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self._seconds.items()}


@dataclass(frozen=True)
class MeasureRequest:
    """One task's measuring step: load, export (unless ``export`` is a valid cached one), measure."""

    settings: Any  # publisher.settings.PublishSettings
    output: Path
    export: ExportResult | None  # from the cache, already checked intact
    on_export: Callable[[ExportResult], None]  # caches a fresh export before measuring starts
    progress: Progress
    timer: StageTimer = field(default_factory=StageTimer)

    @property
    def staging_dir(self) -> Path:
        return self.output / CACHE_DIR / "staging"


def now_utc() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def without_tokens(training_args: dict[str, Any] | None) -> dict[str, Any] | None:
    """Token-like keys (hub_token, ...) are never needed and never kept, not even in the cache."""
    if not training_args:
        return training_args
    return {k: v for k, v in training_args.items() if "token" not in str(k).lower()}


def check_gates(checks: list[tuple[str, float | None, float | None, str]]) -> list[GateResult]:
    """(name, measured, threshold, ">=" | "<=") -> verdicts; a None threshold is a gate switched off,
    a None measurement (nothing to measure) is left out."""
    out = []
    for name, measured, threshold, op in checks:
        if threshold is None or measured is None:
            continue
        # A tolerance of 1e-9 keeps float noise (0.1 - 0.1 = 1e-17) from failing a gate at 0.
        passed = measured >= threshold - 1e-9 if op == ">=" else measured <= threshold + 1e-9
        out.append(GateResult(name, float(measured), float(threshold), op, passed))
    return out
