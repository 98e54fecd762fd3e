"""Slow: the LLM demo's release (SmolLM2-135M-Instruct from the packaged GGUF, INT4 weights, the
demo's own config file) published to a local hub, and both of the card's usage snippets run
against what was pushed, as a reader would."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures_hub import hub_env
from tests.fixtures_llm import card_snippets
from tests.fixtures_models import run_cli

ROOT = Path(__file__).parent.parent
CONFIG = ROOT / "recipes" / "smollm2-int4.toml"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def released(hub_server, tmp_path_factory):
    pytest.importorskip("gguf")
    base = tmp_path_factory.mktemp("smollm2")
    ckpt = base / "ckpt"
    made = subprocess.run([sys.executable, str(ROOT / "recipes" / "smollm2_from_gguf.py"), "--output",
                           str(ckpt)], capture_output=True, text=True, timeout=900)
    assert made.returncode == 0, made.stderr[-3000:]
    result = run_cli("publish", str(ckpt), "--config", str(CONFIG), "--endpoint", hub_server.endpoint,
                     "--output", str(base / "out"), "--json", env=hub_env(hub_server), timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    return json.loads(result.stdout), base / "out"


def test_the_demo_release_passes_its_gates_with_int4_weights(released):
    doc, _ = released
    assert doc["status"] == "released" and doc["export"]["weight_format"] == "int4"
    assert all(g["passed"] for g in doc["gates"])
    assert doc["text_generation"]["weight_precision"]["shares"]["int4"] > 0.3


def test_both_usage_snippets_of_the_card_run_against_the_pushed_release(released, hub_server, tmp_path):
    doc, out = released
    snippets = card_snippets((out / "README.md").read_text())
    assert len(snippets) == 2, snippets
    for code in snippets:
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                env=hub_env(hub_server), cwd=tmp_path, timeout=600)
        assert result.returncode == 0, code + result.stderr[-3000:]
        assert result.stdout.strip(), code  # the snippet prints the generated answer
