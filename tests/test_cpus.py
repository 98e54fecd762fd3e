"""Thread counts follow the CPUs a container really grants, not the host's count."""

import os

from publisher import cpus


def test_a_cgroup_quota_caps_the_affinity_mask(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    monkeypatch.setattr(cpus, "_cgroup_quota", lambda: 1.5)
    assert cpus.available_cpus() == 2


def test_without_a_quota_the_affinity_mask_counts(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5})
    monkeypatch.setattr(cpus, "_cgroup_quota", lambda: None)
    assert cpus.available_cpus() == 3


def test_a_tiny_quota_still_leaves_one_cpu(monkeypatch):
    monkeypatch.setattr(cpus, "_cgroup_quota", lambda: 0.2)
    assert cpus.available_cpus() == 1


def test_torch_threads_never_exceed_the_available_cpus(monkeypatch):
    import torch

    before = torch.get_num_threads()
    monkeypatch.setattr(cpus, "available_cpus", lambda: 1)
    try:
        assert cpus.limit_torch_threads() == 1
    finally:
        torch.set_num_threads(before)
