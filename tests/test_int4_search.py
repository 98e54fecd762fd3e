"""`publisher publish --int4-search`: the INT4 settings tried in the documented order, most compressed
first, each trial exported and measured into a cached folder of its own; the first setting that passes
every gate is published, later candidates are not tried; a re-run re-uses the trials; no passing trial
is exit 3 with the best one named and nothing pushed.

The gates are set from a first, measured run (no measurement is stubbed): on random weights AWQ and
scale estimation usually do worse than data-free INT4 (they calibrate on random activations), so the
model is the tiny llama of seed 2, whose AWQ + scale-estimation trial has the lower perplexity; a
perplexity threshold between the two trials' figures then fails the first and passes the second.
"""

import json

import pytest

from publisher.pipeline.int4_search import CANDIDATES, TorchMemo
from tests.fixtures_hub import hub_env
from tests.fixtures_llm import CORPUS, build_tiny_lm
from tests.fixtures_models import run_cli

WINDOWS = ["--window", "64", "--stride", "32", "--min-similarity", "0"]  # a tiny random LM's answers are noise: the similarity gate is off
IMPOSSIBLE = ["--max-perplexity-increase", "-1", "--min-top1-agreement", "1"]
REPO = "tests/tiny-llama-int4-search-ov"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("int4-search")
    ckpt = build_tiny_lm(base / "ckpt", "llama", seed=2)
    text = base / "eval.txt"
    text.write_text(CORPUS * 6)
    return ckpt, text, base / "out"


@pytest.fixture(scope="module")
def none_passed(setup, hub_server):
    """Two trials against gates nothing meets: exit 3."""
    ckpt, text, out = setup
    result = run_cli("publish", str(ckpt), "--repo-id", REPO, "--endpoint", hub_server.endpoint, "--output",
                     str(out), "--int4-search", "--search-budget", "2", "--eval-file", str(text), *WINDOWS,
                     *IMPOSSIBLE, "--json", env=hub_env(hub_server))
    return result, json.loads((out / "report.json").read_text())


@pytest.fixture(scope="module")
def second_passes(setup, hub_server, none_passed):
    """The same output folder, a perplexity gate between the two trials' figures, the default budget."""
    ckpt, text, out = setup
    first, second = none_passed[1]["text_generation"]["int4_search"]["trials"]
    increase = [t["figures"]["max_perplexity_increase"] for t in (first, second)]
    assert increase[1] < increase[0], f"the fixture's AWQ trial no longer has the lower perplexity: {increase}"
    threshold = sum(increase) / 2
    result = run_cli("publish", str(ckpt), "--repo-id", REPO, "--endpoint", hub_server.endpoint, "--output",
                     str(out), "--int4-search", "--eval-file", str(text), *WINDOWS,
                     "--max-perplexity-increase", repr(threshold), "--min-top1-agreement", "0", "--json",
                     env=hub_env(hub_server))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout), threshold, out


def test_the_candidates_run_from_the_most_compressed_to_the_least():
    """A larger INT4 ratio first, then the larger group; of equals, data-free before AWQ + scale estimation."""
    order = [(-c.ratio, c.group_divisor, c.data_aware) for c in CANDIDATES]
    assert order == sorted(order) and len(set(order)) == len(order)
    assert (CANDIDATES[0].ratio, CANDIDATES[0].data_aware, CANDIDATES[0].group_divisor) == (1.0, False, 1)


def test_no_passing_trial_exits_3_naming_the_best_and_pushes_nothing(none_passed, hub_server):
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    result, report = none_passed
    assert result.returncode == 3, result.stderr[-3000:]
    search = report["text_generation"]["int4_search"]
    assert search["chosen"] is None and len(search["trials"]) == 2
    # The best trial, counted here: fewest gates missed, then the smaller total miss.
    def miss(t):
        failed = [g for g in t["gates"] if not g["passed"]]
        return len(failed), sum(abs(g["measured"] - g["threshold"]) for g in failed), t["number"]
    best = min(search["trials"], key=miss)
    message = " ".join(result.stderr.split())
    assert f"The best, trial {best['number']} ({best['setting']}" in message
    for gate in (g for g in best["gates"] if not g["passed"]):
        assert f"{gate['name']} ({gate['measured']:.4f}" in message
    assert "Raise --search-budget (now 2)" in message and "Nothing was pushed" in message
    assert report["status"] == "not_released"
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=hub_server.endpoint, token=hub_server.token).list_repo_files(REPO)


def test_each_trial_is_the_documented_candidate_with_its_own_measurements(none_passed):
    _, report = none_passed
    trials = report["text_generation"]["int4_search"]["trials"]
    assert [t["number"] for t in trials] == [1, 2]
    assert [(t["ratio"], t["awq"], t["scale_estimation"], t["group_size"]) for t in trials] == [
        (1.0, False, False, 64), (1.0, True, True, 64)]  # hidden size 64: the default group is 64
    assert not any(t["from_cache"] for t in trials)
    for t in trials:
        assert {g["name"] for g in t["gates"]} >= {"max_perplexity_increase", "min_top1_agreement"}
        assert t["figures"] == {g["name"]: g["measured"] for g in t["gates"]}
        assert all(not g["passed"] for g in t["gates"] if g["name"] in ("max_perplexity_increase",
                                                                          "min_top1_agreement"))
    # Two exports, not one: the trials' IRs differ.
    assert trials[0]["folder"] != trials[1]["folder"]


def test_the_first_passing_trial_is_published_and_the_search_stops_there(second_passes, hub_server):
    doc, threshold, out = second_passes
    search = doc["text_generation"]["int4_search"]
    assert search["chosen"] == 2 and [t["passed"] for t in search["trials"]] == [False, True]
    assert len(search["trials"]) == 2 < search["budget"]  # stopped early: 7 candidates were left
    assert search["trials"][0]["figures"]["max_perplexity_increase"] > threshold
    # The release is trial 2's IR: its measurements, its compression, its files on the Hub.
    q = doc["text_generation"]["compression"]
    assert (q["ratio"], q["awq"], q["scale_estimation"]) == (1.0, True, True)
    ppl = doc["text_generation"]["perplexity"]
    assert (ppl["openvino"] - ppl["torch"]) / ppl["torch"] == pytest.approx(
        search["trials"][1]["figures"]["max_perplexity_increase"])
    trial_files = {f["path"]: f["sha256"] for f in doc["export"]["files"]}
    from publisher.digest import sha256_file

    folder = out / search["trials"][1]["folder"]
    assert trial_files["openvino_model.bin"] == sha256_file(folder / "openvino_model.bin")
    assert doc["status"] == "released" and doc["hub"]["repo_id"] == REPO


def test_a_re_run_re_uses_every_trial_from_the_cache(second_passes):
    """The second publish found both trials measured by the first: nothing was loaded or exported."""
    doc, _, _ = second_passes
    assert all(t["from_cache"] for t in doc["text_generation"]["int4_search"]["trials"])
    assert doc["cache"] == {"export": True, "measure": True}
    assert "load" not in doc["timings"] and "export" not in doc["timings"]


def test_the_card_shows_the_search_as_a_table_and_the_ledger_holds_each_trial(second_passes):
    doc, _, out = second_passes
    card = (out / "README.md").read_text()
    trials = doc["text_generation"]["int4_search"]["trials"]
    rows = [line for line in card.splitlines() if line.startswith("| ") and "ratio 1.0" in line]
    assert len(rows) == len(trials)
    for row, t in zip(rows, trials):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[:3] == [str(t["number"]), t["setting"], f"{t['int4_share']:.4f}"]
        assert f"{t['figures']['max_perplexity_increase']:.4f}" in cells
        assert cells[-2] == ("passed" if t["passed"] else cells[-2]) and cells[-1].startswith("cached, ")
    assert "released trial 2, the first that passed every quality gate" in " ".join(card.split())
    claims = {c["id"]: c for c in doc["claims"]["claims"]}
    for t in trials:
        claim = claims[f"int4_search.trial{t['number']}.max_perplexity_increase"]
        assert claim["value"] == t["figures"]["max_perplexity_increase"] and claim["recheck"] == "record"
        assert "earlier run" in claim["text"]  # re-used from the cache, and the ledger says so


def test_the_card_of_the_search_passes_lint_and_regenerates_unchanged(second_passes, hub_server):
    env = hub_env(hub_server)
    lint = run_cli("card", "lint", REPO, "--endpoint", hub_server.endpoint, env=env)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    regen = run_cli("card", "regenerate", REPO, "--endpoint", hub_server.endpoint, "--dry-run", env=env)
    assert regen.returncode == 0, regen.stderr
    assert not [line for line in regen.stdout.splitlines() if line.startswith("+ ")], regen.stdout


def test_the_search_refuses_the_settings_it_chooses_itself(setup, tmp_path):
    ckpt, text, _ = setup
    result = run_cli("publish", str(ckpt), "--no-push", "--output", str(tmp_path / "out"), "--int4-search",
                     "--awq", "--eval-file", str(text))
    assert result.returncode == 2 and "--awq" in result.stderr and "chooses" in result.stderr


def test_the_torch_memo_runs_torch_once_per_input():
    import torch

    calls = []
    model = torch.nn.Linear(3, 2)
    model.register_forward_hook(lambda *a: calls.append(1))

    class WithLogits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, input_ids):
            return type("Out", (), {"logits": self.inner(input_ids)})()

    memo = TorchMemo(WithLogits())
    x, y = torch.ones(1, 3), torch.zeros(1, 3)
    first = memo(input_ids=x).logits
    assert torch.equal(memo(input_ids=x.clone()).logits, first) and len(calls) == 1
    memo(input_ids=y)
    assert len(calls) == 2
    memo.flag = True  # attributes are the model's own (check_generation swaps generation_config)
    assert memo._model.flag is True


def test_publisher_verify_holds_on_the_search_release_and_lists_the_trials_as_records(second_passes, hub_server,
                                                                                       setup, tmp_path):
    _, text, _ = setup
    doc, _, _ = second_passes
    result = run_cli("verify", REPO, "--endpoint", hub_server.endpoint, "--work-dir", str(tmp_path), "--json",
                     "--eval-file", str(text), env=hub_env(hub_server))
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {c["claim"]: c for c in json.loads(result.stdout)["checks"]}
    assert rows["perplexity.openvino"]["verdict"] == "holds"
    trial_rows = [r for claim, r in rows.items() if claim.startswith("int4_search.")]
    figures = sum(len(t["figures"]) + 1 for t in doc["text_generation"]["int4_search"]["trials"])
    assert len(trial_rows) == figures and all(r["verdict"] == "not re-checkable" for r in trial_rows)
