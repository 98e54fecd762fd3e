"""`publisher bench` and the benchmark script (figures belong to the benchmark, not to assertions)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures_models import run_cli

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def ir_dir(nncf_checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench-ir")
    result = run_cli("export", str(nncf_checkpoint), "-o", str(out), "--json")
    assert result.returncode == 0, result.stderr
    return out


def test_bench_reports_latency_throughput_cpu_and_version(ir_dir):
    result = run_cli("bench", str(ir_dir), "--seconds", "1", "--seq-len", "16", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["latency_ms"]["median"] > 0 and doc["latency_ms"]["runs"] >= 10
    assert doc["throughput"]["samples_per_second"] > 0
    assert doc["cpu"] and doc["openvino"].startswith("2026")
    amx = "amx_tile" in Path("/proc/cpuinfo").read_text()
    assert doc["sparse_decompression"]["supported"] is amx


def test_bench_refuses_a_folder_without_an_ir(tmp_path):
    result = run_cli("bench", str(tmp_path))
    assert result.returncode == 2 and "no complete OpenVINO IR" in result.stderr


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_benchmark_script_quick_mode_writes_its_json(tmp_path):
    result = subprocess.run([sys.executable, "benchmarks/bench_publish.py", "--quick", "--output",
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    (path,) = tmp_path.glob("bench-quick-*.json")
    doc = json.loads(path.read_text())
    tiny = doc["models"]["tiny"]
    assert set(tiny["ratios"]) == {"a/b", "a/c", "d/a"}
    assert tiny["steps"]["d_republish"]["status"] == "unchanged"


def test_publish_bench_adds_a_cached_performance_section(nncf_checkpoint, tmp_path):
    args = ["publish", str(nncf_checkpoint), "--no-push", "--output", str(tmp_path / "o"), "--bench",
            "--max-accuracy-drop", "1", "--min-argmax-agreement", "0.5", "--max-logit-diff", "10", "--json"]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert doc["performance"]["throughput"]["samples_per_second"] > 0
    card = (tmp_path / "o" / "README.md").read_text()
    assert "## Performance" in card and f"{doc['performance']['latency_ms']['median']:.2f} ms" in card
    again = json.loads(run_cli(*args).stdout)
    # Re-used, not re-measured: a re-publish must not change the card.
    assert again["cache"]["bench"] is True and again["performance"] == doc["performance"]
