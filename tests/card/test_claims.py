"""Claims from evidence: base_model_relation (issue 17) and compression methods (issue 13)."""

from __future__ import annotations

import dataclasses

import pytest

from publisher.card import build_card_metadata, card_warnings, lint_card, render_card
from publisher.card.claims import relation, report_relation
from publisher.card.metadata import split_front_matter
from publisher.results import TrainingMetadata
from publisher.stages.load import nncf_state_kinds
from tests.card.seed import replace_training

SNAPSHOT = "/home/u/.cache/huggingface/hub/models--{}/snapshots/2fe0e8e7d5e0c0e5b2f5a1d3c4b5a6f7e8d9c0b1"


def _as_is(report, base: str, weight_format: str = "int8"):
    """``report`` as if its checkpoint were ``base`` downloaded from the Hub, with no training record."""
    report = replace_training(report, base_model=base, training_command=None, teacher_model=None,
                              training_dataset=None, nncf_config=None, recipe_record=None)
    checkpoint = dataclasses.replace(report.checkpoint, path=SNAPSHOT.format(base.replace("/", "--")),
                                     nncf_state=[], nncf_compressed=False)
    return report.replace(checkpoint=checkpoint,
                          export=dataclasses.replace(report.export, weight_format=weight_format))


def _body(report) -> str:
    return split_front_matter(render_card(report))[1]


# --- base_model_relation ------------------------------------------------------------------------

def test_a_fine_tuned_classifier_is_a_finetune_of_its_base_model(seed):
    found = report_relation(seed)
    assert found.value == "finetune" and "training command" in found.reason
    meta = build_card_metadata(seed)
    assert meta["base_model_relation"] == "finetune"
    assert "fine-tuned on the GLUE SST2 dataset" in _body(seed)


def test_a_recipe_record_or_a_training_dataset_alone_is_evidence_of_fine_tuning():
    base = TrainingMetadata(base_model="sentence-transformers/all-MiniLM-L6-v2")
    for evidence in ({"recipe_record": {"recipe": "recipes/sst2_minilm.py"}}, {"training_dataset": "GLUE SST2"}):
        found = relation(dataclasses.replace(base, **evidence), checkpoint_path="/ckpt", weight_format="int8")
        assert found.value == "finetune", evidence


def test_a_base_model_exported_as_is_is_a_quantization_of_it(seed):
    report = _as_is(seed, "distilbert/distilbert-base-uncased-finetuned-sst-2-english")
    assert report_relation(report).value == "quantized"
    assert build_card_metadata(report)["base_model_relation"] == "quantized"
    body = _body(report)
    assert "fine-tuned" not in body and "itself: its own weights" in body
    assert card_warnings(report) == []


def test_the_base_models_own_weights_exported_uncompressed_have_no_relation(seed):
    report = _as_is(seed, "distilbert/distilbert-base-uncased-finetuned-sst-2-english", "fp32")
    assert report_relation(report).value is None
    assert "base_model_relation" not in build_card_metadata(report)


def test_an_llm_exported_as_is_with_int4_weights_is_quantized(seed):
    report = _as_is(seed.replace(card=dataclasses.replace(seed.card, pipeline_tag="text-generation")),
                    "HuggingFaceTB/SmolLM2-135M", "int4")
    meta = build_card_metadata(report)
    assert meta["pipeline_tag"] == "text-generation"
    assert meta["base_model_relation"] == "quantized"


def test_when_nothing_tells_the_relation_is_left_out_with_a_warning_naming_the_flag(seed):
    report = replace_training(seed, training_command=None, teacher_model=None, training_dataset=None,
                              nncf_config=None)
    report = report.replace(checkpoint=dataclasses.replace(report.checkpoint, nncf_state=[]))
    assert report_relation(report).value is None
    meta = build_card_metadata(report)
    assert meta["base_model"] == "google-bert/bert-base-uncased" and "base_model_relation" not in meta
    (warning,) = card_warnings(report)
    assert "--base-model-relation" in warning and "quantizations" in warning
    body = _body(report)
    assert "fine-tuned" not in body and "The original model is [google-bert/bert-base-uncased]" in body


def test_a_stated_relation_is_used_and_doubted_when_the_evidence_disagrees(seed):
    stated = replace_training(seed, base_model_relation="quantized", sources={"base_model_relation": "flag"})
    found = report_relation(stated)
    assert found.value == "quantized" and found.source == "flag"
    assert "'finetune'" in found.warnings[0]
    invalid = report_relation(replace_training(seed, base_model_relation="distilled"))
    assert invalid.value is None and "not one of the Hub's values" in invalid.warnings[0]


def test_lint_checks_the_relation_against_the_report(seed):
    card = render_card(seed)
    assert lint_card(card, seed) == []
    wrong = card.replace("base_model_relation: finetune", "base_model_relation: quantized", 1)
    (finding,) = [f for f in lint_card(wrong, seed) if f.rule == "base-model-relation-mismatch"]
    assert "'finetune'" in finding.message and wrong.split("\n")[finding.line - 1].startswith("base_model_relation")
    assert "base-model-relation-invalid" in {f.rule for f in lint_card(card.replace(
        "base_model_relation: finetune", "base_model_relation: distilled", 1), None)}


# --- compression claims -----------------------------------------------------------------------------

def test_quantization_in_the_config_without_quantizer_state_is_not_claimed_and_warned(seed):
    report = seed.replace(checkpoint=dataclasses.replace(seed.checkpoint, nncf_state=["pruning_masks"]))
    body = _body(report)
    assert "quantization-aware training" not in body
    assert "unstructured magnitude pruning and knowledge distillation applied" in body
    assert '"algorithm": "quantization"' not in body  # the entry is not repeated in the config either
    assert "borne out by the checkpoint" in body
    (warning,) = card_warnings(report)
    assert "nncf_config.json entry 1 ('quantization')" in warning and "no NNCF quantizer state" in warning


def test_real_nncf_quantizer_state_gets_the_qat_sentence(seed):
    assert "quantizer_state" in seed.checkpoint.nncf_state
    body = _body(seed)
    assert ("with unstructured magnitude pruning, quantization-aware training and knowledge distillation "
            "applied at the same time during training") in body
    assert '"algorithm": "quantization"' in body
    assert card_warnings(seed) == []


def test_pruning_in_the_config_of_a_dense_checkpoint_is_not_claimed(seed):
    dense = dataclasses.replace(seed.sparsity.torch, overall=0.01)
    report = seed.replace(sparsity=dataclasses.replace(seed.sparsity, torch=dense))
    assert "magnitude pruning" not in _body(report)
    assert any("entry 2 ('magnitude_sparsity')" in w and "1.0% sparsity" in w for w in card_warnings(report))


def test_distillation_is_claimed_only_with_a_teacher(seed):
    assert "knowledge distillation" in _body(seed)
    assert "knowledge distillation" not in _body(replace_training(seed, teacher_model=None))


@pytest.mark.parametrize("keys, kinds", [
    (["bert.encoder.layer.0.attention.self.query.pre_ops.0.op._binary_mask"], ["pruning_masks"]),
    (["__nncf_hooks.post_hooks.bert:encoder:layer:0:output:dense:weight__0.0.binary_mask"], ["pruning_masks"]),
    (["__nncf_hooks.pre_hooks.bert/linear_0__1.0.scale"], ["quantizer_state"]),
    (["nncf_module.bert.pre_ops.1.op.input_low", "nncf_module.bert.pre_ops.1.op.input_range"], ["quantizer_state"]),
    (["_nncf.external_quantizers.some_quantizer_id.scale", "x.pre_ops.0.op._binary_mask"],
     ["pruning_masks", "quantizer_state"]),
    (["bert.encoder.layer.0.attention.self.query.weight"], []),
])
def test_the_load_stage_names_the_nncf_state_it_finds(keys, kinds):
    assert nncf_state_kinds(dict.fromkeys(keys)) == kinds


def test_fake_quantize_ops_in_the_ir_are_evidence_of_qat_too():
    from publisher.card.claims import QAT, compression
    from tests.card.seed import SEED_NNCF_CONFIG

    training = TrainingMetadata(nncf_config=SEED_NNCF_CONFIG)
    without = compression(training, nncf_state=[], sparse=True, sparsity=0.8)
    assert QAT not in without.methods and len(without.warnings) == 1
    with_ops = compression(training, nncf_state=[], sparse=True, sparsity=0.8, ir_fake_quantize=True)
    assert QAT in with_ops.methods and with_ops.warnings == []


@pytest.fixture(scope="module")
def tiny_with_qat_config(tiny_checkpoint, tmp_path_factory):
    """The suite's tiny checkpoint with an nncf_config.json listing quantization (and pruning)."""
    import json
    import shutil

    from tests.card.seed import SEED_NNCF_CONFIG

    folder = tmp_path_factory.mktemp("qat") / "ckpt"
    shutil.copytree(tiny_checkpoint, folder)
    (folder / "nncf_config.json").write_text(json.dumps(SEED_NNCF_CONFIG))
    return folder


def _card_of(folder, seed):
    from publisher.stages.load import load_checkpoint

    info = load_checkpoint(folder).info
    training = dataclasses.replace(info.training, base_model=seed.checkpoint.training.base_model)
    report = seed.replace(checkpoint=dataclasses.replace(info, training=training))
    return report, _body(report)


def test_a_checkpoint_whose_config_lists_quantization_without_quantizer_state_gets_no_qat_sentence(
        tiny_with_qat_config, seed):
    report, body = _card_of(tiny_with_qat_config, seed)
    assert report.checkpoint.nncf_state == []
    assert "quantization-aware training" not in body
    assert any("('quantization')" in w and "no NNCF quantizer state" in w for w in card_warnings(report))


def test_a_checkpoint_with_real_nncf_quantizer_state_gets_the_qat_sentence(tiny_with_qat_config, seed, tmp_path):
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_with_qat_config, folder)
    state = load_file(str(folder / "model.safetensors"))
    # What save_pretrained() writes for a model that still carries NNCF 3.x quantizer hooks.
    state["__nncf_hooks.pre_hooks.bert/encoder/layer/0/attention/self/query/linear/0__1.0.scale"] = torch.ones(1)
    save_file(state, str(folder / "model.safetensors"))
    report, body = _card_of(folder, seed)
    assert report.checkpoint.nncf_state == ["quantizer_state"]
    assert "quantization-aware training" in body
    assert not any("quantizer state" in w for w in card_warnings(report))
