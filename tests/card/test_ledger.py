"""The claims ledger: one entry per claim the card makes, and a card that shows only ledgered figures."""

import dataclasses

import pytest

from publisher.card import render_card
from publisher.card.ledger import build_ledger, files_digest
from publisher.card.readback import (
    card_figures,
    card_statements,
    claims_for_label,
    printed_matches,
    statement_matches,
    unledgered,
)
from publisher.errors import BadInputError
from publisher.results import CompatibilityResult, CompatibilityRun, FileDigest, Report
from tests.card.llm_seed import full_llm_report
from tests.card.seed import replace_training, seed_report


def test_every_figure_line_of_the_seed_card_maps_to_a_ledger_entry_with_the_printed_value():
    report = seed_report()
    ledger = build_ledger(report)
    card = render_card(report)
    figures = card_figures(card)
    assert len(figures) >= 6
    for figure in figures:
        (claim,) = [c for c in claims_for_label(figure.label, ledger)
                    if printed_matches(figure.printed, c.value, figure.percent)]
        assert claim.printed == figure.shown


def test_every_figure_line_of_an_llm_card_maps_to_a_ledger_entry():
    report = full_llm_report()
    ledger = build_ledger(report)
    assert unledgered(render_card(report), ledger) == []
    ids = {c.id for c in ledger.claims}
    assert {"perplexity.openvino", "perplexity.increase", "parity.top1_agreement", "weight_precision.int4",
            "quantization.group_size"} <= ids


def test_each_claim_says_who_can_re_check_it():
    ledger = build_ledger(seed_report())
    recheck = {c.id: c.recheck for c in ledger.claims}
    assert recheck["accuracy.openvino"] == "ir" and recheck["sparsity.openvino"] == "ir"
    assert recheck["accuracy.torch"] == "checkpoint" and recheck["sparsity.torch"] == "checkpoint"
    assert recheck["compression.distillation"] == "record"


def test_the_accuracy_tolerance_is_two_samples_of_the_evaluation_set():
    report = seed_report()
    claim = build_ledger(report).get("accuracy.openvino")
    assert claim.tolerance == pytest.approx(2 / report.accuracy.dataset.num_samples)


def test_inputs_are_identified_by_content():
    report = seed_report()
    dataset = dataclasses.replace(report.accuracy.dataset, sha256="ab" * 32)
    report = report.replace(accuracy=dataclasses.replace(report.accuracy, dataset=dataset))
    ledger = build_ledger(report)
    assert ledger.inputs["ir"].sha256 == files_digest(list(report.export.files))
    assert ledger.inputs["evaluation_data"].sha256 == report.accuracy.dataset.sha256
    changed = dataclasses.replace(report.export, files=[FileDigest("openvino_model.bin", "0" * 64, 1)])
    assert build_ledger(report.replace(export=changed)).inputs["ir"].sha256 != ledger.inputs["ir"].sha256


def test_a_compression_statement_is_in_the_ledger_exactly_when_the_card_makes_it():
    report = seed_report()
    card = render_card(report)
    ledger = build_ledger(report)
    statements = card_statements(card)
    assert {s.claim_id for s in statements} >= {"compression.weights", "compression.pruning",
                                                  "compression.distillation", "evaluation.rows"}
    assert all(statement_matches(s, ledger.get(s.claim_id)) for s in statements)
    no_teacher = replace_training(report, teacher_model=None)
    assert "knowledge distillation" not in render_card(no_teacher)
    assert build_ledger(no_teacher).get("compression.distillation") is None


def test_a_template_that_prints_an_unmeasured_figure_is_refused(tmp_path):
    template = tmp_path / "card.md.j2"
    template.write_text("# {{ model_name }}\n\n- Accuracy on my private test set: **0.99**\n")
    with pytest.raises(BadInputError, match="not measurements of this run"):
        render_card(seed_report(), template=str(template))


def test_a_template_that_states_an_unevidenced_method_is_refused(tmp_path):
    template = tmp_path / "card.md.j2"
    template.write_text("# {{ model_name }}\n\nTrained with knowledge distillation.\n")
    with pytest.raises(BadInputError, match="distillation"):
        render_card(replace_training(seed_report(), teacher_model=None), template=str(template))


def test_a_coarse_number_does_not_stand_for_a_precise_figure():
    assert not printed_matches("1", 0.6, ledger_printed="0.6000")
    assert printed_matches("0.600", 0.6, ledger_printed="0.6000")
    assert printed_matches("64", 64.0, ledger_printed="64")


def test_a_template_that_prints_ledger_figures_renders(tmp_path):
    template = tmp_path / "card.md.j2"
    template.write_text("# {{ model_name }}\n\n- OpenVINO IR accuracy: **{{ accuracy.openvino|fixed(3) }}**\n")
    assert "OpenVINO IR accuracy: **" in render_card(seed_report(), template=str(template))


def _with_compatibility(report: Report, *runs: CompatibilityRun) -> Report:
    return report.replace(compatibility=CompatibilityResult(
        reference=report.export.versions["openvino"], inputs="the first 8 bundled GLUE SST-2 validation sentences", inputs_sha256="0" * 64,
        inference_precision="f32", min_top1_agreement=0.98, runs=list(runs)))


def test_tested_openvino_releases_set_the_lowest_version_the_card_states():
    report = _with_compatibility(
        seed_report(),
        CompatibilityRun("2025.0", "2025.0.0", False, "outputs hold NaN or infinity (8 of 8 inputs)", 8),
        CompatibilityRun("2025.3", "2025.3.0", True, "", 8, 1.0, 0.0),
        CompatibilityRun("2025.4", "2025.4.1", True, "", 8, 1.0, 0.0))
    card = render_card(report)
    assert "* OpenVINO 2025.3.0 and higher" in card
    assert "| 2025.0.0 | failed: outputs hold NaN" in card and "| 2025.4.1 | passed" in card
    claim = build_ledger(report).get("compatibility.openvino")
    assert claim.value == "2025.3.0" and "2025.0.0 failed" in claim.tolerance_reason


def test_a_failure_above_the_stated_release_drops_and_higher():
    report = _with_compatibility(
        seed_report(),
        CompatibilityRun("2025.3", "2025.3.0", True, "", 8, 1.0, 0.0),
        CompatibilityRun("2025.4", "2025.4.1", False, "read_model failed: unknown opset", 8))
    made_with = report.export.versions["openvino"].split("-")[0]
    card = render_card(report)
    assert f"* OpenVINO {made_with} (a newer release tested below failed)" in card
    assert "and higher" not in card.split("## Compatibility")[1].split("* Optimum")[0]
