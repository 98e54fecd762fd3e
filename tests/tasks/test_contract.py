"""The task contract, for every registered task: a tiny model of the task is published to the local
hub, and its ledger, card, read-back, `--json`, CLI summary and `publisher verify` agree; one tampered
figure makes verify exit 6.

A task is covered by registering it: ``CASES`` must name every task of the registry, so a task
added without its case here fails ``test_every_registered_task_has_a_contract_case``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from publisher.errors import EXIT_CLAIM_FAILED
from publisher.tasks import TASKS
from tests.fixtures_embeddings import build_tiny_cross_encoder, build_tiny_sentence_transformer, write_pairs, write_queries
from tests.fixtures_hub import hub_env
from tests.fixtures_llm import CORPUS, build_tiny_lm
from tests.fixtures_models import build_tiny, run_cli
from tests.fixtures_ner import build_tiny_ner, write_conll
from tests.fixtures_qa import build_tiny_qa, write_squad


@dataclass(frozen=True)
class Case:
    build: Callable[[Path], Path]  # a tiny checkpoint of the task in the folder given
    eval_file: Callable[[Path], Path | None]  # evaluation data it is published on (None: bundled)
    args: tuple[str, ...]  # gates a random tiny model passes, and fast evaluation settings


def _text(folder: Path) -> Path:
    path = folder / "eval.txt"
    path.write_text(CORPUS * 4)
    return path


CASES = {
    "text-classification": Case(
        build=lambda folder: build_tiny(folder, zero_fraction=0.5),
        eval_file=lambda folder: None,
        args=("--max-samples", "64", "--max-accuracy-drop", "1", "--min-argmax-agreement", "0.5",
              "--max-logit-diff", "10")),
    "text-generation": Case(
        build=lambda folder: build_tiny_lm(folder, "llama"),
        eval_file=_text,
        args=("--window", "64", "--stride", "32", "--max-windows", "4", "--max-perplexity-increase", "1",
              "--min-top1-agreement", "0", "--min-similarity", "0")),
    "token-classification": Case(
        build=build_tiny_ner,
        eval_file=lambda folder: write_conll(folder / "eval.conll"),
        args=("--max-f1-drop", "1")),
    "feature-extraction": Case(
        build=build_tiny_sentence_transformer,
        eval_file=lambda folder: write_pairs(folder / "pairs.csv"),
        args=()),
    "text-ranking": Case(
        build=build_tiny_cross_encoder,
        eval_file=lambda folder: write_queries(folder / "queries.jsonl"),
        args=("--min-rank-agreement", "0", "--max-ndcg-drop", "1")),
    "question-answering": Case(
        build=build_tiny_qa,
        eval_file=lambda folder: write_squad(folder / "squad.json"),
        args=("--max-f1-drop", "1")),
}


def test_every_registered_task_has_a_contract_case():
    assert set(CASES) == set(TASKS)


def test_every_task_declares_each_claim_id_once_and_gates_the_options_table_knows():
    from publisher.options import BY_KEY

    for task in TASKS.values():
        ids = [f.id for f in task.figures]
        assert len(ids) == len(set(ids)), task.name
        for gate in task.gates:
            assert BY_KEY[gate.option].gate in (">=", "<="), (task.name, gate.option)
        assert task.default_split


@dataclass(frozen=True)
class Published:
    task: str
    repo: str
    document: dict
    output: Path
    summary: str  # the CLI's summary table (stderr of a run without --json)
    eval_file: Path | None


@pytest.fixture(scope="module", params=sorted(CASES))
def published(request, hub_server, tmp_path_factory) -> Published:
    name = request.param
    case = CASES[name]
    base = tmp_path_factory.mktemp(f"contract-{name}")
    checkpoint = case.build(base / "checkpoint")
    eval_file = case.eval_file(base)
    repo = f"tests/contract-{name}"
    out = base / "out"
    common = ["--repo-id", repo, "--endpoint", hub_server.endpoint, "--output", str(out), "--license",
              "apache-2.0", *case.args, *(["--eval-file", str(eval_file)] if eval_file else [])]
    result = run_cli("publish", str(checkpoint), *common, "--json", env=hub_env(hub_server))
    assert result.returncode == 0, result.stderr
    # Again without --json: the same release (cached, no new commit), printed as the summary table.
    again = run_cli("publish", str(checkpoint), *common, env={**hub_env(hub_server), "COLUMNS": "200"})
    assert again.returncode == 0, again.stderr
    return Published(name, repo, json.loads(result.stdout), out, again.stderr, eval_file)


def _report(document):
    from publisher.results import Report

    return Report.from_dict(document)


def test_the_stored_ledger_is_what_the_tasks_table_gives_for_the_measurements(published):
    from publisher.card.ledger import build_ledger
    from publisher.results import to_jsonable

    report = _report(published.document)
    assert report.task == published.task
    rebuilt = build_ledger(report, report.claims.environment)
    assert to_jsonable(rebuilt.__dict__ | {"claims": [c.__dict__ for c in rebuilt.claims]})["claims"] == \
        published.document["claims"]["claims"]
    ids = {c.id for c in rebuilt.claims}
    task = TASKS[published.task]
    # Every figure of the table that applies to this report is in the ledger; no figure is not declared.
    declared = list(task.figures) + [s for family in task.figure_families for s in family.specs(report)]
    assert {f.id for f in declared if f.claim(report) is not None} == {c.id for c in rebuilt.claims
                                                                       if c.kind == "figure"}
    assert "evaluation.rows" in ids and "compression.weights" in ids


def test_the_card_shows_every_body_figure_and_nothing_the_ledger_lacks(published):
    from publisher.card import readback
    from publisher.card.schema import split_front_matter

    card = (published.output / "README.md").read_text()
    _, body = split_front_matter(card)
    report = _report(published.document)
    assert readback.unledgered(body, report.claims) == []
    shown = {readback.figure_claim(f, report.claims)[0].id for f in readback.card_figures(body)}
    body_figures = {c.id for c in report.claims.claims if c.kind == "figure" and "body" in c.where}
    assert body_figures <= shown
    rows = [s for s in readback.card_statements(body) if s.claim_id == "evaluation.rows"]
    assert rows and all(s.value == report.claims.get("evaluation.rows").value for s in rows)


def test_model_index_holds_the_tasks_metric_for_the_ir_and_torch(published):
    from huggingface_hub import ModelCard

    card = ModelCard((published.output / "README.md").read_text())
    task = TASKS[published.task]
    results = {(r.metric_type, r.metric_config): r.metric_value for r in card.data.eval_results}
    report = _report(published.document)
    ir, torch = task.model_index_values(report)
    # The task's metric for both models, and every other result the task declares, each a ledger claim.
    assert results[(task.metric, "openvino")] == round(ir, 5) and results[(task.metric, "torch")] == round(torch, 5)
    assert results == {(m, config): round(v, 5) for m, _, config, v in task.model_index_metrics(report)}
    for (metric, config), value in results.items():
        claim = report.claims.get(f"{metric}.{config}")
        assert claim is not None and "model-index" in claim.where and abs(claim.value - value) < 1e-4
    task_type = (task.model_index_task(report) or (task.name, ""))[0]
    assert all(r.task_type == task_type for r in card.data.eval_results)


def test_json_and_the_summary_table_carry_the_tasks_figures(published):
    from publisher.tasks.contract import read_field

    report = _report(published.document)
    task = TASKS[published.task]
    for claim in report.claims.claims:
        spec = task.figure(claim.id)
        if spec is not None and spec.read is None:  # a measured field: --json holds it at that path
            node = published.document
            for part in claim.field.split("."):
                node = node[part]
            assert node == pytest.approx(claim.value), claim.id
            assert read_field(report, claim.field) == pytest.approx(claim.value)
    for measure, torch_value, ir_value in task.summary_rows(report):
        assert ir_value in published.summary, measure
        assert re.sub(r"\s+", " ", measure)[:20] in re.sub(r"\s+", " ", published.summary), measure
    assert task.key_figure(published.document)


def _verify(hub, repo, work, *extra):
    result = run_cli("verify", repo, "--endpoint", hub.endpoint, "--work-dir", str(work), "--json", *extra,
                     env=hub_env(hub))
    return result, (json.loads(result.stdout) if result.stdout.strip() else None)


def test_verify_holds_and_one_tampered_figure_fails_with_exit_6(published, hub_server, tmp_path):
    from huggingface_hub import HfApi

    from publisher.card import readback

    extra = ["--eval-file", str(published.eval_file)] if published.eval_file else []
    result, doc = _verify(hub_server, published.repo, tmp_path / "fresh", *extra)
    assert result.returncode == 0, result.stderr
    assert not [c for c in doc["checks"] if c["verdict"] == "does not hold"]
    ir_claim = f"{TASKS[published.task].metric}.openvino"
    assert {c["claim"]: c["verdict"] for c in doc["checks"]}[ir_claim] == "holds"

    report = _report(published.document)
    claim = report.claims.get(ir_claim)
    card = (published.output / "README.md").read_text()
    figure = next(f for f in readback.card_figures(card) if readback.figure_claim(f, report.claims)[0].id == ir_claim)
    line = card.splitlines()[figure.line - 1]
    wrong = f"{float(claim.printed) + 0.5:.{len(claim.printed.split('.')[-1])}f}"
    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.token)
    api.create_branch(published.repo, branch="tampered", exist_ok=True)
    api.upload_file(path_or_fileobj=card.replace(line, line.replace(claim.printed, wrong)).encode(),
                    path_in_repo="README.md", repo_id=published.repo, revision="tampered")
    result, doc = _verify(hub_server, published.repo, tmp_path / "tampered", "--revision", "tampered", *extra)
    assert result.returncode == EXIT_CLAIM_FAILED, result.stderr
    assert [c["claim"] for c in doc["checks"] if c["verdict"] == "does not hold"] == [ir_claim]
