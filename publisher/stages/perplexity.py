"""Perplexity of the torch model and of the IR on the same token windows, and their logit parity.

The evaluation text is tokenized once with the checkpoint's tokenizer. Windows of ``window`` tokens
start every ``stride`` tokens (the strided recipe of the transformers perplexity guide): the first
window scores all its next-token predictions, each later window only its last ``stride`` tokens,
which then see at least ``window - stride`` tokens of context; the last window ends at the text's
end. Perplexity is ``exp(sum NLL / tokens scored)``, the NLL summed in float64.

Both models see exactly the same windows. torch scores consecutive windows of the same shape
several at a time (one forward pass over a batch of equal-length windows: no padding, so each
window's logits are what it gets alone, up to float rounding; ``TORCH_BATCH_LOGIT_BYTES`` bounds the scored logits a batch
holds), then the IR scores each of them through ``OVModelForCausalLM`` called without
``past_key_values`` (a stateful IR then starts from a fresh state and returns logits for every
position). Only scored positions' logits are kept (vocabulary x positions is large), and the parity
figures (top-1 agreement, max and mean absolute logit difference) come from the same two passes, so
the IR runs once.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from publisher.errors import BadInputError
from publisher.progress import Progress
from publisher.results import LogitParity, PerplexityResult, TextDatasetInfo

METHOD = ("exp(mean next-token NLL) over strided windows: each window is {window} tokens, windows "
          "start every {stride} tokens, the first window scores all its predictions and later "
          "windows their last {stride} tokens; the same token windows for torch and the IR (IR: "
          "OVModelForCausalLM forward without past, fresh state per window)")


# The scored float32 logits one torch batch may hold (windows x scored positions x vocabulary):
# 256 MiB is 5 windows of 512/256 for a 49k vocabulary (SmolLM2), 1 for a vocabulary over 250k.
TORCH_BATCH_LOGIT_BYTES = 256 << 20
TORCH_MAX_BATCH = 8


@dataclass(frozen=True)
class Window:
    begin: int  # first token of the window in the tokenized text
    end: int  # one past its last token
    first_scored: int  # index (within the window) of the first token whose prediction is scored


def tokenize(tokenizer: Any, text: str) -> list[int]:
    """Token ids of the whole text, as the tokenizer encodes it by default (special tokens included)."""
    return list(tokenizer(text, return_attention_mask=False)["input_ids"])


def make_windows(num_tokens: int, window: int, stride: int, max_windows: int | None = None,
                 source: str | None = None) -> list[Window]:
    if window < 2:
        raise BadInputError(f"The perplexity window is {window} tokens", "Use a window of at least 2 tokens")
    if not 0 < stride <= window:
        raise BadInputError(f"The stride {stride} is not between 1 and the window ({window})",
                            "Pass a stride of at most the window, e.g. half of it")
    if num_tokens < window:
        raise BadInputError(
            f"The evaluation text{f' from {source}' if source else ''} has {num_tokens} tokens, fewer "
            "than one perplexity window of "
            f"{window} tokens",
            f"Pass a longer text (at least {window} tokens with this tokenizer) or a smaller window")
    out: list[Window] = []
    prev_end = 0
    for begin in range(0, num_tokens, stride):
        end = min(begin + window, num_tokens)
        # Tokens already scored by the previous window are context only; token 0 has no prediction.
        first = max(prev_end - begin, 1)
        out.append(Window(begin, end, first))
        prev_end = end
        if end == num_tokens or (max_windows and len(out) >= max_windows):
            break
    return out


def _scored_logits_torch(model: Any, ids: Any, first: int) -> Any:
    """The scored logits of a batch of equal-length windows (``ids``: batch x tokens), all scored
    from position ``first``: batch x scored positions x vocabulary, float32."""
    import torch

    # Position p predicts token p + 1: the predictions of tokens first..end-1 come from positions
    # first-1..end-2. Only those go through the LM head (logits_to_keep): a third of a small
    # model's forward is the vocabulary projection, and context-only positions need none.
    keep = ids.shape[1] - first + 1
    with torch.inference_mode():
        try:
            logits = model(input_ids=ids, logits_to_keep=keep).logits
        except TypeError:  # a model class without logits_to_keep
            logits = model(input_ids=ids).logits[:, first - 1:]
    return logits[:, :-1].float()


def _vocabulary(model: Any) -> int:
    config = getattr(model, "config", None)
    size = getattr(config, "vocab_size", None) or getattr(getattr(config, "text_config", None), "vocab_size", None)
    return int(size) if isinstance(size, int) and size > 0 else 1 << 18


def torch_batches(windows: list[Window], vocabulary: int, *, max_batch: int = TORCH_MAX_BATCH,
                  logit_bytes: int = TORCH_BATCH_LOGIT_BYTES) -> list[list[Window]]:
    """Consecutive windows grouped for one torch forward pass each: the same length and the same
    first scored position (so no padding and one ``logits_to_keep``), at most ``max_batch`` of them
    and at most ``logit_bytes`` of scored float32 logits (always at least one window)."""
    out: list[list[Window]] = []
    for w in windows:
        group = out[-1] if out else None
        if group and len(group) < max_batch and (group[0].end - group[0].begin, group[0].first_scored) == (
                w.end - w.begin, w.first_scored) and \
                (len(group) + 1) * (w.end - w.begin - w.first_scored) * vocabulary * 4 <= logit_bytes:
            group.append(w)
        else:
            out.append([w])
    return out


def _torch_batch(model: Any, ids_all: Any, group: list[Window]) -> Any:
    import torch

    ids = torch.stack([ids_all[w.begin:w.end] for w in group])
    return _scored_logits_torch(model, ids, group[0].first_scored)


def _scored_logits_ir(ov_model: Any, ids: Any, first: int) -> Any:
    import torch

    with torch.inference_mode():
        out = ov_model(input_ids=ids, attention_mask=torch.ones_like(ids))
    logits = out.logits
    logits = torch.from_numpy(logits) if not isinstance(logits, torch.Tensor) else logits
    return logits[0, first - 1:-1].float()


def _nll(logits: Any, targets: Any) -> float:
    """Summed NLL: per-token values in float32 (log-softmax over the vocabulary is exact enough
    there), summed in float64 so thousands of windows do not accumulate rounding; converting the
    whole logit matrix to float64 instead doubled the cost of a window's bookkeeping."""
    import torch

    per_token = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    return float(per_token.double().sum())


def cpu_inference_precision(requested: str | None = None) -> str:
    """What the CPU plugin computes in: ``requested``, else its default (bf16 on CPUs with AVX512-BF16 or AMX)."""
    if requested:
        return requested
    import openvino as ov

    return ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT").get_type_name()


def load_ir(ir_dir: str | Path, inference_precision: str | None = None) -> Any:
    """The IR as ``OVModelForCausalLM`` on CPU; ``inference_precision`` (f32, bf16, f16) or the plugin's default."""
    from optimum.intel import OVModelForCausalLM

    from publisher.cpus import available_cpus

    # One stream on all allowed CPUs: windows are scored one after another. No compiled-model cache
    # (optimum-intel would otherwise write model_cache/ into the release folder).
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": str(available_cpus()),
              "CACHE_DIR": ""}
    if inference_precision:
        config["INFERENCE_PRECISION_HINT"] = inference_precision
    return OVModelForCausalLM.from_pretrained(str(ir_dir), ov_config=config, device="CPU")


def _precision_of(ov_model: Any) -> str:
    try:
        return ov_model.request.get_compiled_model().get_property("INFERENCE_PRECISION_HINT").get_type_name()
    except Exception:  # not compiled yet, or a plugin without the property
        return ""


def perplexity_and_parity(
    model: Any,
    ov_model: Any,
    token_ids: list[int],
    dataset: TextDatasetInfo,
    *,
    window: int,
    stride: int,
    max_windows: int | None = None,
    progress: Progress | None = None,
) -> tuple[PerplexityResult, LogitParity]:
    """Score the same windows with ``model`` (torch) and ``ov_model`` (OVModelForCausalLM)."""
    import dataclasses

    import torch

    progress = progress or Progress(quiet=True)
    windows = make_windows(len(token_ids), window, stride, max_windows, dataset.source)
    ids_all = torch.tensor(token_ids, dtype=torch.long)
    nll = {"torch": 0.0, "openvino": 0.0}
    secs = {"torch": 0.0, "openvino": 0.0}
    scored = agree = 0
    max_diff = 0.0
    abs_sum = 0.0
    window_nll: list[float] = []
    window_tokens: list[int] = []
    with progress.bar("perplexity windows (torch + IR)", len(windows)) as advance:
        for group in torch_batches(windows, _vocabulary(model)):
            t0 = time.perf_counter()
            batch = _torch_batch(model, ids_all, group)
            secs["torch"] += time.perf_counter() - t0
            for k, w in enumerate(group):
                ids = ids_all[w.begin:w.end].unsqueeze(0)
                targets = ids_all[w.begin + w.first_scored:w.end]
                a = batch[k]
                t1 = time.perf_counter()
                b = _scored_logits_ir(ov_model, ids, w.first_scored)
                secs["openvino"] += time.perf_counter() - t1
                if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
                    which = "torch model" if not torch.isfinite(a).all() else "OpenVINO IR"
                    raise BadInputError(
                        f"The {which} produced NaN or infinite logits on the evaluation text; its "
                        "perplexity would be meaningless",
                        "Check the checkpoint's weights (a diverged training run, or a broken conversion)")
                nll["torch"] += _nll(a, targets)
                window_nll.append(_nll(b, targets))
                window_tokens.append(len(targets))
                nll["openvino"] += window_nll[-1]
                agree += int((a.argmax(-1) == b.argmax(-1)).sum())
                diff = (a - b).abs_()
                max_diff = max(max_diff, float(diff.max()))
                abs_sum += float(diff.sum(dim=-1, dtype=torch.float64).sum()) / diff.shape[-1]
                scored += len(targets)
                del a, b, diff
                advance(1)
            del batch
    result = PerplexityResult(
        dataset=dataclasses.replace(dataset, num_tokens=len(token_ids)),
        window=window,
        stride=stride,
        windows=len(windows),
        tokens_scored=scored,
        torch=math.exp(nll["torch"] / scored),
        openvino=math.exp(nll["openvino"] / scored),
        seconds_per_pass={k: round(v, 3) for k, v in secs.items()},
        method=METHOD.format(window=window, stride=stride),
        inference_precision=_precision_of(ov_model),
        openvino_window_nll=window_nll,
        window_tokens=window_tokens,
        max_windows=max_windows,
    )
    parity = LogitParity(positions=scored, top1_agreement=agree / scored,
                         max_abs_logit_diff=max_diff, mean_abs_logit_diff=abs_sum / scored)
    return result, parity


def torch_perplexity(model: Any, token_ids: list[int], *, window: int, stride: int,
                     max_windows: int | None = None,
                     advance: Callable[[int], None] | None = None) -> tuple[float, int]:
    """Torch-only perplexity over the same windows (for the benchmark's floor and the hand route)."""
    import torch

    ids_all = torch.tensor(token_ids, dtype=torch.long)
    total, n = 0.0, 0
    windows = make_windows(len(token_ids), window, stride, max_windows)
    for group in torch_batches(windows, _vocabulary(model)):
        batch = _torch_batch(model, ids_all, group)
        for k, w in enumerate(group):
            targets = ids_all[w.begin + w.first_scored:w.end]
            total += _nll(batch[k], targets)
            n += len(targets)
            if advance:
                advance(1)
    return math.exp(total / n), n


def ir_window_nll(ov_model: Any, token_ids: list[int], *, window: int, stride: int,
                  max_windows: int | None = None, limit: int | None = None,
                  advance: Callable[[int], None] | None = None) -> tuple[list[float], list[int]]:
    """The IR's summed NLL and scored tokens per window, on the windows ``perplexity_and_parity``
    scores (the first ``limit`` of them): what `publisher verify` re-measures."""
    import torch

    ids_all = torch.tensor(token_ids, dtype=torch.long)
    windows = make_windows(len(token_ids), window, stride, max_windows)[:limit]
    nll: list[float] = []
    tokens: list[int] = []
    for w in windows:
        targets = ids_all[w.begin + w.first_scored:w.end]
        logits = _scored_logits_ir(ov_model, ids_all[w.begin:w.end].unsqueeze(0), w.first_scored)
        if not torch.isfinite(logits).all():
            raise BadInputError("The OpenVINO IR produced NaN or infinite logits on the evaluation text",
                                "The IR's weights may be damaged: download the release again")
        nll.append(_nll(logits, targets))
        tokens.append(len(targets))
        if advance:
            advance(1)
    return nll, tokens
