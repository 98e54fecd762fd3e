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
    make_environment,
    resolve_template,
    section_files,
    template_error,
)
from publisher.errors import BadInputError

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
    "tags": "The metadata tags (openvino, nncf, 8-bit, sparse, then user tags).",
    "pipeline_tag": "Hub pipeline tag (e.g. text-classification).",
    "task_name": "Display name of the pipeline tag (e.g. Text Classification).",
    "library_name": "Metadata library_name (e.g. transformers).",
    "ov_model_class": "optimum-intel class that loads the IR for this task, or None.",
    "dataset": "Evaluation dataset: name, type, config, split, args, num_samples, url (Hub page or None).",
    "metric": "Metric id (e.g. accuracy).",
    "metric_title": "Metric display name (e.g. Accuracy).",
    "accuracy": "Measured metric values: torch, openvino (floats, unrounded).",
    "sparsity": "Sparsity: scope, torch, openvino (overall ratios), sparse (bool), layers (count).",
    "weight_format": "IR weight format: int8, int4, fp16 or fp32.",
    "weight_format_title": "weight_format for prose (INT8, FP16, ...).",
    "versions": "Versions recorded at export: openvino, optimum_intel, nncf, transformers, torch (release part, or None).",
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
    "verification": "IR check: compiled, device, samples, max_abs_logit_diff, argmax_agreement, passed.",
    "performance": "publish --bench figures or None: cpu, openvino, sequence_length, latency_ms (batch 1, median), throughput and throughput_batch, sparse_supported, sparse_throughput, sparse_rate.",
    "links": "Documentation links: openvino_ir_docs, optimization_guide, nncf, optimum_intel, notebooks, sparsity_notebook.",
    "default_section": "In a section file only: the text the template would have rendered for that section.",
}

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
    template: str | Path | None = None, sections_dir: Path | None = None
) -> list[TemplateVariable]:
    """Every variable ``template`` (and what it extends/includes, and ``sections_dir``) uses."""
    ref = resolve_template(template)
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


def check_template(template: str | Path | None, sections_dir: Path | None) -> None:
    """Refuse a template (or sections folder) that cannot render, before any slow work runs."""
    ref = resolve_template(template)
    try:
        variables = template_variables(template, sections_dir)
    except jinja2.TemplateError as exc:
        raise template_error(exc, ref) from exc
    unknown = [v.name for v in variables if not v.known]
    if unknown:
        raise BadInputError(
            f"Card template {template or sections_dir} uses undefined variable(s): {', '.join(unknown)}",
            "Fix the names (run `publisher card variables` to list what templates can use), or "
            "set them in the template with {% set %}",
        )
