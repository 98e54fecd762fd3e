"""Thread counts follow the CPUs a container really grants, not the host's count."""

import os

import pytest

from publisher import cpus


@pytest.mark.parametrize("files, expected", [
    ({"cpu.max": "150000 100000\n"}, 1.5),
    ({"cpu.max": "max 100000\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({}, None),
])
def test_cgroup_v2_and_v1_quotas_are_read(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cpus._cgroup_quota(tmp_path) == expected


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
