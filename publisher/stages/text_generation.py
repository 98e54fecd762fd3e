"""Measurements of a causal-LM release after export: the one call the publish runner makes.

Order: perplexity and logit parity (torch and the IR interleaved per window, the IR loaded once),
greedy generation (torch ``generate`` vs ``openvino_genai.LLMPipeline`` on the release folder),
then what is read from the IR without running it: weight precision and sparsity.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from publisher.progress import Progress
from publisher.options import default
from publisher.results import TextGenerationMeasurements, WeightCompression
from publisher.stages.answer_similarity import Embedder, load_prompts
from publisher.stages.text_data import EvalText

# One prompt set for the exact-match rate and the answer similarity (publisher/data/prompts): the
# similarity embeds the same greedy answers, so nothing is generated twice.
DEFAULT_PROMPTS: tuple[str, ...] = load_prompts().prompts
DEFAULT_WINDOW = default("window")
DEFAULT_STRIDE = default("stride")
DEFAULT_MAX_NEW_TOKENS = 32
MAX_NEW_TOKENS = DEFAULT_MAX_NEW_TOKENS
CALIBRATION_SAMPLES = 32
CALIBRATION_CHARACTERS = 1500


def calibration_texts(text: str | EvalText, *, samples: int = CALIBRATION_SAMPLES,
                      characters: int = CALIBRATION_CHARACTERS) -> list[str]:
    """Up to ``samples`` chunks of about ``characters`` each, cut at line ends, from the start of ``text``.

    Data-aware compression (AWQ, scale estimation) needs activations; optimum-intel tokenizes each
    chunk whole, so chunks are kept short enough (a few hundred tokens) to bound its memory.
    """
    if isinstance(text, EvalText):
        text = text.text
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        current += line
        if len(current) >= characters:
            chunks.append(current)
            current = ""
            if len(chunks) >= samples:
                break
    if current.strip() and len(chunks) < samples:
        chunks.append(current)
    return [c for c in chunks if c.strip()]


def measure_text_generation(
    loaded: Any,
    ir_dir: str | Path,
    eval_text: EvalText,
    *,
    window: int = DEFAULT_WINDOW,
    stride: int = DEFAULT_STRIDE,
    prompts: list[str] | tuple[str, ...] = DEFAULT_PROMPTS,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    compression: WeightCompression,
    progress: Progress | None = None,
    max_windows: int | None = None,
    inference_precision: str | None = None,
    embedder: Embedder | None = None,
) -> TextGenerationMeasurements:
    """Everything measured on a causal-LM release; ``loaded`` is a ``LoadedCheckpoint``.

    ``inference_precision`` (None: the CPU plugin's default, as users run the release; "f32" to
    separate export error from bf16 arithmetic) applies to the IR passes and is recorded.
    ``embedder`` (None: not measured) embeds the greedy answers for the answer similarity.
    """
    import openvino as ov

    from publisher.stages.export import applied_compression
    from publisher.stages.generation import check_generation
    from publisher.stages.perplexity import load_ir, perplexity_and_parity, tokenize
    from publisher.stages.sparsity import measure_sparsity
    from publisher.stages.weight_precision import measure_weight_precision

    import dataclasses

    from publisher.stages.export import needs_data

    progress = progress or Progress(quiet=True)
    ir_dir = Path(ir_dir)
    if needs_data(compression) and compression.dataset is None:
        # Data-aware compression calibrates on the evaluation text (see export_causal_lm's caller).
        compression = dataclasses.replace(compression, dataset=eval_text.info.name)
    if needs_data(compression) and compression.calibration_samples is None:
        compression = dataclasses.replace(compression,
                                          calibration_samples=len(calibration_texts(eval_text)))
    timings: dict[str, float] = {}

    with progress.stage("Perplexity and logit parity: torch and the IR on the same windows"):
        t0 = time.perf_counter()
        ids = tokenize(loaded.tokenizer, eval_text.text)
        ov_model = load_ir(ir_dir, inference_precision)
        timings["load_ir"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        perplexity, parity = perplexity_and_parity(
            loaded.model, ov_model, ids, eval_text.info, window=window, stride=stride,
            max_windows=max_windows, progress=progress)
        timings["perplexity"] = time.perf_counter() - t0
        del ov_model

    with progress.stage("Greedy generation: torch vs openvino_genai"):
        t0 = time.perf_counter()
        generation = check_generation(loaded.model, loaded.tokenizer, ir_dir, list(prompts),
                                      max_new_tokens=max_new_tokens,
                                      inference_precision=inference_precision, progress=progress)
        timings["generation"] = time.perf_counter() - t0

    similarity = None
    if embedder is not None:
        from publisher.stages.answer_similarity import measure_answer_similarity, prompt_set_of

        with progress.stage(f"Answer similarity: torch and IR answers embedded by {embedder.info.name}"):
            t0 = time.perf_counter()
            similarity = measure_answer_similarity(
                [s.torch_text for s in generation.samples], [s.openvino_text for s in generation.samples],
                embedder, prompt_set_of(prompts), generation.max_new_tokens)
            timings["similarity"] = time.perf_counter() - t0

    with progress.stage("Weight precision and sparsity read from the IR"):
        t0 = time.perf_counter()
        ir = ov.Core().read_model(str(ir_dir / "openvino_model.xml"))
        precision = measure_weight_precision(ir)
        sparsity = measure_sparsity(loaded.model, ir)
        timings["weights"] = time.perf_counter() - t0

    return TextGenerationMeasurements(
        parity=parity,
        perplexity=perplexity,
        generation=generation,
        weight_precision=precision,
        sparsity=sparsity,
        compression=applied_compression(ir_dir, compression),
        timings={k: round(v, 3) for k, v in timings.items()},
        answer_similarity=similarity,
    )
