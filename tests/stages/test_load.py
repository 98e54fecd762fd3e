"""Stage 1, load: what publisher accepts, what it refuses, and how it folds NNCF state in."""

import json
import shutil
from pathlib import Path

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


# --- found by the loader fuzzer (tests/test_loader_fuzz.py, issue 26) -----------------------------


def _copy(src, tmp_path, name="c"):
    return Path(shutil.copytree(src, tmp_path / name))


def _edit(folder, name, **changes):
    data = json.loads((folder / name).read_text()) if (folder / name).exists() else {}
    data.update(changes)
    (folder / name).write_text(json.dumps(data))


@pytest.mark.parametrize("field", ["num_hidden_layers", "hidden_size", "vocab_size"])
def test_config_far_larger_than_the_weights_is_refused_while_building(tmp_path, tiny_checkpoint, field):
    # A billion layers would have been built one by one until the machine ran out of memory; a
    # 2**40 hidden size or vocabulary failed in the allocator (exit 1).
    ckpt = _copy(tiny_checkpoint, tmp_path)
    _edit(ckpt, "config.json", **{field: 10 ** 9 if field == "num_hidden_layers" else 2 ** 40})
    with pytest.raises(BadInputError, match=r"config\.json describes a BertForSequenceClassification much "
                                            r"larger than the weights.*save_pretrained"):
        load_checkpoint(ckpt)


def test_config_with_fewer_layers_than_the_weights_is_refused(tmp_path, tiny_checkpoint):
    # num_hidden_layers 1 for a 2-layer checkpoint silently released a truncated model.
    ckpt = _copy(tiny_checkpoint, tmp_path)
    _edit(ckpt, "config.json", num_hidden_layers=1)
    with pytest.raises(BadInputError, match=r"do not match its config\.json \(bert\.encoder\.layer\.1\..* in the "
                                            r"weights but not in the model"):
        load_checkpoint(ckpt)


def test_wordpiece_vocabulary_without_unk_is_refused_at_load(tmp_path, tiny_checkpoint):
    # It loaded, then every tokenization raised a bare Exception (exit 1).
    ckpt = _copy(tiny_checkpoint, tmp_path)
    (ckpt / "tokenizer.json").unlink()
    (ckpt / "vocab.txt").write_text("[PAD]\nthe\n")
    with pytest.raises(BadInputError, match=r"tokenizer in .* loads but cannot encode text.*\[UNK\]"):
        load_checkpoint(ckpt)


@pytest.mark.parametrize("value", [{"": None}, 301, True])
def test_chat_template_that_is_not_a_template_is_refused(tmp_path, tiny_checkpoint, value):
    # {"": null} failed in save_pretrained during the export (TypeError, exit 1).
    ckpt = _copy(tiny_checkpoint, tmp_path)
    _edit(ckpt, "tokenizer_config.json", chat_template=value)
    with pytest.raises(BadInputError, match=r"chat template in .*tokenizer_config\.json is .*not a template"):
        load_checkpoint(ckpt)


def test_model_max_length_that_is_not_a_number_is_refused(tmp_path, tiny_checkpoint):
    # A language model's failed in openvino-tokenizers after the export, naming no file.
    ckpt = _copy(tiny_checkpoint, tmp_path)
    _edit(ckpt, "tokenizer_config.json", model_max_length="x")
    with pytest.raises(BadInputError, match=r"tokenizer_config\.json has model_max_length=\"x\""):
        load_checkpoint(ckpt)


@pytest.mark.parametrize("template,error", [("{% if %}", "TemplateSyntaxError"),
                                            ("{{ nothing.here }}", "UndefinedError"),
                                            ("{{ raise_exception('no system turn') }}", "no system turn")])
def test_chat_template_that_does_not_render_is_refused_at_load(tmp_path, tiny_llama, template, error):
    # It failed in greedy generation, after the export (exit 1).
    ckpt = _copy(tiny_llama, tmp_path)
    (ckpt / "chat_template.jinja").write_text(template)
    with pytest.raises(BadInputError, match=rf"chat template in .*chat_template\.jinja does not render a user "
                                            rf"message \(.*{error}"):
        load_checkpoint(ckpt, auto_class="AutoModelForCausalLM")


def test_generation_config_is_read_and_shipped_as_the_checkpoint_has_it(tmp_path, tiny_llama):
    # It was ignored: the release's generation_config.json was rebuilt from config.json.
    ckpt = _copy(tiny_llama, tmp_path)
    _edit(ckpt, "generation_config.json", eos_token_id=[2, 0], max_new_tokens=77)
    config = load_checkpoint(ckpt, auto_class="AutoModelForCausalLM").model.generation_config
    assert (config.eos_token_id, config.max_new_tokens) == ([2, 0], 77)


@pytest.mark.parametrize("content,message", [
    ('{"eos_token_id": 2, "bos', r"generation_config\.json is not valid JSON"),
    ("[1, 2]", r"generation_config\.json does not hold a JSON object"),
    ('{"eos_token_id": 9223372036854775808}', r"eos_token_id=9223372036854775808, not a token id of the "
                                              r"model's 400-token vocabulary"),
    ('{"eos_token_id": "x"}', r'eos_token_id="x", not a token id'),
    ('{"pad_token_id": 400}', r"pad_token_id=400, not a token id"),
    ('{"max_length": {}}', r"max_length=\{\}, not a finite number"),
    ('{"num_beams": 1e400}', r"num_beams=Infinity, not a finite number"),
    ('{"do_sample": "yes"}', r'do_sample="yes", not true or false'),
    ('{"max_new_tokens": -5}', r"transformers refuses .*generation_config\.json: ValueError"),
])
def test_broken_generation_config_is_refused_at_load(tmp_path, tiny_llama, content, message):
    # Each failed after the export (openvino_genai's JSON reader, an overflow in generation: exit 1),
    # or was silently ignored.
    ckpt = _copy(tiny_llama, tmp_path)
    (ckpt / "generation_config.json").write_text(content)
    with pytest.raises(BadInputError, match=message):
        load_checkpoint(ckpt, auto_class="AutoModelForCausalLM")


def test_greedy_generation_ignores_the_checkpoints_sampling_settings(tiny_llama):
    # torch and openvino_genai must decode alike: transformers fills what generate() is not given
    # from model.generation_config (a repetition penalty), the IR side uses a fresh config.
    from publisher.stages.generation import _plain_greedy

    model = load_checkpoint(tiny_llama, auto_class="AutoModelForCausalLM").model
    model.generation_config.repetition_penalty = 1.3
    saved = model.generation_config
    with _plain_greedy(model, {2}, 2):
        assert model.generation_config.repetition_penalty is None
        assert model.generation_config.eos_token_id == [2]
    assert model.generation_config is saved


@pytest.mark.parametrize("name,content,message", [
    ("training_command.txt", b"python train.py \xff", r"training_command\.txt is not UTF-8 text"),
    ("training_metadata.json", b"[" * 100_000, r"training_metadata\.json is not valid JSON \(it nests"),
    ("training_metadata.json", b"null", r"training_metadata\.json does not hold a JSON object"),
    ("training_metadata.json", b'{"base_model": 5}', r"base_model=5, not a non-empty string"),
    ("training_metadata.json", b'{"language": 5}', r"language=5, not a language code"),
    ("training_metadata.json", b'{"license": {"a": 1}}', r'license=\{"a": 1\}, not a non-empty string'),
    ("training_metadata.json", b'{"seed": "abc"}', r'seed="abc", not an integer'),
    ("training_args.json", b"[1]", r"training_args\.json does not hold a JSON object"),
    ("training_args.json", b'{"seed": [1]}', r"training_args\.json has seed=\[1\], not an integer"),
])
def test_training_records_of_the_wrong_shape_are_refused(tmp_path, name, content, message):
    # Each raised UnicodeDecodeError, RecursionError or a TypeError in the card renderer (exit 1,
    # after the export), or put a wrong value on the card.
    from publisher.stages.training_metadata import read_training_metadata

    (tmp_path / name).write_bytes(content)
    with pytest.raises(BadInputError, match=message):
        read_training_metadata(tmp_path)


def test_legacy_layernorm_gamma_beta_names_load_as_weight_and_bias(tmp_path):
    """TensorFlow-era BERT names (sentence-transformers' CrossEncoder writes them again): renamed as
    transformers renames them, so the model is the one saved."""
    import torch
    from safetensors.torch import load_file, save_file

    from publisher.stages.load import load_checkpoint
    from tests.fixtures_models import build_tiny

    folder = build_tiny(tmp_path / "ckpt")
    state = load_file(str(folder / "model.safetensors"))
    renamed = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
               for k, v in state.items()}
    assert renamed.keys() != state.keys()
    save_file(renamed, str(folder / "model.safetensors"))
    loaded = load_checkpoint(folder)
    ours = loaded.model.state_dict()
    assert all(torch.equal(ours[k], v) for k, v in state.items() if k in ours)
