"""Exportability: optimum-intel's own registry and version bounds decide, from config.json alone.

Thirteen tiny configs (built with transformers' config classes; no model is built or saved): six
classifiers and seven causal language models. With the pinned libraries (optimum-intel 2.2,
transformers 5.5) two are refused, each for a different limit of optimum-intel: ModernBERT (an
architecture it has removed) and Gemma2 (its export configuration allows transformers up to 5.0).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from publisher.errors import EXIT_BAD_INPUT, BadInputError
from publisher.stages.exportability import check_exportable, export_refusal, exportable_alternatives
from publisher.tasks import TEXT_CLASSIFICATION, TEXT_GENERATION, infer_task

ENCODER = dict(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
               intermediate_size=64)
DECODER = dict(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2, intermediate_size=64)
FOLDER = Path("/checkpoints/tiny")


def _config(cls_name: str, architecture: str, **kw) -> dict:
    import transformers

    cfg = getattr(transformers, cls_name)(**kw)
    cfg.architectures = [architecture]
    return cfg.to_dict()


# (architecture, config class, config fields, refused)
ARCHITECTURES = [
    ("BertForSequenceClassification", "BertConfig", ENCODER, False),
    ("DistilBertForSequenceClassification", "DistilBertConfig",
     dict(vocab_size=128, dim=32, n_layers=2, n_heads=2, hidden_dim=64), False),
    ("RobertaForSequenceClassification", "RobertaConfig", ENCODER, False),
    ("DebertaV2ForSequenceClassification", "DebertaV2Config", ENCODER, False),
    ("ModernBertForSequenceClassification", "ModernBertConfig", ENCODER, True),
    ("ElectraForSequenceClassification", "ElectraConfig", ENCODER, False),
    ("LlamaForCausalLM", "LlamaConfig", DECODER, False),
    ("Qwen3ForCausalLM", "Qwen3Config", DECODER, False),
    ("GPT2LMHeadModel", "GPT2Config", dict(vocab_size=128, n_embd=32, n_layer=2, n_head=2), False),
    ("Phi3ForCausalLM", "Phi3Config", DECODER, False),
    ("Gemma2ForCausalLM", "Gemma2Config", dict(DECODER, head_dim=8), True),
    ("MistralForCausalLM", "MistralConfig", DECODER, False),
    ("GraniteForCausalLM", "GraniteConfig", DECODER, False),
]


@pytest.mark.parametrize("architecture,cls_name,fields,refused", ARCHITECTURES,
                         ids=[a[0] for a in ARCHITECTURES])
def test_thirteen_architectures(architecture, cls_name, fields, refused):
    cfg = _config(cls_name, architecture, **fields)
    task = infer_task(cfg, FOLDER)  # the task publisher infers decides the optimum task
    assert task in (TEXT_CLASSIFICATION, TEXT_GENERATION)
    if not refused:
        check_exportable(cfg, task.optimum_task, FOLDER)
        return
    with pytest.raises(BadInputError) as exc:
        check_exportable(cfg, task.optimum_task, FOLDER)
    assert exc.value.exit_code == EXIT_BAD_INPUT
    message = exc.value.paragraph()
    assert "\n" not in message
    for phrase in (str(FOLDER), cfg["model_type"], architecture, "optimum-intel 2.2",
                   "transformers 5.5", "optimum-intel says:", "Nothing was loaded or exported",
                   "Publish with an optimum-intel release", "or release a checkpoint of an architecture"):
        assert phrase in message, f"{phrase!r} not in: {message}"


def test_modernbert_is_refused_as_a_removed_architecture():
    cfg = _config("ModernBertConfig", "ModernBertForSequenceClassification", **ENCODER)
    with pytest.raises(BadInputError) as exc:
        check_exportable(cfg, "text-classification", FOLDER)
    message = exc.value.paragraph()
    assert ('optimum-intel says: "The OpenVINO export of modernbert models is not officially '
            'supported by optimum-intel and has been removed"') in message
    assert "that exports modernbert models to OpenVINO again" in message
    # The alternatives are exportable classifiers, the closest in name first.
    assert "(for example bert, " in message
    for other in exportable_alternatives("modernbert", "text-classification"):
        assert export_refusal({"model_type": other}, "text-classification") is None


def test_gemma2_is_refused_for_its_transformers_bound():
    cfg = _config("Gemma2Config", "Gemma2ForCausalLM", **DECODER, head_dim=8)
    with pytest.raises(BadInputError) as exc:
        check_exportable(cfg, "text-generation-with-past", FOLDER)
    message = exc.value.paragraph()
    assert "(Gemma2OpenVINOConfig) allows transformers up to 5.0 only" in message
    assert ('optimum-intel says: "The current version of Transformers does not allow for the export '
            'of the model. Maximum required is 5.0, got: 5.5') in message
    assert "publisher requires transformers >=5.5" in message or "publisher requires" not in message
    assert "whose gemma2 export configuration accepts transformers 5.5" in message
    assert "gemma" not in message.split("for example")[1]  # its siblings share the bound


def test_the_answer_comes_from_optimum_intel_not_a_list(monkeypatch):
    """Lift Gemma2's bound in optimum-intel and it passes; add one to Llama's and it is refused."""
    from optimum.exporters.openvino import model_configs

    gemma2 = _config("Gemma2Config", "Gemma2ForCausalLM", **DECODER, head_dim=8)
    llama = _config("LlamaConfig", "LlamaForCausalLM", **DECODER)
    monkeypatch.setattr(model_configs.Gemma2OpenVINOConfig, "MAX_TRANSFORMERS_VERSION", None)
    monkeypatch.setattr(model_configs.LlamaOpenVINOConfig, "MIN_TRANSFORMERS_VERSION", "99.0")
    check_exportable(gemma2, "text-generation-with-past", FOLDER)
    with pytest.raises(BadInputError, match="Minimum required is 99.0"):
        check_exportable(llama, "text-generation-with-past", FOLDER)


def test_a_task_the_export_configuration_does_not_offer():
    refusal = export_refusal({"model_type": "bert"}, "text-generation-with-past")
    assert refusal is not None
    assert "doesn't support task text-generation-with-past for the openvino backend" in refusal.says


def test_model_types_left_to_the_load_stage():
    # No model_type, or one transformers does not know: loading explains those ("transformers
    # cannot build ..."), so the check lets them through.
    check_exportable({"architectures": ["BertForSequenceClassification"]}, "text-classification", FOLDER)
    check_exportable({"model_type": "foo", "architectures": ["FooForSequenceClassification"]},
                     "text-classification", FOLDER)
