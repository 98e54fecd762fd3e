"""An LLM release report as the pipeline wrote it (tiny random Llama, INT4, no push), and variants.

``fixtures/llm-report.json`` is a real report of ``publisher publish`` on a tiny random
``LlamaForCausalLM`` (its generations are gibberish with control characters: a test of how the card
shows model output). Only its two local paths were renamed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from publisher.results import LLMPerformanceResult, Report

FIXTURE = Path(__file__).parent / "fixtures" / "llm-report.json"


def llm_report() -> Report:
    return Report.load(FIXTURE)


def full_llm_report() -> Report:
    """The same release with everything a card can show: the lineage stated with
    ``--base-model-relation quantized``, data-aware INT4 (AWQ and scale estimation on the evaluation
    text, ratio 0.8), a prompt whose IR output matched torch, and ``--bench`` figures."""
    report = llm_report()
    training = dataclasses.replace(
        report.checkpoint.training, base_model_relation="quantized",
        sources={**report.checkpoint.training.sources, "base_model_relation": "flag"})
    tg = report.text_generation
    eval_name = tg.perplexity.dataset.name
    applied = {**tg.compression.applied, "awq": "True", "scale_estimation": "True", "ratio": "0.8",
               "mode": "int4_sym"}
    compression = dataclasses.replace(tg.compression, awq=True, scale_estimation=True, ratio=0.8,
                                      sym=True, dataset=eval_name, calibration_samples=32,
                                      applied=applied)
    first = tg.generation.samples[0]
    matched = dataclasses.replace(tg.generation.samples[1], openvino_text="The sea is wide and `blue`.",
                                  torch_text="The sea is wide and `blue`.", match=True,
                                  first_divergence_token=None, openvino_tokens=9, torch_tokens=9)
    samples = [first, matched, *tg.generation.samples[2:]]
    generation = dataclasses.replace(tg.generation, samples=samples, exact_match_rate=0.25)
    performance = LLMPerformanceResult(
        cpu="Intel(R) Xeon(R) Platinum 8480+", openvino="2026.4.1-20000-abcdef", prompt_tokens=128,
        output_tokens=64, ttft_ms={"median": 12.345, "min": 11.9, "max": 13.1},
        tokens_per_second={"median": 456.78, "min": 440.0, "max": 460.2}, runs=3, seconds=4.2)
    return report.replace(
        checkpoint=dataclasses.replace(report.checkpoint, training=training),
        text_generation=dataclasses.replace(tg, compression=compression, generation=generation),
        performance=performance,
    )
