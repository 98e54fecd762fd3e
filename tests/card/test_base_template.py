"""The bundled cards share templates/base.md.j2; user templates extend it or a task's card."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from jinja2 import nodes

from publisher.card import check_template, render_body, template_variables
from publisher.card.render import BUNDLED, bundled_templates_dir
from publisher.errors import BadInputError
from tests.card.llm_seed import llm_report

TASK_TEMPLATES = ("openvino.md.j2", "openvino-llm.md.j2")
# Sections whose whole text is the base's: a task's card only fills blocks inside them.
SHARED_SECTIONS = ("title", "compatibility", "optimization", "training", "limitations", "legal")

# The blocks a template extending the base must define, in a user template of the fewest lines.
FILLED = (
    "{% block description %}## Description\n\nOur own model ({{ weight_format_title }}).\n{% endblock %}\n"
    "{% block results %}## Evaluation results\n\nMeasured on {{ model_name }}.\n{% endblock %}\n"
    "{% block usage %}## Usage\n\nLoad `{{ repo_id }}`.\n{% endblock %}\n"
    "{% block task_limitations %}Tried on one machine.\n{% endblock %}\n"
)


def _parse(name: str) -> nodes.Template:
    source = (bundled_templates_dir() / name).read_text(encoding="utf-8")
    return jinja2.Environment().parse(source)


def _sections(ast: nodes.Template) -> set[str]:
    return {
        call.call.args[0].value
        for call in ast.find_all(nodes.CallBlock)
        if isinstance(call.call.node, nodes.Name) and call.call.node.name == "section"
    }


def _section(body: str, name: str) -> str:
    return body.split(f"<!-- publisher:begin {name} -->\n")[1].split(f"\n<!-- publisher:end {name} -->")[0]


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", TASK_TEMPLATES)
def test_each_task_card_extends_the_base(name):
    ast = _parse(name)
    extends = list(ast.find_all(nodes.Extends))
    assert [e.template.value for e in extends] == [f"{BUNDLED}/base.md.j2"]
    # What is common lives in the base only: a task's card never opens a shared section itself.
    assert not _sections(ast) & set(SHARED_SECTIONS)
    check_template(name, None)


def test_the_base_holds_every_section_in_card_order():
    ast = _parse("base.md.j2")
    assert set(SHARED_SECTIONS) | {"description", "results", "performance", "usage"} == _sections(ast)
    required = {b.name for b in ast.find_all(nodes.Block) if b.required}
    assert required == {"description", "results", "usage", "task_limitations"}


def test_the_base_alone_is_refused_before_any_work_naming_the_blocks_it_lacks():
    with pytest.raises(BadInputError, match="required block.*description, results, task_limitations, usage"):
        check_template("base.md.j2", None)


@pytest.mark.parametrize("name", ["base.md.j2", f"{BUNDLED}/base.md.j2"])
def test_a_user_template_extending_the_base_renders_the_shared_sections(seed, tmp_path, name):
    template = _write(tmp_path, "card.md.j2", f'{{% extends "{name}" %}}\n' + FILLED)
    check_template(template, None)
    body = render_body(seed, template=template)
    assert "Our own model (INT8)." in body and "Load `" in body
    for section in ("title", "description", "results", "compatibility", "training", "usage", "limitations",
                    "legal"):
        assert f"<!-- publisher:begin {section} -->" in body
    limitations = _section(body, "limitations")
    assert limitations.index("carry over") < limitations.index("Tried on one machine.")  # the base's, then ours
    assert "## Running model training" in body and "\n1. Install" in body  # the base's default steps
    assert "Usage examples" not in body  # nothing of the classifier's card
    names = {v.name for v in template_variables(template)}
    assert {"model_name", "license", "training_command", "versions"} <= names


def test_a_user_template_extending_the_base_without_a_required_block_is_refused(tmp_path):
    template = _write(tmp_path, "card.md.j2", '{% extends "base.md.j2" %}\n' + FILLED.split("{% block usage")[0])
    with pytest.raises(BadInputError, match="required block.*task_limitations, usage"):
        check_template(template, None)


def test_replacing_a_whole_block_makes_the_required_block_inside_it_optional(seed, tmp_path):
    filled = FILLED.split("{% block task_limitations")[0]
    template = _write(tmp_path, "card.md.j2", '{% extends "base.md.j2" %}\n' + filled
                      + "{% block limitations %}## Limitations\n\nOurs only.\n{% endblock %}\n")
    check_template(template, None)
    assert "Ours only." in render_body(seed, template=template)


def test_a_user_template_can_add_to_a_base_block_through_the_task_card(seed, tmp_path):
    template = _write(tmp_path, "card.md.j2",
                      '{% extends "openvino.md.j2" %}\n'
                      "{% block compatibility_runtimes %}{{ super() }}* Our runtime 1.0\n{% endblock %}\n"
                      "{% block title %}{{ super() }}* Maintained by us\n{% endblock %}\n")
    check_template(template, None)
    body = render_body(seed, template=template)
    default = render_body(seed)
    assert "* Optimum Intel" in body and "no other release was tested)\n* Our runtime 1.0\n" in body
    assert "* Maintained by us" in body
    assert body.replace("* Our runtime 1.0\n", "").replace("* Maintained by us\n", "") == default


def test_a_base_md_j2_next_to_a_user_template_does_not_replace_the_bundled_base(seed, tmp_path):
    # A user's own base.md.j2 that extends the bundled card: were the bundled card to extend it,
    # the chain would loop.
    _write(tmp_path, "base.md.j2", '{% extends "openvino.md.j2" %}\n{% block usage %}Our usage.\n{% endblock %}\n')
    template = _write(tmp_path, "card.md.j2", '{% extends "base.md.j2" %}\n')
    check_template(template, None)
    body, default = render_body(seed, template=template), render_body(seed)
    assert _section(body, "usage") == "Our usage."
    assert body.replace("Our usage.", "USAGE") == default.replace(_section(default, "usage"), "USAGE")


def test_the_llm_card_fills_the_bases_slots_with_its_own_sections():
    body = render_body(llm_report())
    order = [body.index(f"<!-- publisher:begin {name} -->")
             for name in ("description", "quantization", "results", "sample", "compatibility", "usage",
                          "genai", "limitations")]
    assert order == sorted(order)
    assert "* OpenVINO GenAI" in _section(body, "compatibility")
