"""Slow: all-MiniLM-L6-v2 (the packaged sentence-transformers folder) released with INT8 weights on the
bundled STS Benchmark test split, pushed to a local hub, then run as pushed by sentence-transformers
(``backend="openvino"``) and by optimum-intel (``subfolder="openvino"``), each compared with the torch
model; the card's own usage snippets run; ``publisher verify`` holds."""

import json
import subprocess
import sys

import pytest

from tests.fixtures_hub import hub_env
from tests.fixtures_models import minilm_tokenizer_dir, run_cli

pytestmark = pytest.mark.slow

REPO = "tests/all-MiniLM-L6-v2-int8-ov"
SENTENCES = ["A man is playing a guitar.", "OpenVINO runs this model on a CPU.", "The cat sleeps on the sofa."]


@pytest.fixture(scope="module")
def released(hub_server, tmp_path_factory):
    out = tmp_path_factory.mktemp("minilm") / "out"
    result = run_cli("publish", str(minilm_tokenizer_dir()), "--repo-id", REPO, "--endpoint", hub_server.endpoint,
                     "--output", str(out), "--license", "apache-2.0",
                     "--base-model", "sentence-transformers/all-MiniLM-L6-v2", "--base-model-relation", "quantized",
                     "--json", env=hub_env(hub_server), timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    return json.loads(result.stdout), out


def test_the_release_passes_its_gates_on_the_whole_sts_benchmark(released):
    doc, _ = released
    r = doc["task_results"]
    assert doc["status"] == "released" and all(g["passed"] for g in doc["gates"])
    assert r["dataset"]["num_samples"] == 1379 and r["dataset"]["type"] == "mteb/stsbenchmark-sts"
    # all-MiniLM-L6-v2's published STSb test Spearman is about 82 (sentence-transformers' own figure).
    assert 0.80 < r["torch"]["spearman"] < 0.84
    assert abs(r["torch"]["spearman"] - r["openvino"]["spearman"]) < 0.01


def python_blocks(card: str) -> list[str]:
    import re
    import textwrap

    return [textwrap.dedent(b) for b in re.findall(r"^```python\n(.*?)^```", card, flags=re.S | re.M)]


def _run(code: str, hub_server, tmp_path) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=hub_env(hub_server),
                            cwd=tmp_path, timeout=600)
    assert result.returncode == 0, code + result.stderr[-3000:]
    return result.stdout


def test_sentence_transformers_and_optimum_run_the_pushed_release_like_the_torch_model(released, hub_server,
                                                                                   tmp_path):
    code = f"""
import json, numpy as np, torch
from sentence_transformers import SentenceTransformer
from optimum.intel import OVModelForFeatureExtraction
from transformers import AutoTokenizer
s = {SENTENCES!r}
torch_model = SentenceTransformer({str(minilm_tokenizer_dir())!r}, device="cpu")
ref = torch_model.encode(s)
ov = SentenceTransformer({REPO!r}, backend="openvino").encode(s)
pushed_torch = SentenceTransformer({REPO!r}, device="cpu").encode(s)
m = OVModelForFeatureExtraction.from_pretrained({REPO!r}, subfolder="openvino")
tok = AutoTokenizer.from_pretrained({REPO!r})
inp = tok(s, padding=True, truncation=True, max_length=256, return_tensors="pt")
t = m(**inp).last_hidden_state
mask = inp["attention_mask"].unsqueeze(-1).to(t.dtype)
e = torch.nn.functional.normalize((t * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=1).numpy()
cos = lambda a, b: (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
print(json.dumps({{"st_openvino": cos(ref, ov).min().item(), "optimum": cos(ref, e).min().item(),
                  "pushed_torch": float(np.abs(ref - pushed_torch).max())}}))
"""
    got = json.loads(_run(code, hub_server, tmp_path).strip().splitlines()[-1])
    assert got["st_openvino"] > 0.99 and got["optimum"] > 0.99
    assert got["pushed_torch"] < 1e-5  # the root's PyTorch weights are the model measured


def test_the_cards_usage_snippets_run_against_the_pushed_release(released, hub_server, tmp_path):
    _, out = released
    snippets = python_blocks((out / "README.md").read_text())
    assert len(snippets) == 2 and "backend=\"openvino\"" in snippets[0], snippets
    for code in snippets:
        _run(code, hub_server, tmp_path)


def test_verify_holds_from_the_ir_alone(released, hub_server, tmp_path):
    result = run_cli("verify", REPO, "--endpoint", hub_server.endpoint, "--work-dir", str(tmp_path / "v"),
                     "--json", env=hub_env(hub_server), timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    doc = json.loads(result.stdout)
    checked = {c["claim"]: c["verdict"] for c in doc["checks"]}
    assert checked["cosine_spearman.openvino"] == "holds" and checked["neighbours.overlap"] == "holds"
