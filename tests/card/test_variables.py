"""`publisher card variables`: what a template uses, documented against what publisher provides."""

from __future__ import annotations

from publisher.card import template_variables
from publisher.card.context import build_context
from publisher.card.variables import CATALOGUE


def test_the_catalogue_documents_exactly_the_variables_publisher_provides(seed):
    assert set(build_context(seed)) == set(CATALOGUE) - {"default_section"}


def test_every_variable_of_the_default_template_is_provided():
    found = template_variables()
    assert found and all(v.known for v in found)
    names = {v.name for v in found}
    assert {"model_name", "accuracy", "sparsity", "versions", "nncf_config_json", "training_command"} <= names


def test_attribute_uses_are_listed_under_their_variable():
    uses = {v.name: v.uses for v in template_variables()}
    assert "dataset.name" in uses["dataset"]
    assert "versions.openvino" in uses["versions"]


def test_a_variable_publisher_does_not_provide_is_flagged(tmp_path):
    template = tmp_path / "card.md.j2"
    template.write_text("{{ model_name }} {{ my_own_thing }}\n")
    found = {v.name: v for v in template_variables(template)}
    assert found["model_name"].known
    assert not found["my_own_thing"].known


def test_templates_a_template_extends_and_section_files_are_read_too(tmp_path):
    template = tmp_path / "card.md.j2"
    template.write_text('{% extends "openvino.md.j2" %}{% block usage %}{{ extra_a }}{% endblock %}')
    sections = tmp_path / "sections"
    sections.mkdir()
    (sections / "notes.md.j2").write_text("{{ default_section }} {{ extra_b }}")
    names = {v.name for v in template_variables(template, sections)}
    assert {"extra_a", "extra_b", "default_section", "nncf_config_json"} <= names


def test_names_the_template_sets_itself_are_not_inputs(tmp_path):
    template = tmp_path / "card.md.j2"
    template.write_text("{% if model_name %}{% set title = model_name|upper %}{{ title }}{% endif %}\n")
    assert [v.name for v in template_variables(template)] == ["model_name"]
