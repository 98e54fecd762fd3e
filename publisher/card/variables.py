"""What a card template can use, and what a given template does use.

``CATALOGUE`` documents every variable ``build_context`` provides; ``template_variables`` reads a
template (and what it extends or includes, and a sections folder) without rendering it, so a user
can see which names a template needs before writing one of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2
from jinja2 import meta, nodes

from publisher.card.render import (
    USER_SECTIONS,
    TemplateRef,
    make_environment,
    resolve_template,
    section_files,
    template_error,
)
from publisher.errors import BadInputError
from publisher.tasks import TASKS

CATALOGUE: dict[str, str] = {
    "model_name": "Card title: the release's repo name (CardInputs.model_name).",
    "repo_id": "Hub repo id the card lives in; usage snippets load it.",
    "model_index_name": "The model-index `name` (CardInputs.model_index_name, else repo_id).",
    "base_model": "Hub id of the original model, or None (checkpoint training metadata).",
    "base_model_url": "Hub page of base_model, or None.",
    "model_creator": "Who made the original model (training metadata, else base_model's namespace), or None.",
    "model_creator_url": "Hub page of the creator's namespace, or None.",
    "teacher_model": "Hub id of the distillation teacher, or None.",
    "teacher_model_url": "Hub page of teacher_model, or None.",
    "license": "Hub license id (e.g. apache-2.0), or None.",
    "license_name": "Full name of the license, or None.",
    "license_url": "choosealicense.com page of the license, or None.",
    "language": "List of language codes.",
    "tags": "The metadata tags (openvino, nncf, 8-bit/4-bit, sparse, then user tags).",
    "pipeline_tag": "Hub pipeline tag (e.g. text-classification, text-generation).",
    "task_name": "Display name of the pipeline tag (e.g. Text Classification).",
    "library_name": "Metadata library_name (openvino).",
    "ov_model_class": "optimum-intel class that loads the IR for this task (e.g. OVModelForCausalLM), or None.",
    "dataset": "Classifier only (None for text generation): evaluation dataset: name, type, config, split, args, num_samples, url (Hub page or None), text_column, text_pair_column (the second text of sentence pairs, or None).",
    "metric": "Metric id of the model-index results (accuracy, or perplexity for text generation).",
    "metric_title": "Metric display name (e.g. Accuracy, Perplexity).",
    "accuracy": "Classifier only (None for text generation): measured metric values: torch, openvino (floats, unrounded).",
    "sparsity": "Sparsity: scope, torch, openvino (overall ratios), sparse (bool: the checkpoint is at least 10% zeros), layers (count); None when not measured.",
    "weight_format": "IR weight format: int8, int4, fp16 or fp32.",
    "weight_format_title": "weight_format for prose (INT8, INT4, FP16, ...).",
    "versions": "Versions recorded at export: openvino, optimum_intel, openvino_genai, openvino_tokenizers, nncf, transformers, torch (release part, or None).",
    "base_model_relation": "finetune, quantized (or a stated merge/adapter), or None when the evidence cannot tell (publisher.card.claims).",
    "training_dataset": "The dataset the training record names, or None (never the evaluation data by assumption).",
    "compression": "Methods the evidence bears out: methods (phrases), algorithms (NNCF config ids), quantization (QAT shown by quantizer state), distillation (a teacher is named).",
    "nncf_config_json": "The NNCF config entries the evidence bears out, as indented JSON, or None.",
    "nncf_config_complete": "True when every entry of the NNCF config is borne out (nncf_config_json is the file as is).",
    "training_command": "The training command line (scripts the release ships named by their path in it), or None.",
    "training_files": "Release paths of the training files the release ships (training/...), sorted.",
    "training_requirements": "Packages (pkg==version) the recipe's record says its script ran with, or None.",
    "training_reads": "What the recipe's record says its script reads besides itself (not in the release), or None.",
    "training_scripts_missing": "Scripts the training command runs that the release does not ship.",
    "training_details_url": "Link to the full training setup, or None.",
    "compatibility": "OpenVINO releases the IR was run on (publish --openvino), or None: reference (the release publish ran), inputs (in words), inference_precision, min_top1_agreement, supported_from (the lowest release from which every tested one passed), and_higher (False when a tested release at or above the stated one failed), runs (version, passed, reason, top1_agreement, max_abs_diff).",
    "release_files": "Paths of the files the export wrote (the IR, config, tokenizer and its OpenVINO IR), sorted.",
    "verification": "Classifier only (None for text generation): IR check: compiled, device, samples, max_abs_logit_diff, argmax_agreement, passed.",
    "performance": "publish --bench figures or None. Classifier (and token classifier): cpu, openvino, sequence_length, latency_ms (batch 1, median), throughput and throughput_batch, sparse_supported, sparse_throughput, sparse_rate. Text generation: cpu, openvino, prompt_tokens, output_tokens, ttft_ms and tokens_per_second (medians, openvino_genai), runs.",
    "perplexity": "Text generation only (None for a classifier): perplexity of torch and of the IR on the same token windows: dataset (name, type, config, split, source, license, bundled, num_characters, num_tokens, sha256 (of the text evaluated), url), window, stride, windows, max_windows, tokens_covered, whole_text, tokens_scored, torch, openvino, increase (IR over torch, relative), method (in words), inference_precision (the IR's on CPU).",
    "parity": "Text generation only: the IR's next-token logits against torch's at the scored positions: positions, top1_agreement, max_abs_logit_diff, mean_abs_logit_diff.",
    "generation": "Text generation only: greedy generation with torch and with the IR through openvino_genai: prompts (count), matches (count), exact_match_rate, max_new_tokens, greedy, chat_template (applied to any prompt), inference_precision, samples (each: prompt, chat_template_applied, openvino_text, torch_text, match, first_divergence_token, tokenizer_match, openvino_tokens, torch_tokens).",
    "sample": "Text generation only: the generation the card shows, one of generation.samples (the first whose IR output matched torch's, else the first), or None.",
    "quantization": "Text generation with INT8/INT4 weights only (else None): NNCF weight compression as applied (its record in the IR): mode (e.g. int4_asym), bits, sym, group_size (-1: per channel), per_channel, ratio, backup_mode, awq, scale_estimation, gptq, lora_correction, data_aware, dataset and calibration_samples (the calibration data of data-aware options), sensitivity_metric, recorded (False: NNCF left no record, values are as requested).",
    "weight_precision": "Text generation only: the IR's MatMul weights by storage precision, read back from its constants: shares (int4, int8, float -> share of weight elements), layers (count), rows (precision, title, share, layers, elements, names: the layers when at most 4).",
    "links": "Documentation links: openvino_ir_docs, optimization_guide, nncf, optimum_intel, openvino_genai, notebooks, sparsity_notebook, weight_compression.",
    "default_section": "In a section file only: the text the template would have rendered for that section.",
}
# A task's own variables are documented by the task (publisher.tasks: Task.card_variable_docs).
for _task in TASKS.values():
    CATALOGUE.update(_task.card_variable_docs)

# Provided by Jinja or by publisher's renderer, not by the report.
BUILTINS = frozenset({"section", "range", "dict", "lipsum", "cycler", "joiner", "namespace", "loop", "caller"})


@dataclass(frozen=True)
class TemplateVariable:
    name: str
    description: str | None  # None: publisher does not provide it, so rendering would fail
    uses: tuple[str, ...]  # attribute paths seen, e.g. ("dataset.name", "dataset.split")

    @property
    def known(self) -> bool:
        return self.description is not None


def template_variables(
    template: str | Path | None = None, sections_dir: Path | None = None, *, task: str | None = None
) -> list[TemplateVariable]:
    """Every variable ``template`` (and what it extends/includes, and ``sections_dir``) uses;
    without ``template``, the bundled card of ``task`` (the classifier's when None)."""
    ref = resolve_template(template, task)
    env = make_environment(ref, sections_dir)
    names = [ref.name] + [f"{USER_SECTIONS}/{f}" for f in section_files(sections_dir).values()]
    seen_templates: set[str] = set()
    used: dict[str, set[str]] = {}
    assigned: set[str] = set()
    while names:
        name = names.pop()
        if name in seen_templates:
            continue
        seen_templates.add(name)
        source = env.loader.get_source(env, name)[0]
        ast = env.parse(source)
        # Jinja counts a name set inside {% if %} as undeclared; anything the template assigns
        # itself is not an input, so it is left out.
        assigned |= {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
        for var in meta.find_undeclared_variables(ast):
            used.setdefault(var, set())
        for path in _attribute_paths(ast):
            root = path.split(".", 1)[0]
            if root in used:
                used[root].add(path)
        names.extend(t for t in meta.find_referenced_templates(ast) if t)
    return [
        TemplateVariable(name, CATALOGUE.get(name), tuple(sorted(used[name])))
        for name in sorted(used)
        if name not in BUILTINS and (name in CATALOGUE or name not in assigned)
    ]


def _attribute_paths(ast: nodes.Template) -> set[str]:
    paths: set[str] = set()
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        path = _dotted(node)
        if path:
            paths.add(path)
    return paths


def _dotted(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        inner = _dotted(node.node)
        return f"{inner}.{node.attr}" if inner else None
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        inner = _dotted(node.node)
        return f"{inner}.{node.arg.value}" if inner else None
    return None


def check_template(template: str | Path | None, sections_dir: Path | None, *,
                   task: str | None = None) -> None:
    """Refuse a template (or sections folder) that cannot render, before any slow work runs;
    ``task`` picks the bundled card when no template is given."""
    ref = resolve_template(template, task)
    try:
        variables = template_variables(template, sections_dir, task=task)
    except jinja2.TemplateError as exc:
        raise template_error(exc, ref) from exc
    unknown = [v.name for v in variables if not v.known]
    if unknown:
        raise BadInputError(
            f"Card template {template or sections_dir} uses undefined variable(s): {', '.join(unknown)}",
            "Fix the names (run `publisher card variables` to list what templates can use), or "
            "set them in the template with {% set %}",
        )
    try:
        missing = unfilled_required_blocks(ref)
    except jinja2.TemplateError as exc:
        raise template_error(exc, ref) from exc
    if missing:
        raise BadInputError(
            f"Card template {ref.name} does not define the required block(s) {', '.join(missing)}",
            "Define each in the template ({% block NAME %}...{% endblock %}), or extend a task's "
            'card (e.g. {% extends "openvino.md.j2" %}), which defines them',
        )


def unfilled_required_blocks(ref: TemplateRef) -> list[str]:
    """The ``{% block NAME required %}`` blocks of ``ref`` and of the templates it extends that no
    template below the one declaring them defines (rendering would stop at the first one).

    Follows ``{% extends %}`` with a literal name. A required block nested in a block that a lower
    template replaces is not rendered, so it is not reported.
    """
    env = make_environment(ref, None)
    chain: list[nodes.Template] = []  # the template itself first, then what it extends
    name: str | None = ref.name
    while name is not None and len(chain) < 32:
        source, filename, _ = env.loader.get_source(env, name)
        ast = env.parse(source, name, filename)
        chain.append(ast)
        parents = [n.template.value for n in ast.find_all(nodes.Extends)
                   if isinstance(n.template, nodes.Const) and isinstance(n.template.value, str)]
        name = parents[0] if parents else None
    missing: list[str] = []
    for depth, ast in enumerate(chain):
        below = {b.name for lower in chain[:depth] for b in lower.find_all(nodes.Block) if not b.required}
        for block, enclosing in _blocks(ast, ()):
            if block.required and block.name not in below and not below & set(enclosing):
                missing.append(block.name)
    return sorted(set(missing))


def _blocks(node: nodes.Node, enclosing: tuple[str, ...]):
    """Each block under ``node`` with the names of the blocks around it."""
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.Block):
            yield child, enclosing
            yield from _blocks(child, (*enclosing, child.name))
        else:
            yield from _blocks(child, enclosing)
