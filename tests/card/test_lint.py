"""`publisher card lint`: one test per fault the offline rules must catch."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import yaml

from publisher.card import RULES, lint_card, render_card
from publisher.card.metadata import split_front_matter
from tests.card.seed import seed_report

SEED_CARD = Path(__file__).parents[1] / "data" / "seed-model-card.md"


@pytest.fixture(scope="module")
def card() -> str:
    return render_card(seed_report())


@pytest.fixture(scope="module")
def report():
    return seed_report()


def _with_meta(card: str, change: Callable[[dict[str, Any]], None]) -> str:
    block, body = split_front_matter(card)
    meta = copy.deepcopy(yaml.safe_load(block))
    change(meta)
    return "---\n" + yaml.safe_dump(meta, sort_keys=False) + "---\n" + body


def _first_metric(meta: dict[str, Any]) -> dict[str, Any]:
    return meta["model-index"][0]["results"][0]["metrics"][0]


def _rules(text: str, report=None) -> set[str]:
    return {f.rule for f in lint_card(text, report)}


def test_a_rendered_card_is_clean(card, report):
    assert lint_card(card, report) == []


def test_the_seed_card_is_clean_against_the_seed_figures(report):
    if not SEED_CARD.is_file():
        pytest.skip("the seed card reference is not available")
    assert lint_card(SEED_CARD.read_text(encoding="utf-8"), report) == []


def test_every_rule_has_a_severity_and_a_summary():
    assert all(sev in ("error", "warning") and summary for sev, summary in RULES.values())


def test_missing_front_matter(card):
    assert "front-matter-missing" in _rules(split_front_matter(card)[1])


def test_yaml_that_does_not_parse(card):
    broken = card.replace("license: apache-2.0", "license: [apache-2.0", 1)
    (finding,) = [f for f in lint_card(broken, None) if f.rule == "yaml-invalid"]
    assert finding.severity == "error"


def test_numpy_scalar_written_as_a_python_object(card):
    dumped = yaml.dump({"value": np.float64(0.91284)})  # what a careless writer produces
    text = card.replace("      value: 0.91284\n", "      " + dumped.replace("\n", "\n        ").rstrip() + "\n", 1)
    assert "!!python" in text
    assert "yaml-python-object" in _rules(text)


def test_metadata_that_is_not_a_mapping(card):
    assert "metadata-not-mapping" in _rules("---\n- a\n- b\n---\n" + split_front_matter(card)[1])


def test_unknown_license(card):
    findings = [f for f in lint_card(card.replace("license: apache-2.0", "license: apache2", 1), None)
                if f.rule == "license-unknown"]
    assert [f.line for f in findings] == [2]


def test_license_other_without_name_or_link(card):
    assert "license-other-unnamed" in _rules(card.replace("license: apache-2.0", "license: other", 1))


def test_unknown_pipeline_tag(card):
    text = card.replace("pipeline_tag: text-classification", "pipeline_tag: text-classifier", 1)
    assert "pipeline-tag-unknown" in _rules(text)


def test_invalid_base_model_relation(card):
    text = card.replace("base_model_relation: finetune", "base_model_relation: fine-tune", 1)
    assert "base-model-relation-invalid" in _rules(text)


def test_tags_that_are_not_strings(card):
    assert "field-type" in _rules(_with_meta(card, lambda m: m.update(tags={"openvino": True})))


def test_language_that_is_not_an_iso_code(card):
    assert "language-invalid" in _rules(_with_meta(card, lambda m: m.update(language=["English"])))


def test_model_index_that_is_not_a_list(card):
    assert "model-index-structure" in _rules(_with_meta(card, lambda m: m.update({"model-index": {"name": "x"}})))


def test_model_index_result_without_dataset_type(card):
    def drop(meta):
        del meta["model-index"][0]["results"][0]["dataset"]["type"]

    assert "model-index-missing-field" in _rules(_with_meta(card, drop))


def test_model_index_dataset_config_that_is_not_a_string(card):
    def number(meta):
        meta["model-index"][0]["results"][0]["dataset"]["config"] = 2

    assert "model-index-field-type" in _rules(_with_meta(card, number))


def test_metric_value_that_is_a_string(card):
    assert "metric-value-not-number" in _rules(_with_meta(card, lambda m: _first_metric(m).update(value="91.3%")))


def test_metric_value_that_is_not_finite(card):
    assert "metric-value-not-finite" in _rules(_with_meta(card, lambda m: _first_metric(m).update(value=float("nan"))))


def test_torch_and_ir_results_a_parser_would_merge(card):
    def same(meta):
        for result in meta["model-index"][0]["results"][:2]:
            result["metrics"][0]["name"] = "Accuracy"
            del result["metrics"][0]["config"]

    assert "model-index-duplicate" in _rules(_with_meta(card, same))


def test_model_index_value_that_differs_from_the_report(card, report):
    text = _with_meta(card, lambda m: _first_metric(m).update(value=0.95))
    assert "metric-value-mismatch" in _rules(text, report)


def test_body_figure_that_differs_from_the_report(card, report):
    text = card.replace("- OpenVINO IR accuracy: **0.9128**", "- OpenVINO IR accuracy: **0.9500**", 1)
    (finding,) = [f for f in lint_card(text, report) if f.rule == "figure-mismatch"]
    assert text.split("\n")[finding.line - 1] == "- OpenVINO IR accuracy: **0.9500**"


def test_body_figure_rounded_differently_is_still_equal(card, report):
    text = card.replace("- OpenVINO IR accuracy: **0.9128**", "- OpenVINO IR accuracy: **91.28%**", 1)
    assert lint_card(text, report) == []


def test_compatibility_line_typed_by_hand(card, report):
    text = card.replace("* OpenVINO 2024.3.0 and higher", "* OpenVINO 2023.0.0 and higher", 1)
    assert "compatibility-mismatch" in _rules(text, report)


def test_unrendered_jinja_in_the_body(card):
    assert "template-leftover" in _rules(card + "\nSee {{ model_nmae }}.\n")


def test_jinja_inside_a_code_block_is_fine(card):
    assert "template-leftover" not in _rules(card + "\n```\n{{ example }}\n```\n")


def test_broken_managed_section_markers(card):
    assert "section-markers" in _rules(card.replace("<!-- publisher:end usage -->\n", "", 1))


def test_each_finding_formats_as_one_line(card):
    text = card.replace("license: apache-2.0", "license: apache2", 1)
    lines = [f.format("README.md") for f in lint_card(text, None)]
    assert lines == ["README.md:2: error [license-unknown] license 'apache2' is not a Hub license id; use "
                     "one of the Hub's ids (e.g. apache-2.0, mit) or 'other' with license_name and "
                     "license_link"]
