"""Front matter: Hub fields, separate torch/IR results, canonical and byte-stable YAML."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import yaml
from huggingface_hub import ModelCard
from huggingface_hub.repocard_data import model_index_to_eval_results

from publisher.card import build_card_metadata, canonical_yaml, recanonicalize, render_card
from publisher.card.metadata import KEY_ORDER, split_front_matter
from publisher.errors import BadInputError
from tests.card.seed import replace_training, seed_report


def _metrics(meta):
    return [r["metrics"][0] for r in meta["model-index"][0]["results"]]


def test_metadata_carries_the_hub_fields(seed):
    meta = build_card_metadata(seed)
    assert meta["license"] == "apache-2.0"
    assert meta["language"] == ["en"]
    assert meta["library_name"] == "openvino"
    assert meta["pipeline_tag"] == "text-classification"
    assert meta["base_model"] == "google-bert/bert-base-uncased"
    assert meta["base_model_relation"] == "finetune"
    assert meta["datasets"] == ["glue"]
    assert meta["metrics"] == ["accuracy"]


def test_tags_name_the_engine_the_compression_and_then_user_tags():
    report = seed_report(tags=["bert", "openvino", "sst2"])
    assert build_card_metadata(report)["tags"] == ["openvino", "nncf", "8-bit", "sparse", "bert", "sst2"]


def test_a_dense_fp16_release_is_not_tagged_sparse_or_8bit(seed):
    dense = dataclasses.replace(seed.sparsity.torch, overall=0.009)
    report = seed.replace(
        sparsity=dataclasses.replace(seed.sparsity, torch=dense),
        export=dataclasses.replace(seed.export, weight_format="fp16"),
    )
    assert build_card_metadata(report)["tags"] == ["openvino", "nncf"]


def test_a_release_nncf_never_touched_is_not_tagged_nncf(seed):
    report = replace_training(seed, nncf_config=None)
    report = report.replace(
        checkpoint=dataclasses.replace(report.checkpoint, nncf_compressed=False),
        export=dataclasses.replace(seed.export, weight_format="fp32"),
    )
    assert "nncf" not in build_card_metadata(report)["tags"]


def test_without_a_base_model_there_is_no_base_model_relation(seed):
    meta = build_card_metadata(replace_training(seed, base_model=None))
    assert "base_model" not in meta and "base_model_relation" not in meta


def test_torch_and_ir_results_are_separate_model_index_entries(seed):
    metrics = _metrics(build_card_metadata(seed))
    assert [(m["type"], m["config"]) for m in metrics] == [("accuracy", "openvino"), ("accuracy", "torch")]
    assert len({(m["name"], m["config"]) for m in metrics}) == 2


def test_huggingface_hub_parses_every_result_back_without_merging(seed):
    _, results = model_index_to_eval_results(build_card_metadata(seed)["model-index"])
    assert [(r.metric_name, r.metric_config, r.metric_value) for r in results] == [
        ("Accuracy", "openvino", 0.91284),
        ("Accuracy (PyTorch)", "torch", 0.91284),
    ]


def test_model_index_holds_only_results_measured_on_the_dataset(seed):
    # Sparsity describes the weights: as a model-index metric it would read as an SST-2 score.
    assert {m["type"] for m in _metrics(build_card_metadata(seed))} == {"accuracy"}
    body = render_card(seed).split("\n---\n", 1)[1]
    assert "Sparsity in transformer block linear layers, OpenVINO IR: **0.80**" in body


def test_metric_values_are_rounded_plain_floats(seed):
    accuracy = dataclasses.replace(seed.accuracy, torch=np.float32(0.9128440366), openvino=np.float64(0.912844036))
    meta = build_card_metadata(seed.replace(accuracy=accuracy))
    values = [m["value"] for m in _metrics(meta)]
    assert all(type(v) is float for v in values)
    assert values[:2] == [0.91284, 0.91284]


def test_numpy_values_never_reach_the_yaml_as_python_objects():
    text = canonical_yaml({"license": "mit", "extra": {"score": np.float64(0.5), "n": np.int64(3)}})
    assert "!!python" not in text
    assert yaml.safe_load(text)["extra"] == {"score": 0.5, "n": 3}


def test_objects_that_are_not_yaml_data_are_refused():
    with pytest.raises(BadInputError, match="cannot be written as plain YAML"):
        canonical_yaml({"license": object()})


def test_keys_come_out_in_the_fixed_order_whatever_order_they_came_in(seed):
    meta = build_card_metadata(seed)
    shuffled = dict(reversed(list(meta.items())))
    assert canonical_yaml(shuffled) == canonical_yaml(meta)
    keys = list(yaml.safe_load(canonical_yaml(shuffled)))
    assert keys == [k for k in KEY_ORDER if k in meta] + ["model-index"]


def test_rendering_unchanged_data_twice_gives_identical_bytes(seed):
    assert render_card(seed) == render_card(seed_report())


def test_render_then_modelcard_parse_then_rerender_is_byte_identical(seed):
    text = render_card(seed)
    assert recanonicalize(text) == text
    card = ModelCard(text)
    assert len(card.data.eval_results) == 2


def test_the_front_matter_is_what_build_card_metadata_returns(seed):
    block, _ = split_front_matter(render_card(seed))
    assert yaml.safe_load(block) == build_card_metadata(seed)
