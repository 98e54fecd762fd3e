"""The causal-LM (text-generation) card: golden bodies, metadata, lint, variables and regenerate.

The reports come from ``fixtures/llm-report.json``, a real ``publisher publish`` report of a tiny
random Llama with INT4 weights (see ``llm_seed``). Run with UPDATE_GOLDEN=1 to rewrite the golden
files after an intended template change.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import unicodedata

import pytest
from huggingface_hub import ModelCard

from publisher.card import (
    REPORT_FILENAME,
    build_card_metadata,
    lint_card,
    recanonicalize,
    regenerate,
    render_card,
    template_variables,
)
from publisher.card.context import build_context, task_variables
from publisher.card.metadata import split_front_matter
from publisher.card.regenerate import UNCHANGED, UPDATED
from publisher.card.render import DEFAULT_TEMPLATE, default_template
from publisher.card.schema import check_metadata
from publisher.card.variables import CATALOGUE
from publisher.tasks import TASKS
from tests.card.llm_seed import full_llm_report, llm_report
from tests.card.test_golden import _check_golden

LLM_TEMPLATE = "openvino-llm.md.j2"


@pytest.fixture(scope="module")
def report():
    return llm_report()


@pytest.fixture(scope="module")
def card(report) -> str:
    return render_card(report)


@pytest.fixture(scope="module")
def full():
    return full_llm_report()


@pytest.fixture(scope="module")
def full_card(full) -> str:
    return render_card(full)


def _body(text: str) -> str:
    return split_front_matter(text)[1]


def _minimal(report):
    """An FP16 export with no base model, license or tokenizer IR: every optional part missing."""
    training = dataclasses.replace(report.checkpoint.training, base_model=None, license=None)
    files = [f for f in report.export.files if "tokenizer.xml" not in f.path and "tokenizer.bin" not in f.path]
    export = dataclasses.replace(report.export, weight_format="fp16", files=files, versions={})
    tg = report.text_generation
    compression = dataclasses.replace(tg.compression, mode="fp16", group_size=None, ratio=None,
                                      backup_mode=None, applied={})
    dense = dataclasses.replace(report.sparsity.torch, overall=0.0, zeros=0)
    sparsity = dataclasses.replace(report.sparsity, torch=dense, openvino=dense)
    return report.replace(
        checkpoint=dataclasses.replace(report.checkpoint, training=training),
        card=dataclasses.replace(report.card, license=None),
        export=export, sparsity=sparsity,
        text_generation=dataclasses.replace(tg, compression=compression, sparsity=sparsity),
    )


# --- golden cards ---------------------------------------------------------------------------------

def test_the_llm_report_renders_as_the_golden_card(card):
    _check_golden("llm-README.md", card)


def test_the_full_llm_report_renders_as_the_golden_card(full_card):
    _check_golden("llm-full-README.md", full_card)


# --- the template follows the task ----------------------------------------------------------------

def test_the_default_template_is_the_one_the_task_names(report, card):
    assert TASKS["text-generation"].template == LLM_TEMPLATE == default_template("text-generation")
    assert default_template("text-classification") == DEFAULT_TEMPLATE
    assert card == render_card(report, template=LLM_TEMPLATE)
    assert "## Running the model with OpenVINO GenAI" in card


def test_a_report_of_an_unknown_task_falls_back_to_the_classifier_card():
    assert default_template(None) == default_template("no-such-task") == DEFAULT_TEMPLATE


def test_the_cli_renders_an_llm_report_with_the_llm_template(report, card, tmp_path, capsys):
    from tests.card.test_cli import run

    path = tmp_path / "report.json"
    path.write_text(report.to_json(), encoding="utf-8")
    code, out, _ = run(["card", "render", str(path)], capsys)
    assert code == 0 and out == card


# --- metadata -------------------------------------------------------------------------------------

def test_metadata_names_the_task_the_library_the_lineage_and_the_compression(report, full):
    meta = build_card_metadata(report)
    assert meta["pipeline_tag"] == "text-generation"
    assert meta["library_name"] == "openvino"
    assert meta["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    # The fixture's checkpoint is a local folder, not the base model's download: the relation is
    # left out unless stated (claims.relation), and stated it is kept.
    assert "base_model_relation" not in meta
    assert build_card_metadata(full)["base_model_relation"] == "quantized"
    # 25% of the tiny model's weights are zeros, measured: "sparse" is earned.
    assert meta["tags"] == ["openvino", "nncf", "4-bit", "sparse"]
    assert meta["metrics"] == ["perplexity"]
    # The evaluation text is not training data: the Hub's `datasets` would say it was.
    assert "datasets" not in meta


def test_a_checkpoint_that_is_the_base_models_download_is_derived_quantized(report):
    snapshot = ("/home/user/.cache/huggingface/hub/models--HuggingFaceTB--SmolLM2-135M-Instruct/"
                "snapshots/0123456789abcdef0123456789abcdef01234567")
    derived = report.replace(checkpoint=dataclasses.replace(report.checkpoint, path=snapshot))
    assert build_card_metadata(derived)["base_model_relation"] == "quantized"
    assert "itself, its own weights without further training" in _body(render_card(derived))


def test_int8_weights_are_tagged_8_bit_and_user_tags_follow(report):
    export = dataclasses.replace(report.export, weight_format="int8")
    tagged = report.replace(export=export, card=dataclasses.replace(report.card, tags=["llama", "nncf"]))
    assert build_card_metadata(tagged)["tags"] == ["openvino", "nncf", "8-bit", "sparse", "llama"]


def test_huggingface_hub_reads_the_perplexity_of_torch_and_of_the_ir(report, card):
    results = ModelCard(card).data.eval_results
    ppl = report.text_generation.perplexity
    assert [(r.metric_type, r.metric_config, r.metric_value) for r in results] == [
        ("perplexity", "openvino", round(ppl.openvino, 5)),
        ("perplexity", "torch", round(ppl.torch, 5)),
    ]
    for r in results:
        assert (r.task_type, r.dataset_name, r.dataset_type, r.dataset_config, r.dataset_split) == (
            "text-generation", ppl.dataset.name, ppl.dataset.type, ppl.dataset.config, ppl.dataset.split)
        assert r.metric_args == {"window": ppl.window, "stride": ppl.stride}


def test_the_llm_card_survives_a_modelcard_round_trip_byte_for_byte(card, full_card):
    assert recanonicalize(card) == card
    assert recanonicalize(full_card) == full_card


def test_the_schema_accepts_perplexity_and_refuses_parity_in_model_index(report):
    meta = build_card_metadata(report)
    assert check_metadata(meta) == []
    metric = meta["model-index"][0]["results"][0]["metrics"][0]
    for weight_figure in ("top1_agreement", "mean_abs_logit_diff", "tokens_per_second"):
        metric["type"] = weight_figure
        assert [p.rule for p in check_metadata(meta)] == ["model-index-not-dataset-result"]


# --- lint -----------------------------------------------------------------------------------------

def test_rendered_llm_cards_lint_clean(report, card, full, full_card):
    assert lint_card(card, report) == []
    assert lint_card(full_card, full) == []
    assert lint_card(render_card(_minimal(report)), _minimal(report)) == []


@pytest.mark.parametrize("old, new, rule", [
    ("OpenVINO IR perplexity: **929.01**", "OpenVINO IR perplexity: **919.01**", "figure-mismatch"),
    ("PyTorch perplexity: **914.86**", "PyTorch perplexity: **929.01**", "figure-mismatch"),
    ("relative to PyTorch: **+1.55%**", "relative to PyTorch: **+0.55%**", "figure-mismatch"),
    ("Top-1 agreement with PyTorch: **0.5274**", "Top-1 agreement with PyTorch: **0.9274**", "figure-mismatch"),
    ("Exact-match rate with PyTorch: **0.00**", "Exact-match rate with PyTorch: **1.00**", "figure-mismatch"),
    ("INT4 weights: **74.2%**", "INT4 weights: **94.2%**", "figure-mismatch"),
    ("value: 929.00714", "value: 919.00714", "metric-value-mismatch"),
    ("OpenVINO GenAI 2026.4.1.0 (the release", "OpenVINO GenAI 2025.0.0 (the release", "compatibility-mismatch"),
])
def test_lint_catches_a_tampered_llm_figure(report, card, old, new, rule):
    assert old in card
    findings = lint_card(card.replace(old, new, 1), report)
    assert [f.rule for f in findings] == [rule]
    assert findings[0].line == card[: card.index(old)].count("\n") + 1


# --- body -----------------------------------------------------------------------------------------

def test_the_sample_is_a_generation_of_the_run_with_control_characters_escaped(report, card):
    sample = report.text_generation.generation.samples[0]  # none matched: the first prompt's
    body = _body(card)
    assert sample.prompt in body
    assert sample.openvino_text.replace("\x07", "\\u0007") in body
    assert "differs from generated token 1 on" in body
    raw = [c for c in card if unicodedata.category(c) == "Cc" and c != "\n"]
    assert raw == []


def test_the_sample_is_the_first_that_matched_torch_when_one_did(full, full_card):
    matched = full.text_generation.generation.samples[1]
    body = _body(full_card)
    assert f"```text\n{matched.prompt}\n```" in body
    assert "```text\nThe sea is wide and `blue`.\n```" in body
    assert "Output of PyTorch" not in body


def test_quantization_parameters_are_nncfs_record(report, full_card):
    applied = report.text_generation.compression.applied
    section = _section(render_card(report), "quantization")
    assert f"* mode: **{applied['mode']}**" in section
    assert f"* group size: **{applied['group_size']}**" in section
    assert f"* backup mode: **{applied['backup_mode']}**" in section
    assert "calibration data: none (data-free compression)" in section
    full_section = _section(full_card, "quantization")
    assert "* AWQ: **yes**" in full_section and "* scale estimation: **yes**" in full_section
    assert "* calibration data: **GLUE SST-2 validation sentences** (32 texts)" in full_section
    assert "calibrated on the start of the same text" in _section(full_card, "limitations")


def test_both_usage_snippets_load_the_cards_repo_id_and_are_valid_python(card):
    repo_id = "demo/tiny-llama-int4-ov"
    snippets = re.findall(r"^   ```python\n(.*?)^   ```$", _body(card), flags=re.M | re.S)
    assert len(snippets) == 2
    for code in snippets:
        code = "\n".join(line[3:] for line in code.splitlines())
        compile(code, "<card snippet>", "exec")
        assert repo_id in code
    assert 'OVModelForCausalLM.from_pretrained(model_id)' in snippets[0]
    assert f'huggingface_hub.snapshot_download("{repo_id}")' in snippets[1]
    assert 'openvino_genai.LLMPipeline(model_path, "CPU")' in snippets[1]


def test_missing_optional_inputs_drop_their_sections_cleanly(report):
    text = render_card(_minimal(report))
    for gone in ("quantization", "performance", "compatibility", "genai", "legal"):
        assert f"publisher:begin {gone} " not in text
    assert "None" not in text and "\n\n\n" not in text
    meta = build_card_metadata(_minimal(report))
    assert meta["tags"] == ["openvino"]
    assert "with FP16 weights" in text


def test_the_performance_section_states_the_bench_figures(full_card):
    section = _section(full_card, "performance")
    assert "Time to first token: **12.3 ms**" in section
    assert "**456.8 tokens/s**" in section
    assert "a prompt of 128 tokens and 64 greedy new tokens, median of 3 runs" in section


def _section(text: str, name: str) -> str:
    start = text.index(f"<!-- publisher:begin {name} -->")
    return text[start: text.index(f"<!-- publisher:end {name} -->")]


# --- variables ------------------------------------------------------------------------------------

# The variables only one task's cards fill (``performance`` is every task's, filled its own way).
# performance (--bench) and int4_search (--int4-search) are None in a release made without them.
TEXT_GENERATION_VARIABLES = tuple(v for v in task_variables("text-generation")
                                  if v not in ("performance", "int4_search", "similarity"))  # optional ones
CLASSIFIER_VARIABLES = tuple(v for v in task_variables("text-classification") if v != "performance")


def test_the_catalogue_documents_exactly_what_an_llm_context_holds(report):
    context = build_context(report)
    assert set(context) == set(CATALOGUE) - {"default_section"}
    assert all(context[name] is None for name in CLASSIFIER_VARIABLES)
    assert all(context[name] is not None for name in TEXT_GENERATION_VARIABLES)


def test_a_classifier_context_holds_none_for_the_llm_variables(seed):
    context = build_context(seed)
    assert all(context[name] is None for name in TEXT_GENERATION_VARIABLES)


def test_every_variable_of_the_llm_template_is_provided():
    found = template_variables(LLM_TEMPLATE)
    assert found and all(v.known for v in found)
    names = {v.name for v in found}
    assert set(TEXT_GENERATION_VARIABLES) | {"repo_id", "versions", "performance"} <= names
    assert not names & set(CLASSIFIER_VARIABLES)
    assert [v.name for v in template_variables(task="text-generation")] == [v.name for v in found]


# --- regenerate -----------------------------------------------------------------------------------

_names = itertools.count()


def _publish_llm(client, readme: str | None = None) -> tuple[str, str]:
    repo_id = f"tester/llm-card-regen-{next(_names)}"
    release = llm_report().replace(card=dataclasses.replace(llm_report().card, repo_id=repo_id))
    text = readme or render_card(release)
    client.ensure_repo(repo_id)
    client.commit_files(repo_id, {"openvino_model.bin": b"\0" * 64, "README.md": text.encode(),
                                  REPORT_FILENAME: release.to_json().encode()},
                        message="release", parent_commit=client.revision_sha(repo_id))
    return repo_id, text


def test_regenerate_leaves_an_unchanged_llm_card_alone(client):
    repo_id, _ = _publish_llm(client)
    assert regenerate(client, repo_id).status == UNCHANGED


def test_regenerate_renders_a_hand_edited_llm_figure_back_from_the_stored_report(client):
    repo_id, text = _publish_llm(client)
    edited = text.replace("OpenVINO IR perplexity: **929.01**", "OpenVINO IR perplexity: **9.01**")
    edited = edited.replace("value: 929.00714", "value: 9.00714")
    client.commit_files(repo_id, {"README.md": edited.encode()}, message="hand edit",
                        parent_commit=client.revision_sha(repo_id))
    outcome = regenerate(client, repo_id)
    assert outcome.status == UPDATED
    assert outcome.changes == ["metadata: model-index", "section: results"]
    assert client.download_text(repo_id, "README.md") == text


def test_int8_weights_state_nncfs_per_channel_record_without_int4_parameters(report):
    tg = report.text_generation
    applied = {**tg.compression.applied, "mode": "int8_asym", "group_size": "-1", "ratio": "1.0"}
    compression = dataclasses.replace(tg.compression, mode="int8", group_size=None, ratio=None,
                                      backup_mode=None, applied=applied)
    int8 = report.replace(export=dataclasses.replace(report.export, weight_format="int8"),
                          text_generation=dataclasses.replace(tg, compression=compression))
    text = render_card(int8)
    section = _section(text, "quantization")
    assert "* mode: **int8_asym** (8-bit integer weights, asymmetric, with a zero point)" in section
    assert "* group size: **-1** (per channel" in section
    assert "* ratio:" not in section and "* backup mode:" not in section
    assert "compressed to INT8" in _section(text, "description")
    assert lint_card(text, int8) == []


@pytest.mark.parametrize("old, new", [
    ("Time to first token: **12.3 ms**", "Time to first token: **10.3 ms**"),
    ("Generation speed after the first token: **456.8 tokens/s**",
     "Generation speed after the first token: **556.8 tokens/s**"),
])
def test_lint_catches_a_tampered_bench_figure(full, full_card, old, new):
    assert old in full_card
    assert [f.rule for f in lint_card(full_card.replace(old, new, 1), full)] == ["figure-mismatch"]


def test_a_fine_tuned_llm_states_its_training_from_the_record(report):
    from tests.card.seed import replace_training

    trained = replace_training(
        report, training_command="python train_llm.py --model HuggingFaceTB/SmolLM2-135M-Instruct",
        training_dataset="tiny_shakespeare", training_files={"training/train_llm.py": "/home/user/train_llm.py"},
        nncf_config=[{"algorithm": "magnitude_sparsity", "sparsity_init": 0.25}],
        sources={**report.checkpoint.training.sources, "training_command": "training_metadata.json"})
    text = render_card(trained)
    assert build_card_metadata(trained)["base_model_relation"] == "finetune"
    assert ("fine-tuned on the tiny_shakespeare dataset, with unstructured magnitude pruning applied at the "
            "same time during training") in _section(text, "description")
    training = _section(text, "training")
    assert "```\npython training/train_llm.py --model HuggingFaceTB/SmolLM2-135M-Instruct\n```" in training
    assert "- [training/train_llm.py](training/train_llm.py)" in training
    assert '"algorithm": "magnitude_sparsity"' in _section(text, "optimization")
    assert lint_card(text, trained) == []


def test_a_template_extending_the_llm_card_is_checked_before_any_slow_work(tmp_path, report):
    from publisher.card import check_template
    from publisher.errors import BadInputError

    check_template(None, None, task="text-generation")
    good = tmp_path / "good.md.j2"
    good.write_text('{% extends "openvino-llm.md.j2" %}{% block limitations %}## Limitations\n\n'
                    "Measured on {{ perplexity.dataset.name }} only.\n{% endblock %}\n")
    check_template(good, None)
    assert "Measured on GLUE SST-2 validation sentences only." in render_card(report, template=good)
    bad = tmp_path / "bad.md.j2"
    bad.write_text('{% extends "openvino-llm.md.j2" %}{% block sample %}{{ samples }}{% endblock %}\n')
    with pytest.raises(BadInputError, match="samples"):
        check_template(bad, None)
