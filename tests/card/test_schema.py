"""One card-metadata module for lint and the local hub's validate-yaml; model-index holds dataset results."""

from __future__ import annotations

import copy
import subprocess
import sys

import yaml
from huggingface_hub import repocard

from publisher.card import lint_card, render_card
from publisher.card import schema
from publisher.card.regenerate import merge_card, semantic_changes
from publisher.hub.server.cards import validate_readme
from tests.card.seed import seed_report


def _with_sparsity_in_model_index(card: str) -> str:
    """The card as publisher rendered it before issue 15: sparsity figures as model-index results."""
    block, body = schema.split_front_matter(card)
    meta = yaml.safe_load(block)
    results = meta["model-index"][0]["results"]
    for config, name in (("openvino", "Sparsity (transformer block linear layers)"),
                         ("torch", "Sparsity (transformer block linear layers, PyTorch)")):
        extra = copy.deepcopy(results[0])
        extra["metrics"] = [{"name": name, "type": "sparsity", "value": 0.8, "config": config}]
        results.append(extra)
    return "---\n" + yaml.safe_dump(meta, sort_keys=False) + "---\n" + body


def test_the_front_matter_split_is_huggingface_hubs_own():
    assert schema.FRONT_MATTER is repocard.REGEX_YAML_BLOCK


def test_validate_yaml_warns_about_a_card_without_metadata_as_the_hub_does():
    for text in ("# A model\n", "---\n---\n# A model\n"):
        result = validate_readme(text)
        assert result.ok and result.warnings == [schema.NO_METADATA_WARNING], text
    assert validate_readme(render_card(seed_report())).warnings == []


def test_lint_and_the_server_refuse_the_same_model_index_problem_from_the_same_rule():
    card = render_card(seed_report())
    broken = card.replace("      config: sst2\n", "      config: 2\n", 1)
    (finding,) = [f for f in lint_card(broken, None) if f.severity == "error"]
    assert finding.rule == "model-index-field-type" and finding.rule in schema.HUB_REFUSES
    assert broken.split("\n")[finding.line - 1] == "      config: 2"
    (error,) = validate_readme(broken).errors
    assert error.startswith('"model-index[0].results[0].dataset.config": dataset.config must be a string')


def test_the_server_keeps_only_what_the_hub_refuses():
    orphan = "---\nbase_model_relation: finetune\n---\n# x\n"
    assert "base-model-relation-orphan" in {f.rule for f in lint_card(orphan, None)}
    assert validate_readme(orphan).ok


def test_lint_flags_non_dataset_metrics_in_model_index_with_the_fix():
    card = _with_sparsity_in_model_index(render_card(seed_report()))
    findings = [f for f in lint_card(card, seed_report()) if f.rule == "model-index-not-dataset-result"]
    assert len(findings) == 2 and all(f.severity == "error" for f in findings)
    assert all(card.split("\n")[f.line - 1].strip() == "type: sparsity" for f in findings)
    assert "publisher card regenerate" in findings[0].message
    assert validate_readme(card).ok  # the Hub accepts it: it is publisher's rule, not the Hub's


def test_regenerating_an_old_card_moves_sparsity_out_of_model_index():
    report = seed_report()
    old = _with_sparsity_in_model_index(render_card(report))
    new = merge_card(old, render_card(report))
    meta = yaml.safe_load(schema.split_front_matter(new)[0])
    types = [m["type"] for r in meta["model-index"][0]["results"] for m in r["metrics"]]
    assert types == ["accuracy", "accuracy"]
    assert "Sparsity in transformer block linear layers, OpenVINO IR: **0.80**" in new
    assert "metadata: model-index" in semantic_changes(old, new)
    assert lint_card(new, report) == []


def test_the_server_module_imports_neither_torch_nor_openvino():
    code = ("import sys, publisher.hub.server.cards, publisher.card.schema; "
            "print(sorted(m for m in ('torch', 'openvino', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_report_from_before_keeps_no_transformers_library_name():
    import dataclasses

    from publisher.card import build_card_metadata

    old = seed_report()
    old = old.replace(card=dataclasses.replace(old.card, library_name="transformers"))
    assert build_card_metadata(old)["library_name"] == "openvino"
