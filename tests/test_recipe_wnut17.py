"""recipes/wnut17_minilm.py: the recipe that builds the real 50%-sparse WNUT-17 token classifier.

The fast test checks that the recipe reads the bundled WNUT-17 files it names. The slow test runs
``--quick`` end to end (about 2 minutes on 2 shared cores) and checks the folder with plain
transformers, counting the sparsity itself, then publishes it (no push) on the bundled test split.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures_models import run_cli

REPO_ROOT = Path(__file__).resolve().parents[1]
RECIPE = REPO_ROOT / "recipes" / "wnut17_minilm.py"
BLOCK_LINEARS = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                 "intermediate.dense", "output.dense")


@pytest.fixture(scope="module")
def recipe():
    sys.path.insert(0, str(RECIPE.parent))
    spec = importlib.util.spec_from_file_location("wnut17_minilm_recipe", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_recipe_trains_on_the_bundled_train_split_with_wnut17s_labels(recipe):
    words, tags = recipe.read_conll(recipe.DATA_DIR / "wnut17_train.conll", recipe.TRAIN_SHA256)
    # The Hub dataset wnut_17 lists 3,394 train sentences; 1,975 entities (B- tags), counted here.
    assert len(words) == 3394 and sum(t.startswith("B-") for row in tags for t in row) == 1975
    assert {t for row in tags for t in row} == set(recipe.LABELS)
    from tests.fixtures_ner import WNUT17_LABELS

    assert recipe.LABELS == WNUT17_LABELS  # the id order of the Hub dataset, as the demo's model has it


@pytest.mark.slow
def test_quick_run_makes_a_half_sparse_token_classifier_that_publishes_on_wnut17(tmp_path):
    import torch
    from transformers import AutoModelForTokenClassification

    out = tmp_path / "ckpt"
    run = subprocess.run([sys.executable, str(RECIPE), "--quick", "--output-dir", str(out)], capture_output=True,
                         text=True, timeout=900, cwd=REPO_ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().splitlines()[-1] == str(out)
    model = AutoModelForTokenClassification.from_pretrained(str(out))
    zeros = total = 0
    for name, module in model.bert.encoder.layer.named_modules():
        if isinstance(module, torch.nn.Linear) and name.endswith(BLOCK_LINEARS):
            zeros += int((module.weight == 0).sum())
            total += module.weight.numel()
    assert total == 6 * (4 * 384 * 384 + 2 * 384 * 1536)  # 6 layers of MiniLM-L6: 10.6M block weights
    assert abs(zeros / total - 0.5) < 0.005
    nncf_config = json.loads((out / "nncf_config.json").read_text())
    assert nncf_config[0]["algorithm"] == "magnitude_sparsity" and nncf_config[0]["params"]["sparsity_target"] == 0.5
    published = run_cli("publish", str(out), "--repo-id", "t/wnut17-quick", "--output", str(tmp_path / "rel"),
                        "--no-push", "--license", "apache-2.0", "--min-sparsity", "0.495", "--max-f1-drop", "1",
                        "--json")
    assert published.returncode == 0, published.stderr[-3000:]
    doc = json.loads(published.stdout)
    assert doc["task_results"]["dataset"]["name"] == "WNUT-17"
    assert abs(doc["sparsity"]["openvino"]["overall"] - zeros / total) < 0.01
