"""Greedy generation with torch and with the release through ``openvino_genai.LLMPipeline``.

Each prompt is rendered with the tokenizer's chat template when it has one (a user turn and the
generation prompt), otherwise used as is. torch encodes the rendered text with the transformers
tokenizer; the IR side encodes it with the release's own tokenizer IR (``openvino_tokenizer.xml``)
and decodes with its detokenizer IR, so the check covers the files as pushed, not just the model.
Both decode greedily for ``max_new_tokens`` (stopping at EOS); generated token ids are compared, and
the first index where they differ is reported per prompt.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from publisher.progress import Progress
from publisher.results import GenerationCheck, GenerationSample


def render_prompt(tokenizer: Any, prompt: str) -> tuple[str, bool]:
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                             add_generation_prompt=True, tokenize=False)
        return text, True
    return prompt, False


def first_divergence(a: list[int], b: list[int]) -> int | None:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def load_pipeline(ir_dir: str | Path, inference_precision: str | None = None) -> Any:
    import openvino_genai

    from publisher.cpus import available_cpus

    config: dict[str, Any] = {"INFERENCE_NUM_THREADS": available_cpus(), "CACHE_DIR": ""}
    if inference_precision:
        config["INFERENCE_PRECISION_HINT"] = inference_precision
    return openvino_genai.LLMPipeline(str(ir_dir), "CPU", **config)


def greedy_config(max_new_tokens: int, eos_token_id: int | None) -> Any:
    import openvino_genai

    cfg = openvino_genai.GenerationConfig()
    cfg.max_new_tokens = max_new_tokens
    cfg.do_sample = False
    cfg.num_beams = 1
    if eos_token_id is not None:
        cfg.eos_token_id = int(eos_token_id)
    if hasattr(cfg, "apply_chat_template"):
        cfg.apply_chat_template = False  # the prompt is already rendered
    return cfg


def _strip_eos(ids: list[int], eos: set[int]) -> list[int]:
    return ids[:-1] if ids and ids[-1] in eos else ids


@contextmanager
def _plain_greedy(model: Any, eos: set[int], pad: int) -> Iterator[None]:
    """torch decodes with no setting of the checkpoint's generation_config.json but its tokens:
    transformers fills every setting ``generate`` is not given from ``model.generation_config``
    (a repetition penalty, suppressed tokens, a minimum length), and the IR side decodes with a
    fresh openvino_genai config, so both sides must decode plainly greedy to be compared."""
    import transformers

    saved = getattr(model, "generation_config", None)
    model.generation_config = transformers.GenerationConfig(
        eos_token_id=sorted(eos) or None, pad_token_id=pad, bos_token_id=getattr(saved, "bos_token_id", None))
    try:
        yield
    finally:
        model.generation_config = saved


def _eos_of(gen_cfg: Any, tokenizer: Any) -> set[int]:
    eos_ids = getattr(gen_cfg, "eos_token_id", None) if gen_cfg is not None else None
    if eos_ids is None:
        eos_ids = tokenizer.eos_token_id
    return set(eos_ids if isinstance(eos_ids, list) else [eos_ids]) - {None}


def _greedy_ir_config(max_new_tokens: int, eos: set[int]) -> Any:
    cfg = greedy_config(max_new_tokens, next(iter(eos)) if len(eos) == 1 else None)
    if len(eos) > 1:
        cfg.stop_token_ids = set(eos)
    return cfg


def ir_answers(ir_dir: str | Path, prompts: list[str], *, max_new_tokens: int,
               inference_precision: str | None = None, progress: Progress | None = None) -> list[str]:
    """The release's greedy answers alone (``publisher verify``), generated as ``check_generation``
    generates them: the release's tokenizer renders the chat template, its generation_config.json
    names the EOS tokens, and openvino_genai runs its IR and tokenizer pair."""
    import transformers

    from publisher.stages.load import load_release_tokenizer

    ir_dir = Path(ir_dir)
    tokenizer = load_release_tokenizer(ir_dir)
    gen_cfg = transformers.GenerationConfig.from_pretrained(str(ir_dir)) \
        if (ir_dir / "generation_config.json").is_file() else None
    eos = _eos_of(gen_cfg, tokenizer)
    cfg = _greedy_ir_config(max_new_tokens, eos)
    pipe = load_pipeline(ir_dir, inference_precision)
    ov_tok = pipe.get_tokenizer()
    answers = []
    progress = progress or Progress(quiet=True)
    with progress.bar("greedy generation (openvino_genai)", len(prompts)) as advance:
        for prompt in prompts:
            text, templated = render_prompt(tokenizer, prompt)
            res = pipe.generate(ov_tok.encode(text, add_special_tokens=not templated), cfg)
            answers.append(ov_tok.decode(_strip_eos([int(x) for x in res.tokens[0]], eos), skip_special_tokens=True))
            advance(1)
    return answers


def check_generation(model: Any, tokenizer: Any, ir_dir: str | Path, prompts: list[str], *,
                     max_new_tokens: int = 32, pipeline: Any = None,
                     inference_precision: str | None = None,
                     progress: Progress | None = None) -> GenerationCheck:
    import torch

    from publisher.stages.perplexity import cpu_inference_precision

    progress = progress or Progress(quiet=True)
    pipe = pipeline or load_pipeline(ir_dir, inference_precision)
    ov_tok = pipe.get_tokenizer()
    eos = _eos_of(getattr(model, "generation_config", None), tokenizer)
    cfg = _greedy_ir_config(max_new_tokens, eos)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else next(iter(eos), 0)
    samples = []
    secs = {"torch": 0.0, "openvino": 0.0}
    with progress.bar("greedy generation (torch + openvino_genai)", len(prompts)) as advance:
        for prompt in prompts:
            text, templated = render_prompt(tokenizer, prompt)
            # The rendered template already holds any BOS it wants; adding special tokens again
            # would double it. A raw prompt gets the tokenizer's usual special tokens.
            hf_ids = tokenizer(text, add_special_tokens=not templated, return_tensors="pt")["input_ids"]
            t0 = time.perf_counter()
            with torch.inference_mode(), _plain_greedy(model, eos, pad):
                out = model.generate(input_ids=hf_ids, attention_mask=torch.ones_like(hf_ids),
                                     do_sample=False, num_beams=1, max_new_tokens=max_new_tokens,
                                     eos_token_id=list(eos) or None, pad_token_id=pad,
                                     temperature=None, top_p=None, top_k=None)
            t1 = time.perf_counter()
            torch_new = _strip_eos(out[0, hf_ids.shape[1]:].tolist(), eos)
            enc = ov_tok.encode(text, add_special_tokens=not templated)
            ov_prompt = [int(x) for x in enc.input_ids.data[0]]
            t2 = time.perf_counter()
            res = pipe.generate(enc, cfg)
            t3 = time.perf_counter()
            ov_new = _strip_eos([int(x) for x in res.tokens[0]], eos)
            secs["torch"] += t1 - t0
            secs["openvino"] += t3 - t2
            div = first_divergence(torch_new, ov_new)
            samples.append(GenerationSample(
                prompt=prompt, chat_template_applied=templated,
                torch_text=tokenizer.decode(torch_new, skip_special_tokens=True),
                openvino_text=ov_tok.decode(ov_new, skip_special_tokens=True),
                match=div is None, first_divergence_token=div,
                tokenizer_match=ov_prompt == hf_ids[0].tolist(),
                torch_tokens=len(torch_new), openvino_tokens=len(ov_new)))
            advance(1)
    return GenerationCheck(
        samples=samples,
        exact_match_rate=sum(s.match for s in samples) / len(samples) if samples else 0.0,
        max_new_tokens=max_new_tokens,
        greedy=True,
        seconds={k: round(v, 3) for k, v in secs.items()},
        inference_precision=cpu_inference_precision(inference_precision),
    )
