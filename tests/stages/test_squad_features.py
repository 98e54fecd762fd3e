"""Windows of a long context (doc stride), the best span of hand-made logits mapped back to the
context, and the span rules, with a real BERT tokenizer and no model."""

from __future__ import annotations

import numpy as np
import pytest

from publisher.errors import BadInputError
from publisher.stages import squad_features as f
from tests.fixtures_models import minilm_tokenizer_dir

WORDS = [f"word{i}" if i != 150 else "needle" for i in range(200)]
LONG = " ".join(WORDS)


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(minilm_tokenizer_dir()))


def _context_tokens(w, window):
    return [o for o in w.offsets[window] if o is not None]


def test_a_context_longer_than_the_window_is_split_with_the_stride_and_covered_to_its_end(tokenizer):
    w = f.make_windows(tokenizer, ["Where is the needle?", "Short?"], [LONG, "A short context."], max_length=64,
                       doc_stride=16, batch_size=4)
    long_windows = [i for i, q in enumerate(w.question_of) if q == 0]
    assert len(long_windows) > 1 and w.question_of.count(1) == 1 and w.split_questions == 1
    assert all(n <= 64 for n in w.lengths)
    # Every word of the context lies in some window: nothing was truncated.
    covered = {o for i in long_windows for o in _context_tokens(w, i)}
    starts = {s for s, _ in covered}
    position = 0
    for word in WORDS:
        begin = LONG.index(word, position)
        assert begin in starts, word
        position = begin + len(word)
    # Consecutive windows share doc_stride context tokens.
    for a, b in zip(long_windows, long_windows[1:]):
        assert _context_tokens(w, a)[-16:] == _context_tokens(w, b)[:16]


def test_the_best_span_over_the_windows_is_mapped_back_to_the_contexts_characters(tokenizer):
    w = f.make_windows(tokenizer, ["Where is the needle?"], [LONG], max_length=64, doc_stride=16, batch_size=4)
    starts = [np.zeros(n, dtype=np.float32) for n in w.lengths]
    ends = [np.zeros(n, dtype=np.float32) for n in w.lengths]
    target = LONG.index("needle")
    window, token = next((i, k) for i in range(w.num_windows) for k, o in enumerate(w.offsets[i])
                         if o is not None and o[0] == target)
    starts[window][token] = 5.0
    ends[window][token] = 5.0
    # A higher logit on a question token (outside the context) must not win.
    question_token = next(k for k, o in enumerate(w.offsets[0]) if o is None and k > 0)
    starts[0][question_token] = ends[0][question_token] = 50.0
    found = f.answers(w, f.SpanLogits(starts, ends, 0.0), [LONG], max_answer_length=30)
    assert window > 0 and found[0].text == "needle" and found[0].start == target


def test_a_span_must_not_end_before_it_starts_nor_exceed_the_max_answer_length():
    offsets = [None, (0, 3), (4, 7), (8, 11), (12, 15), None]  # tokens 1..4 are the context
    start = np.array([0, 0, 0, 9, 1, 0], dtype=np.float32)
    end = np.array([30, 8, 0, 0, 0, 30], dtype=np.float32)
    # (3, 1) would score 9 + 8 but ends before it starts; tokens 0 and 5 are not context. Of the valid
    # spans (3, 3) and (3, 4) both score 9: the lower end wins, every time.
    assert f.best_span(start, end, offsets, max_answer_length=30) == (3, 3, 9.0)
    end[4] = 5.0
    assert f.best_span(start, end, offsets, max_answer_length=30) == (3, 4, 14.0)
    # At most one token: (3, 4) is two tokens long.
    assert f.best_span(start, end, offsets, max_answer_length=1) == (3, 3, 9.0)
    assert f.best_span(start, end, [None] * 6, max_answer_length=30) is None


def test_a_slow_tokenizer_a_stride_not_below_the_window_and_a_question_filling_the_window_are_refused(tokenizer):
    class Slow:
        is_fast = False

    with pytest.raises(BadInputError, match="not a fast tokenizer"):
        f.make_windows(Slow(), ["q"], ["c"], max_length=64, doc_stride=16, batch_size=1)
    with pytest.raises(BadInputError, match="--doc-stride 64 is not smaller"):
        f.make_windows(tokenizer, ["q"], ["c"], max_length=64, doc_stride=64, batch_size=1)
    with pytest.raises(BadInputError, match="cannot be split into windows"):
        f.make_windows(tokenizer, [" ".join(["why"] * 80)], [LONG], max_length=64, doc_stride=16, batch_size=1)


def test_window_settings_the_checkpoint_cannot_run_are_refused_before_any_work(tmp_path):
    from publisher.settings import PublishSettings, QuestionAnsweringOptions
    from publisher.tasks import TASKS

    task = TASKS["question-answering"]
    config = {"architectures": ["BertForQuestionAnswering"], "max_position_embeddings": 512}
    too_long = PublishSettings(checkpoint=tmp_path, repo_id=None, qa=QuestionAnsweringOptions(max_seq_length=1024))
    with pytest.raises(BadInputError, match="--max-seq-length 1024 is more than the 512 positions"):
        task.check_checkpoint(config, tmp_path, too_long)
    stuck = PublishSettings(checkpoint=tmp_path, repo_id=None,
                            qa=QuestionAnsweringOptions(max_seq_length=128, doc_stride=128))
    with pytest.raises(BadInputError, match="--doc-stride 128 is not smaller than --max-seq-length 128"):
        task.check_checkpoint(config, tmp_path, stuck)
