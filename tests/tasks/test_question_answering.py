"""question-answering end to end through the real CLI: every figure against an independent run of the
released IR and of the checkpoint, scored here by the official SQuAD v1.1 rules written out again; a
context longer than the window is split by the stride; the bundled SQuAD v1.1 dev split is the default;
bad rows are refused before the export; `publisher verify` re-measures from the IR and the checkpoint."""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from pathlib import Path

import pytest

from publisher.errors import EXIT_BAD_INPUT
from tests.fixtures_hub import hub_env
from tests.fixtures_models import run_cli
from tests.fixtures_qa import QUESTIONS, build_tiny_qa, write_squad

# A context of about 300 tokens: longer than a 64-token window, so it is split with the stride.
LONG_CONTEXT = " ".join(f"Sentence {i} names the city of Gdansk as a port." for i in range(30)) + \
    " The final sentence says the answer is Wroclaw."
LONG_QUESTION = ("q-long", LONG_CONTEXT, "Which city is the answer?", ["Wroclaw", "the answer is Wroclaw"])
WINDOW, STRIDE, MAX_ANSWER = 64, 16, 30


def _normalise(text: str) -> str:
    text = "".join(c for c in text.lower() if c not in set(string.punctuation))
    return " ".join(w for w in text.split() if w not in ("a", "an", "the"))


def _f1(prediction: str, gold: str) -> float:
    p, g = _normalise(prediction).split(), _normalise(gold).split()
    same = sum((Counter(p) & Counter(g)).values())
    return 0.0 if same == 0 else 2 * (same / len(p)) * (same / len(g)) / (same / len(p) + same / len(g))


def _answer(run, tokenizer, question: str, context: str) -> str:
    """The best span over every window, by brute force: start + end logit, start <= end, at most
    MAX_ANSWER tokens, both in the context."""
    import numpy as np

    enc = tokenizer(question, context, truncation="only_second", max_length=WINDOW, stride=STRIDE,
                    return_overflowing_tokens=True, return_offsets_mapping=True)
    best, text = -np.inf, ""
    for w in range(len(enc["input_ids"])):
        ids = {k: np.array([enc[k][w]]) for k in ("input_ids", "attention_mask", "token_type_ids")}
        start, end = run(ids)
        context_tokens = [k for k, s in enumerate(enc.sequence_ids(w)) if s == 1]
        for s in context_tokens:
            for e in context_tokens:
                if s <= e < s + MAX_ANSWER and start[s] + end[e] > best:
                    best = start[s] + end[e]
                    text = context[enc["offset_mapping"][w][s][0]:enc["offset_mapping"][w][e][1]]
    return text


def _squad(predictions: list[str], questions) -> tuple[float, float]:
    em = [max(float(_normalise(p) == _normalise(g)) for g in q[3]) for p, q in zip(predictions, questions)]
    f1 = [max(_f1(p, g) for g in q[3]) for p, q in zip(predictions, questions)]
    return 100 * sum(em) / len(em), 100 * sum(f1) / len(f1)


@pytest.fixture(scope="module")
def published(hub_server, tmp_path_factory):
    base = tmp_path_factory.mktemp("qa")
    checkpoint = build_tiny_qa(base / "ckpt")
    questions = [*QUESTIONS, LONG_QUESTION]
    eval_file = write_squad(base / "squad.json", questions)
    repo = "tests/qa-release"
    result = run_cli("publish", str(checkpoint), "--repo-id", repo, "--endpoint", hub_server.endpoint,
                     "--output", str(base / "out"), "--license", "apache-2.0", "--eval-file", str(eval_file),
                     "--max-seq-length", str(WINDOW), "--doc-stride", str(STRIDE), "--max-f1-drop", "1", "--json",
                     env=hub_env(hub_server))
    assert result.returncode == 0, result.stderr
    return checkpoint, eval_file, base / "out", repo, json.loads(result.stdout), questions


def test_every_figure_is_what_an_independent_run_of_the_ir_and_the_checkpoint_gives(published):
    import torch
    from optimum.intel import OVModelForQuestionAnswering
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    checkpoint, _, out, _, doc, questions = published
    r = doc["task_results"]
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    ir = OVModelForQuestionAnswering.from_pretrained(str(out))
    pt = AutoModelForQuestionAnswering.from_pretrained(str(checkpoint)).eval()

    def run_ir(ids):
        o = ir(**ids)
        return o.start_logits[0], o.end_logits[0]

    def run_torch(ids):
        with torch.inference_mode():
            o = pt(**{k: torch.from_numpy(v) for k, v in ids.items()})
        return o.start_logits[0].numpy(), o.end_logits[0].numpy()

    ir_answers = [_answer(run_ir, tokenizer, q[2], q[1]) for q in questions]
    torch_answers = [_answer(run_torch, tokenizer, q[2], q[1]) for q in questions]
    ir_em, ir_f1 = _squad(ir_answers, questions)
    torch_em, torch_f1 = _squad(torch_answers, questions)
    assert torch_em > 0 and ir_f1 > 0  # the seed's model answers some questions: the figures are not all 0
    assert r["openvino"]["exact_match"] == pytest.approx(ir_em) and r["openvino"]["f1"] == pytest.approx(ir_f1)
    assert r["torch"]["exact_match"] == pytest.approx(torch_em) and r["torch"]["f1"] == pytest.approx(torch_f1)
    same = sum(a == b for a, b in zip(ir_answers, torch_answers)) / len(questions)
    assert r["parity"]["answer_agreement"] == pytest.approx(same)
    # The long context was split: 6 questions, more windows than questions, one question split.
    assert r["dataset"]["num_samples"] == 6 and r["split_questions"] == 1
    windows = sum(len(tokenizer(q[2], q[1], truncation="only_second", max_length=WINDOW, stride=STRIDE,
                                return_overflowing_tokens=True)["input_ids"]) for q in questions)
    assert r["windows"] == r["parity"]["windows"] == windows > 6
    card = (out / "README.md").read_text()
    assert f"- OpenVINO IR F1: **{ir_f1:.2f}**" in card and f"- PyTorch exact match: **{torch_em:.2f}**" in card
    assert "6 questions over 3 contexts" in card and f"overlapping by {STRIDE} tokens" in card
    assert re.search(r"type: question-answering", card) and "type: exact_match" in card


def test_verify_re_measures_from_the_ir_and_the_checkpoint_and_needs_the_local_file(published, hub_server, tmp_path):
    from publisher.errors import EXIT_CLAIM_FAILED

    checkpoint, eval_file, _, repo, _, _ = published
    common = ["verify", repo, "--endpoint", hub_server.endpoint, "--json"]
    refused = run_cli(*common, "--work-dir", str(tmp_path / "w1"), env=hub_env(hub_server))
    assert refused.returncode not in (0, EXIT_CLAIM_FAILED) and "--eval-file" in refused.stderr
    result = run_cli(*common, "--work-dir", str(tmp_path / "w2"), "--eval-file", str(eval_file),
                     "--checkpoint", str(checkpoint), env=hub_env(hub_server))
    assert result.returncode == 0, result.stderr
    verdicts = {c["claim"]: c["verdict"] for c in json.loads(result.stdout)["checks"]}
    for claim in ("f1.openvino", "exact_match.openvino", "f1.torch", "exact_match.torch", "parity.span_agreement",
                  "parity.answer_agreement", "parity.max_abs_logit_diff", "sparsity.torch", "evaluation.rows"):
        assert verdicts[claim] == "holds", (claim, verdicts)


def test_the_bundled_squad_dev_split_is_the_default_and_verify_needs_no_file_for_it(hub_server, tmp_path):
    checkpoint = build_tiny_qa(tmp_path / "ckpt")
    repo = "tests/qa-bundled"
    result = run_cli("publish", str(checkpoint), "--repo-id", repo, "--endpoint", hub_server.endpoint,
                     "--output", str(tmp_path / "out"), "--license", "apache-2.0", "--max-samples", "40",
                     "--max-f1-drop", "1", "--json", env=hub_env(hub_server))
    assert result.returncode == 0, result.stderr
    ds = json.loads(result.stdout)["task_results"]["dataset"]
    assert ds["bundled"] and ds["num_samples"] == 40 and ds["split"] == "validation"
    assert ds["name"] == "SQuAD v1.1 (first 40 questions)"
    card = (tmp_path / "out" / "README.md").read_text()
    assert "validation split of SQuAD v1.1 (first 40 questions) (40 questions" in card
    assert "CC BY-SA 4.0" in card and "`dev-v1.1.json`" in card
    assert "type: squad" in card
    verified = run_cli("verify", repo, "--endpoint", hub_server.endpoint, "--work-dir", str(tmp_path / "w"),
                       "--json", env=hub_env(hub_server))
    assert verified.returncode == 0, verified.stderr
    verdicts = {c["claim"]: c["verdict"] for c in json.loads(verified.stdout)["checks"]}
    assert verdicts["f1.openvino"] == verdicts["exact_match.openvino"] == verdicts["evaluation.rows"] == "holds"


def test_card_lint_regenerate_and_the_cards_usage_snippet_hold_on_the_pushed_release(published, hub_server,
                                                                                     tmp_path):
    import subprocess
    import sys

    from tests.fixtures_llm import card_snippets

    _, _, out, repo, _, _ = published
    env = hub_env(hub_server)
    lint = run_cli("card", "lint", repo, "--endpoint", hub_server.endpoint, env=env)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    regen = run_cli("card", "regenerate", repo, "--endpoint", hub_server.endpoint, "--dry-run", env=env)
    assert regen.returncode == 0, regen.stderr
    # Any changed line (a hunk, whatever it starts with) makes the status would-update instead.
    assert "@@" not in regen.stdout and regen.stdout.strip().endswith("1 unchanged"), regen.stdout
    snippets = card_snippets((out / "README.md").read_text())
    assert len(snippets) == 1 and f'"{repo}"' in snippets[0]
    run = subprocess.run([sys.executable, "-c", snippets[0]], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=300)
    assert run.returncode == 0, snippets[0] + run.stderr[-3000:]
    # It prints a span of its context.
    assert run.stdout.strip() and run.stdout.strip() in "OpenVINO was released by Intel in 2018."


@pytest.mark.parametrize("break_row, message", [
    (lambda qa: qa["answers"][0].update(answer_start=qa["answers"][0]["answer_start"] + 2),
     "is not the text of its context at answer_start"),
    (lambda qa: qa.update(is_impossible=True, answers=[]), "unanswerable question"),
])
def test_a_bad_row_is_refused_before_the_export(tmp_path, break_row, message):
    checkpoint = build_tiny_qa(tmp_path / "ckpt")
    path = write_squad(tmp_path / "squad.json")
    document = json.loads(path.read_text())
    break_row(document["data"][0]["paragraphs"][0]["qas"][1])
    path.write_text(json.dumps(document))
    result = run_cli("publish", str(checkpoint), "--repo-id", "t/qa", "--output", str(tmp_path / "out"),
                     "--no-push", "--license", "apache-2.0", "--eval-file", str(path))
    assert result.returncode == EXIT_BAD_INPUT and message in result.stderr and "'q2'" in result.stderr
    assert not (tmp_path / "out" / "openvino_model.xml").exists()


def test_the_release_holds_what_optimum_intel_loads_as_a_question_answering_model(published):
    _, _, out, _, doc, _ = published
    files = {f["path"] for f in doc["export"]["files"]}
    assert {"openvino_model.xml", "openvino_model.bin", "config.json"} <= files
    assert json.loads((Path(out) / "config.json").read_text())["architectures"] == ["BertForQuestionAnswering"]
