"""How many CPUs this process may really use, and thread settings that respect it.

``os.cpu_count()`` counts the host's CPUs. In a container limited by a CPU quota (cgroup
``cpu.max``) or an affinity mask, torch's OpenMP pool and OpenVINO would start one thread per
host CPU; oversubscribed threads that spin at barriers then run tens of times slower under
throttling. Every thread count publisher sets comes from :func:`available_cpus`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path


def _cgroup_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs allowed by the cgroup v2 (``cpu.max``) or v1 (``cfs_quota_us``) quota, if any."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        if quota != "max":
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    except (OSError, ValueError):
        return None


def _affinity() -> int | None:
    """CPUs in this process's affinity mask (None where the platform has no such mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def available_cpus() -> int:
    """CPUs this process can run on: the affinity mask, capped by the cgroup quota (at least 1)."""
    count = _affinity() or os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        count = min(count, max(1, math.ceil(quota)))
    return max(1, count)


def describe() -> str:
    """One line for logs and test headers: what this machine offers this process."""
    quota = _cgroup_quota()
    return (f"cpus: available {available_cpus()} (host {os.cpu_count()}, affinity {_affinity()}, "
            f"cgroup quota {'none' if quota is None else round(quota, 2)})")


def limit_torch_threads() -> int:
    """Cap torch's intra-op pool at the available CPUs; returns the count in use."""
    import torch

    cpus = available_cpus()
    if torch.get_num_threads() > cpus:
        torch.set_num_threads(cpus)
    return torch.get_num_threads()
