"""``benchmark_llm(IR_DIR)``: time to first token and decode throughput of an LLM release on this CPU.

Runs the release folder as a user would, through ``openvino_genai.LLMPipeline(folder, "CPU")``,
with a prompt of exactly ``prompt_tokens`` tokens (real text from the bundled evaluation text,
tokenized by the release's own tokenizer IR and cut to length) and exactly ``output_tokens`` greedy
new tokens (EOS ignored, so every run decodes the same number). The figures are openvino_genai's
own perf metrics: TTFT is prefill plus the first token; tokens per second is
``1000 / TPOT``, the mean time per output token after the first. One warm-up run is not counted.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from publisher.errors import BadInputError
from publisher.results import LLMPerformanceResult


def _prompt_ids(pipe, prompt_tokens: int):
    import numpy as np
    import openvino as ov

    from publisher.stages.text_data import load_eval_text

    text = load_eval_text().text
    ids = np.asarray(pipe.get_tokenizer().encode(text, add_special_tokens=False).input_ids.data)[0]
    if len(ids) < prompt_tokens:
        raise BadInputError(f"The benchmark prompt can be at most {len(ids)} tokens with this tokenizer",
                            "Pass a smaller prompt length")
    return ov.Tensor(ids[:prompt_tokens].reshape(1, -1).astype(np.int64))


def benchmark_llm(ir_dir: str | Path, *, prompt_tokens: int = 128, output_tokens: int = 64,
                  runs: int = 3) -> LLMPerformanceResult:
    import openvino as ov
    import openvino_genai

    from publisher.cpus import available_cpus

    ir_dir = Path(ir_dir)
    needed = ["openvino_model.xml", "openvino_tokenizer.xml", "openvino_detokenizer.xml"]
    missing = [n for n in needed if not (ir_dir / n).is_file()]
    if missing:
        raise BadInputError(f"{ir_dir} is not an LLM release ({', '.join(missing)} missing)",
                            "Pass the output folder of a text-generation export or publish")
    if prompt_tokens < 1 or output_tokens < 2 or runs < 1:
        raise BadInputError("The benchmark needs a prompt of at least 1 token, at least 2 output "
                            "tokens (throughput is measured after the first) and at least 1 run",
                            "Pass larger values")
    start = time.perf_counter()
    pipe = openvino_genai.LLMPipeline(str(ir_dir), "CPU", INFERENCE_NUM_THREADS=available_cpus(),
                                      CACHE_DIR="")
    ids = _prompt_ids(pipe, prompt_tokens)
    cfg = openvino_genai.GenerationConfig()
    cfg.do_sample = False
    cfg.max_new_tokens = cfg.min_new_tokens = output_tokens
    cfg.ignore_eos = True
    pipe.generate(ids, cfg)  # warm-up: first-inference allocations are not part of the figures
    ttft, tps = [], []
    for _ in range(runs):
        res = pipe.generate(ids, cfg)
        pm = res.perf_metrics
        if pm.get_num_generated_tokens() != output_tokens:
            raise RuntimeError(f"generated {pm.get_num_generated_tokens()} tokens, not {output_tokens}")
        ttft.append(pm.get_ttft().mean)
        tps.append(1000.0 / pm.get_tpot().mean)

    def summary(values: list[float]) -> dict[str, float]:
        return {"median": round(statistics.median(values), 2), "min": round(min(values), 2),
                "max": round(max(values), 2)}

    return LLMPerformanceResult(
        cpu=str(ov.Core().get_property("CPU", "FULL_DEVICE_NAME")),
        openvino=ov.get_version(),
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        ttft_ms=summary(ttft),
        tokens_per_second=summary(tps),
        runs=runs,
        seconds=round(time.perf_counter() - start, 2),
    )
