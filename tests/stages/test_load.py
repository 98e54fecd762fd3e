"""Stage 1, load: what publisher accepts, what it refuses, and how it folds NNCF state in."""

import json
import shutil

import pytest

from publisher.errors import BadInputError
from publisher.stages.load import load_checkpoint
from tests.fixtures_models import build_tiny, count_scope_zeros


def test_reads_architecture_labels_and_file_digests(tiny_checkpoint):
    loaded = load_checkpoint(tiny_checkpoint)
    info = loaded.info
    assert info.architecture == "BertForSequenceClassification"
    assert info.id2label == {0: "negative", 1: "positive"}
    assert info.weights_format == "safetensors"
    assert {f.path for f in info.files} >= {"config.json", "model.safetensors"}
    assert all(len(f.sha256) == 64 for f in info.files)
    assert not loaded.model.training


def test_tokenizer_knows_ordinary_words(tiny_checkpoint):
    tok = load_checkpoint(tiny_checkpoint).tokenizer
    ids = tok("a charming and affecting journey")["input_ids"]
    assert tok.unk_token_id not in ids


def test_nncf_masks_saved_beside_the_weights_are_applied(nncf_checkpoint):
    # save_pretrained() on an nncf.prune()d model writes dense weights plus mask tensors.
    from safetensors.torch import load_file

    raw = load_file(str(nncf_checkpoint / "model.safetensors"))
    assert any(k.startswith("__nncf_hooks") for k in raw)
    loaded = load_checkpoint(nncf_checkpoint)
    zeros, elements = count_scope_zeros(loaded.model)
    assert loaded.info.nncf_compressed
    assert zeros / elements == pytest.approx(0.6, abs=0.002)


def test_missing_folder_is_refused(tmp_path):
    with pytest.raises(BadInputError, match="does not exist"):
        load_checkpoint(tmp_path / "nope")


def test_folder_without_config_is_refused(tmp_path):
    with pytest.raises(BadInputError, match="no config.json"):
        load_checkpoint(tmp_path)


def test_unsupported_architecture_is_refused(tmp_path, tiny_checkpoint):
    ckpt = shutil.copytree(tiny_checkpoint, tmp_path / "c")
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["architectures"] = ["BertForMaskedLM"]
    (ckpt / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(BadInputError, match="not a text classifier"):
        load_checkpoint(ckpt)


def test_weights_that_do_not_match_the_config_are_refused(tmp_path, tiny_checkpoint):
    ckpt = shutil.copytree(tiny_checkpoint, tmp_path / "c")
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["hidden_size"], cfg["num_attention_heads"] = 64, 4
    (ckpt / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(BadInputError, match="do not match its config.json"):
        load_checkpoint(ckpt)


def test_truncated_safetensors_is_refused(tmp_path, tiny_checkpoint):
    ckpt = shutil.copytree(tiny_checkpoint, tmp_path / "c")
    data = (ckpt / "model.safetensors").read_bytes()
    (ckpt / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInputError, match="truncated or corrupted"):
        load_checkpoint(ckpt)


def test_pickle_weights_need_trust_pickle(tmp_path):
    import torch
    from transformers import BertForSequenceClassification

    ckpt = build_tiny(tmp_path / "c")
    model = BertForSequenceClassification.from_pretrained(ckpt)
    (ckpt / "model.safetensors").unlink()
    torch.save(model.state_dict(), ckpt / "pytorch_model.bin")
    with pytest.raises(BadInputError, match="--trust-pickle"):
        load_checkpoint(ckpt)
    assert load_checkpoint(ckpt, trust_pickle=True).info.weights_format == "pytorch_bin"


def test_training_metadata_is_read_without_unpickling(tmp_path, tiny_checkpoint):
    ckpt = shutil.copytree(tiny_checkpoint, tmp_path / "c")
    (ckpt / "nncf_config.json").write_text(json.dumps([{"algorithm": "magnitude_sparsity"}]))
    (ckpt / "training_command.txt").write_text("python train.py --seed 1\n")
    (ckpt / "training_metadata.json").write_text(json.dumps({"base_model": "org/base", "seed": 7}))
    (ckpt / "training_args.bin").write_bytes(b"\x80\x04not a real pickle")
    info = load_checkpoint(ckpt).info
    assert info.training.nncf_config == [{"algorithm": "magnitude_sparsity"}]
    assert info.training.training_command == "python train.py --seed 1"
    assert info.training.base_model == "org/base" and info.training.seed == 7
    assert "training_args.bin" not in {f.path for f in info.files}


# --- causal language models (issue 12) ----------------------------------------------------------


@pytest.mark.parametrize("family", ["llama", "qwen2", "gpt2"])
def test_causal_lm_loads_with_the_same_logits_as_transformers(tmp_path, family):
    import torch
    import transformers

    from tests.fixtures_llm import build_tiny_lm

    folder = build_tiny_lm(tmp_path / family, family)
    loaded = load_checkpoint(folder, auto_class="AutoModelForCausalLM")
    ref = transformers.AutoModelForCausalLM.from_pretrained(str(folder)).eval()
    ids = loaded.tokenizer("The capital of France is Paris.", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.equal(loaded.model(ids).logits, ref(ids).logits)
    assert loaded.info.architecture == type(ref).__name__
    assert (loaded.info.num_labels, loaded.info.id2label) == (0, {})
    # Tied embeddings stay tied (saved once, not reported missing).
    if loaded.config.tie_word_embeddings:
        assert loaded.model.lm_head.weight is loaded.model.get_input_embeddings().weight


def test_causal_lm_without_a_tokenizer_is_refused(tmp_path):
    from tests.fixtures_llm import build_tiny_lm

    folder = build_tiny_lm(tmp_path / "lm", "llama", tokenizer=False)
    with pytest.raises(BadInputError, match="has no tokenizer.*tokenizer.save_pretrained"):
        load_checkpoint(folder, auto_class="AutoModelForCausalLM")


def test_classifier_folder_is_not_a_causal_lm_but_a_classifier_loads_as_before(tiny_checkpoint):
    with pytest.raises(BadInputError, match="cannot load as a causal language model"):
        load_checkpoint(tiny_checkpoint, auto_class="AutoModelForCausalLM")
    assert load_checkpoint(tiny_checkpoint).info.num_labels == 2


def test_gguf_file_or_folder_points_at_the_recipe(tmp_path):
    gguf = tmp_path / "model.Q4_1.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 60)
    for path in (gguf, tmp_path):
        with pytest.raises(BadInputError, match=r"GGUF.*recipes/smollm2_from_gguf\.py --output DIR.*gguf_file"):
            load_checkpoint(path, auto_class="AutoModelForCausalLM")
    renamed = tmp_path / "weights.bin"
    gguf.rename(renamed)  # the magic bytes say GGUF whatever the name
    with pytest.raises(BadInputError, match="GGUF"):
        load_checkpoint(renamed, auto_class="AutoModelForCausalLM")


def test_read_config_does_not_check_the_architecture(tmp_path):
    from publisher.stages.load import read_config
    from tests.fixtures_llm import build_tiny_lm

    folder = build_tiny_lm(tmp_path / "lm", "gpt2")
    assert read_config(folder)["architectures"] == ["GPT2LMHeadModel"]
