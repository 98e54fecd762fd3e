"""Extractive question answering: questions and contexts tokenized into windows, run through torch
and the IR, and the best answer span of each question mapped back to its context.

Windows: question + context are tokenized together with ``truncation="only_second"``: a context
longer than the window (``--max-length``) is split into several windows that overlap by
``--doc-stride`` tokens (``return_overflowing_tokens``), each one holding the whole question. A
context whose end no window reaches is refused, never truncated. Offsets (``return_offsets_mapping``)
need a fast tokenizer; a slow one is refused.

Answer: over every window of a question, the span (start token ``s``, end token ``e``) with the
highest ``start_logits[s] + end_logits[e]``, where ``s <= e``, ``e - s + 1 <= --max-answer-length``
and both tokens lie in the context (not the question, not a special or padding token); its text is
the context's characters from the start of token ``s`` to the end of token ``e``. This is the rule
of transformers' question-answering pipeline and of its SQuAD example's post-processing, searched
over every pair instead of the 20 best starts and ends, so ties and near-misses are decided the
same way every time (first window, then lowest start, then lowest end).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from publisher.errors import BadInputError

SPAN_RULE = ("the highest start + end logit over every window, start <= end, at most max_answer_length tokens, "
             "both inside the context; the answer is the context text between their character offsets")


@dataclass(frozen=True)
class Windows:
    """Tokenized windows, in length-sorted padded batches (``order[i]``: the window at sorted position i)."""

    batches: list[dict[str, Any]]
    order: list[int]
    lengths: list[int]  # tokens of each window
    question_of: list[int]  # the question each window belongs to
    offsets: list[list[tuple[int, int] | None]]  # per window token: its context characters, None outside it
    num_questions: int

    @property
    def num_windows(self) -> int:
        return len(self.lengths)

    @property
    def split_questions(self) -> int:
        """Questions whose context needed more than one window."""
        from collections import Counter

        return sum(1 for n in Counter(self.question_of).values() if n > 1)


def make_windows(tokenizer: Any, questions: list[str], contexts: list[str], *, max_length: int, doc_stride: int,
                 batch_size: int) -> Windows:
    from publisher.stages.data import padded_batches

    if not getattr(tokenizer, "is_fast", False):
        raise BadInputError("The checkpoint's tokenizer is not a fast tokenizer, so answer spans cannot be mapped "
                            "back to the context's characters (no offset mapping)",
                            "Save the checkpoint with a fast tokenizer (tokenizer.json)")
    if doc_stride >= max_length:
        raise BadInputError(f"--doc-stride {doc_stride} is not smaller than --max-length {max_length}: windows "
                            "would overlap completely", "Use a doc stride smaller than the max length (128 of 384)")
    try:
        enc = tokenizer(questions, contexts, truncation="only_second", max_length=max_length, stride=doc_stride,
                        return_overflowing_tokens=True, return_offsets_mapping=True, padding=False)
    except Exception as exc:  # tokenizers raises a bare Exception when the question leaves no room
        raise BadInputError(
            f"The questions and contexts cannot be split into windows of {max_length} tokens with a stride of "
            f"{doc_stride} ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})",
            "Raise --max-length, lower --doc-stride, or shorten the longest questions") from exc
    question_of = list(enc["overflow_to_sample_mapping"])
    offsets = []
    for i, pairs in enumerate(enc["offset_mapping"]):
        sequence = enc.sequence_ids(i)
        offsets.append([tuple(p) if sequence[k] == 1 else None for k, p in enumerate(pairs)])
    _check_every_context_reached(tokenizer, contexts, question_of, offsets)
    batches, order = padded_batches(enc, tokenizer.pad_token_id or 0, batch_size)
    return Windows(batches, order, [len(ids) for ids in enc["input_ids"]], question_of, offsets, len(questions))


def _check_every_context_reached(tokenizer: Any, contexts: list[str], question_of: list[int],
                                 offsets: list[list[tuple[int, int] | None]]) -> None:
    """Each context's last token lies in one of its windows: no context was cut short."""
    alone = tokenizer(contexts, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    reached = [0] * len(contexts)
    for window, q in enumerate(question_of):
        ends = [o[1] for o in offsets[window] if o is not None]
        if ends:
            reached[q] = max(reached[q], max(ends))
    for q, pairs in enumerate(alone):
        last = pairs[-1][1] if pairs else 0
        if reached[q] < last:
            raise BadInputError(
                f"The context of question {q + 1} would be truncated: its windows reach character {reached[q]} of "
                f"{last}", "Raise --max-length or lower --doc-stride")


# --- running: start and end logits of every window ------------------------------------------------------


@dataclass(frozen=True)
class SpanLogits:
    start: list[Any]  # per window (input order): float32 [tokens]
    end: list[Any]
    seconds: float
    device: str = "CPU"


def _scatter(w: Windows, batch_index: int, start: Any, end: Any, out_start: list[Any], out_end: list[Any]) -> None:
    import numpy as np

    size = len(w.batches[0]["input_ids"])
    for r in range(len(start)):
        window = w.order[batch_index * size + r]
        n = w.lengths[window]
        out_start[window] = np.asarray(start[r][:n], dtype=np.float32)
        out_end[window] = np.asarray(end[r][:n], dtype=np.float32)


def run_torch(model: Any, w: Windows, progress: Any = None) -> SpanLogits:
    import torch

    starts: list[Any] = [None] * w.num_windows
    ends: list[Any] = [None] * w.num_windows
    begin = time.perf_counter()
    with torch.inference_mode():
        for b, batch in enumerate(w.batches):
            out = model(**{k: torch.from_numpy(v) for k, v in batch.items()})
            _scatter(w, b, out.start_logits.float().numpy(), out.end_logits.float().numpy(), starts, ends)
            if progress:
                progress(len(batch["input_ids"]))
    return SpanLogits(starts, ends, time.perf_counter() - begin)


def run_ir(compiled: Any, w: Windows, progress: Any = None) -> SpanLogits:
    input_names = {p.get_any_name() for p in compiled.inputs}
    provided = set(w.batches[0]) if w.batches else set()
    if input_names - provided:
        raise BadInputError(
            f"The IR expects inputs {sorted(input_names - provided)} that the tokenizer does not produce (it gives "
            f"{sorted(provided)}): the IR is not this checkpoint's question-answering model",
            "Pass the IR exported from this checkpoint")
    output_names = {name for port in compiled.outputs for name in port.get_names()}
    if not {"start_logits", "end_logits"} <= output_names:
        raise BadInputError(f"The IR has the outputs {sorted(output_names)}, not start_logits and end_logits: it is "
                            "not an extractive question-answering model", "Pass a question-answering IR")
    starts: list[Any] = [None] * w.num_windows
    ends: list[Any] = [None] * w.num_windows
    request = compiled.create_infer_request()
    begin = time.perf_counter()
    for b, batch in enumerate(w.batches):
        request.infer({k: v for k, v in batch.items() if k in input_names})
        _scatter(w, b, request.get_tensor("start_logits").data.copy(), request.get_tensor("end_logits").data.copy(),
                 starts, ends)
        if progress:
            progress(len(batch["input_ids"]))
    return SpanLogits(starts, ends, time.perf_counter() - begin)


# --- the answer of each question ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    text: str
    start: int  # character offset into the context; -1: no span fits the rules
    window: int
    score: float


def best_span(start: Any, end: Any, offsets: list[tuple[int, int] | None], max_answer_length: int
              ) -> tuple[int, int, float] | None:
    """(start token, end token, score) of the best span of one window, or None when none fits."""
    import numpy as np

    inside = np.array([o is not None for o in offsets], dtype=bool)
    if not inside.any():
        return None
    s = np.where(inside, start.astype(np.float64), -np.inf)
    e = np.where(inside, end.astype(np.float64), -np.inf)
    n = len(offsets)
    scores = s[:, None] + e[None, :]
    rows, cols = np.indices((n, n))
    scores[(cols < rows) | (cols - rows + 1 > max_answer_length)] = -np.inf
    flat = int(np.argmax(scores))  # the first of equal maxima: the lowest start, then the lowest end
    best = float(scores.flat[flat])
    if best == -np.inf:
        return None
    return flat // n, flat % n, best


def answers(w: Windows, logits: SpanLogits, contexts: list[str], max_answer_length: int) -> list[Answer]:
    best: list[Answer | None] = [None] * w.num_questions
    for window, q in enumerate(w.question_of):
        found = best_span(logits.start[window], logits.end[window], w.offsets[window], max_answer_length)
        if found is None:
            continue
        s, e, score = found
        if best[q] is None or score > best[q].score:
            begin, finish = w.offsets[window][s][0], w.offsets[window][e][1]
            best[q] = Answer(contexts[q][begin:finish], begin, window, score)
    return [a if a is not None else Answer("", -1, -1, float("-inf")) for a in best]


def parity(w: Windows, torch_logits: SpanLogits, ir_logits: SpanLogits) -> dict[str, Any]:
    """Over every window: the share whose start argmax and end argmax both agree, and the largest
    |torch - IR| start or end logit (the window's own tokens, padding excluded)."""
    import numpy as np

    agree = sum(int(ts.argmax() == os.argmax() and te.argmax() == oe.argmax())
                for ts, te, os, oe in zip(torch_logits.start, torch_logits.end, ir_logits.start, ir_logits.end))
    diff = max((max(float(np.abs(ts - os).max()), float(np.abs(te - oe).max()))
                for ts, te, os, oe in zip(torch_logits.start, torch_logits.end, ir_logits.start, ir_logits.end)),
               default=0.0)
    n = w.num_windows
    return {"windows": n, "span_agreement": agree / n if n else 0.0, "max_abs_logit_diff": diff}
