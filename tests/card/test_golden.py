"""Golden cards for the default template, and parity with the seed release card.

Run with UPDATE_GOLDEN=1 to rewrite the golden files after an intended template change.
"""

from __future__ import annotations

import dataclasses
import os
import re
import textwrap
from pathlib import Path

import pytest
import yaml

from publisher.card import render_card
from publisher.card.metadata import split_front_matter
from tests.card.seed import SEED_NNCF_CONFIG, SEED_TRAINING_COMMAND, replace_training, seed_report

GOLDEN = Path(__file__).parent / "golden"
SEED_CARD = Path(__file__).parents[1] / "data" / "seed-model-card.md"
SECTIONS = GOLDEN / "sections"


def _minimal_report():
    """Only what every run measures: no base model, NNCF config, command, license or versions."""
    report = replace_training(seed_report(model_index_name=None, training_details_url=None,
                                          repo_id="acme/tiny-bert-ov"),
                              nncf_config=None, training_command=None, base_model=None,
                              teacher_model=None, license=None, model_creator=None)
    export = dataclasses.replace(report.export, weight_format="fp16", versions={})
    dense = dataclasses.replace(report.sparsity.torch, overall=0.0, zeros=0, layers={})
    return report.replace(
        export=export,
        checkpoint=dataclasses.replace(report.checkpoint, nncf_compressed=False),
        sparsity=dataclasses.replace(report.sparsity, torch=dense, openvino=dense),
    )


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; UPDATE_GOLDEN=1 if intended"


def test_default_template_renders_the_seed_release_as_the_golden_card():
    _check_golden("seed-README.md", render_card(seed_report(), sections_dir=SECTIONS))


def test_default_template_renders_a_release_with_minimal_inputs_as_the_golden_card():
    _check_golden("minimal-README.md", render_card(_minimal_report()))


def test_missing_optional_inputs_drop_their_sections_cleanly():
    text = render_card(_minimal_report())
    for gone in ("optimization", "training", "compatibility", "legal"):
        assert f"publisher:begin {gone} " not in text
    assert "None" not in text
    assert "\n\n\n" not in text


@pytest.fixture(scope="module")
def seed_card() -> tuple[dict, str]:
    if not SEED_CARD.is_file():
        pytest.skip("the seed card reference is not available")
    block, body = split_front_matter(SEED_CARD.read_text(encoding="utf-8"))
    return yaml.safe_load(block), body


@pytest.fixture(scope="module")
def ours() -> tuple[dict, str]:
    block, body = split_front_matter(render_card(seed_report(), sections_dir=SECTIONS))
    return yaml.safe_load(block), body


def test_metadata_equals_the_seed_front_matter_where_the_seed_has_a_field(seed_card, ours):
    seed_meta, our_meta = seed_card[0], ours[0]
    for key in ("license", "language", "datasets", "metrics"):
        assert our_meta[key] == seed_meta[key], key
    seed_index, our_index = seed_meta["model-index"][0], our_meta["model-index"][0]
    assert our_index["name"] == seed_index["name"]
    for seed_result in seed_index["results"]:
        matching = [r for r in our_index["results"] if _contains(r, seed_result)]
        assert matching, f"no result carries every field of {seed_result}"


def _contains(ours, theirs) -> bool:
    """``ours`` has every field ``theirs`` has, with the same value (extra fields allowed)."""
    if isinstance(theirs, dict):
        return isinstance(ours, dict) and all(k in ours and _contains(ours[k], v) for k, v in theirs.items())
    if isinstance(theirs, list):
        return isinstance(ours, list) and len(ours) == len(theirs) and all(
            _contains(o, t) for o, t in zip(ours, theirs))
    return ours == theirs


def test_every_link_of_the_seed_body_is_in_our_body(seed_card, ours):
    links = set(re.findall(r"\]\((https?://[^)\s]+)\)", seed_card[1]))
    assert links and links <= set(re.findall(r"\]\((https?://[^)\s]+)\)", ours[1]))


def test_the_seed_nncf_config_and_training_command_are_in_our_body(ours):
    import json

    body = ours[1]
    assert json.dumps(SEED_NNCF_CONFIG, indent=4) in body
    # The command sits inside numbered step 2, indented so that the Hub numbers the steps 1, 2.
    assert textwrap.indent(SEED_TRAINING_COMMAND.strip(), "   ") in body


@pytest.mark.parametrize("fact", [
    "[Google](https://huggingface.co/google-bert)",
    "[google-bert/bert-base-uncased](https://huggingface.co/google-bert/bert-base-uncased)",
    "unstructured magnitude pruning", "quantization", "distillation", "GLUE SST2",
    "PyTorch accuracy: **0.9128**", "OpenVINO IR accuracy: **0.9128**",
    "Sparsity in transformer block linear layers, OpenVINO IR: **0.80**",
    "OpenVINO™ IR", "INT8", "[NNCF](https://github.com/openvinotoolkit/nncf)",
    "OpenVINO 2024.3.0 and higher", "Optimum Intel 1.19.0 (the release it was exported with",
    'pip install "optimum[openvino,nncf]"',
    "## Limitations", "[apache-2.0](https://choosealicense.com/licenses/apache-2.0/)",
])
def test_our_body_states_the_seed_fact(ours, fact):
    assert fact in ours[1]


def test_our_card_carries_the_seed_sections_in_the_seed_order(seed_card, ours):
    def headings(body):
        return [h.lower() for h in re.findall(r"^## (.+)$", body, flags=re.M)]

    seed_order = ["description", "compatibility", "optimization parameters", "running model training",
                  "usage examples", "limitations", "legal information", "disclaimer"]
    assert [h for h in headings(seed_card[1]) if h in seed_order] == seed_order
    assert [h for h in headings(ours[1]) if h in seed_order] == seed_order
