"""Template rendering: strict, sandboxed for user files, sections added or replaced from files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from publisher.card import render_body, render_card
from publisher.card.render import bundled_templates_dir
from publisher.errors import BadInputError


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_default_template_is_found_in_the_checkout_or_the_installed_package():
    assert (bundled_templates_dir() / "openvino.md.j2").is_file()


def test_an_undefined_variable_is_an_error_that_names_it_and_the_line(seed, tmp_path):
    template = _write(tmp_path, "card.md.j2", "# {{ model_name }}\n\n{{ modle_creator }}\n")
    with pytest.raises(BadInputError, match=r"card\.md\.j2, line 3.*'modle_creator' is undefined"):
        render_body(seed, template=template)


def test_a_misspelt_attribute_is_an_error_too(seed, tmp_path):
    template = _write(tmp_path, "card.md.j2", "{{ dataset.nmae }}\n")
    with pytest.raises(BadInputError, match="nmae"):
        render_body(seed, template=template)


def test_a_syntax_error_names_the_line(seed, tmp_path):
    template = _write(tmp_path, "card.md.j2", "ok\n{% if model_name %}\nno endif\n")
    with pytest.raises(BadInputError, match=r"line \d+"):
        render_body(seed, template=template)


def test_a_missing_template_file_is_bad_input(seed, tmp_path):
    with pytest.raises(BadInputError, match="does not exist"):
        render_body(seed, template=tmp_path / "nope.md.j2")


def test_user_templates_run_in_the_sandbox(seed, tmp_path):
    template = _write(tmp_path, "card.md.j2", "{{ model_name.__class__.__mro__ }}\n")
    with pytest.raises(BadInputError, match="sandbox forbids"):
        render_body(seed, template=template)


def test_user_templates_cannot_include_files_outside_their_folder(seed, tmp_path):
    (tmp_path / "inner").mkdir()
    _write(tmp_path, "secret.md", "secret\n")
    template = _write(tmp_path / "inner", "card.md.j2", '{% include "../secret.md" %}\n')
    with pytest.raises(BadInputError, match="refers to"):
        render_body(seed, template=template)


def test_a_user_template_can_extend_the_default_and_replace_one_block(seed, tmp_path):
    template = _write(tmp_path, "card.md.j2",
                      '{% extends "openvino.md.j2" %}\n'
                      "{% block limitations %}## Limitations\n\nOnly tried on {{ dataset.name }}.\n{% endblock %}\n")
    body = render_body(seed, template=template)
    assert "Only tried on GLUE SST2." in body
    assert "## Compatibility" in body
    assert "carry over" not in body


def test_a_section_file_replaces_the_section_of_that_name(seed, tmp_path):
    _write(tmp_path, "limitations.md.j2", "## Limitations\n\nNot for medical use ({{ model_name }}).\n")
    body = render_body(seed, sections_dir=tmp_path)
    section = body.split("<!-- publisher:begin limitations -->")[1].split("<!-- publisher:end limitations -->")[0]
    assert "Not for medical use (bert-base-uncased-sst2-unstructured80-int8-ov)." in section
    assert "carry over" not in section


def test_a_section_file_can_extend_the_default_text(seed, tmp_path):
    _write(tmp_path, "limitations.md.j2", "{{ default_section }}\n\nAlso: English only.\n")
    body = render_body(seed, sections_dir=tmp_path)
    assert "carry over" in body and "Also: English only." in body


def test_section_files_matching_no_section_are_added_at_the_end_in_name_order(seed, tmp_path):
    _write(tmp_path, "20-contact.md", "## Contact\n\nmail us\n")
    _write(tmp_path, "10-citation.md", "## Citation\n\ncite us\n")
    body = render_body(seed, sections_dir=tmp_path)
    assert body.index("publisher:begin legal") < body.index("publisher:begin 10-citation") < body.index(
        "publisher:begin 20-contact")
    assert body.rstrip().endswith("<!-- publisher:end 20-contact -->")


def test_an_undefined_variable_in_a_section_file_is_an_error(seed, tmp_path):
    _write(tmp_path, "notes.md.j2", "{{ nope }}\n")
    with pytest.raises(BadInputError, match="'nope' is undefined"):
        render_body(seed, sections_dir=tmp_path)


def test_every_section_of_the_default_template_is_fenced_by_managed_markers(seed):
    body = render_body(seed)
    names = ["title", "description", "results", "compatibility", "optimization", "training", "usage",
             "limitations", "legal"]
    for name in names:
        assert body.count(f"<!-- publisher:begin {name} -->") == 1
        assert body.count(f"<!-- publisher:end {name} -->") == 1


def test_compatibility_lines_come_from_the_versions_recorded_at_export(seed):
    versions = {"openvino": "2026.4.1-20360-abcdef", "optimum-intel": "2.2.0", "nncf": "3.4.0"}
    report = seed.replace(export=dataclasses.replace(seed.export, versions=versions))
    body = render_body(report)
    assert "* OpenVINO 2026.4.1 and higher" in body
    assert "* Optimum Intel 2.2.0 (the release it was exported with; no other release was tested)" in body
    assert "2024.3.0" not in body


def test_a_training_command_with_backticks_gets_a_longer_fence(seed):
    from tests.card.seed import replace_training

    report = replace_training(seed, training_command="echo ```\npython train.py")
    body = render_body(report)
    assert "   ````\n   echo ```\n   python train.py\n   ````" in body


def test_the_usage_snippet_loads_the_repo_the_card_lives_in(seed):
    assert 'model_id = "OpenVINO/bert-base-uncased-sst2-unstructured80-int8-ov"' in render_body(seed)


def test_the_card_is_front_matter_then_one_blank_line_then_the_body(seed):
    text = render_card(seed)
    assert text.startswith("---\nlicense: apache-2.0\n")
    assert "\n---\n\n<!-- publisher:begin title -->\n# " in text
    assert text.endswith("-->\n") and not text.endswith("\n\n")
