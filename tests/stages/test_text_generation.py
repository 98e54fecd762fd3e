"""Causal-LM engine (issue 12): export int8/int4/fp32, perplexity, parity, generation, precision.

Tiny random Llama (tied embeddings, 25% zero weights in the decoder blocks) and GPT-2 (Conv1D
layers) models with a trained byte-level BPE tokenizer; everything runs offline in seconds.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from publisher.errors import BadInputError
from publisher.results import (
    GenerationCheck,
    LLMPerformanceResult,
    TextGenerationMeasurements,
    WeightCompression,
    from_dict,
    to_jsonable,
)
from publisher.stages.load import load_checkpoint
from publisher.stages.text_data import EvalText, TextEvalSpec, load_eval_text
from tests.fixtures_llm import build_tiny_lm, tiny_gpt2, tiny_llama  # noqa: F401 (fixtures)

CAUSAL = "AutoModelForCausalLM"
WINDOW, STRIDE = 64, 32


@pytest.fixture(scope="module")
def eval_text() -> EvalText:
    return load_eval_text(TextEvalSpec(max_characters=1500))


def _export(ckpt: Path, out: Path, compression: WeightCompression, calibration=None) -> Path:
    from publisher.stages.export import export_causal_lm

    loaded = load_checkpoint(ckpt, auto_class=CAUSAL)
    export_causal_lm(loaded.model, loaded.tokenizer, out, compression=compression,
                     staging_dir=out.parent / ".staging", calibration_texts=calibration)
    return out


@pytest.fixture(scope="module")
def llama_int8(tiny_llama, tmp_path_factory) -> Path:
    return _export(tiny_llama, tmp_path_factory.mktemp("llama8") / "ir", WeightCompression("int8"))


@pytest.fixture(scope="module")
def llama_int4(tiny_llama, tmp_path_factory) -> Path:
    return _export(tiny_llama, tmp_path_factory.mktemp("llama4") / "ir",
                   WeightCompression("int4", group_size=32))


@pytest.fixture(scope="module")
def gpt2_fp32(tiny_gpt2, tmp_path_factory) -> Path:
    return _export(tiny_gpt2, tmp_path_factory.mktemp("gpt2") / "ir", WeightCompression("fp32"))


@pytest.fixture(scope="module")
def llama_measured(tiny_llama, llama_int8, eval_text) -> TextGenerationMeasurements:
    from publisher.stages.text_generation import measure_text_generation

    loaded = load_checkpoint(tiny_llama, auto_class=CAUSAL)
    return measure_text_generation(loaded, llama_int8, eval_text, window=WINDOW, stride=STRIDE,
                                   prompts=["What is the capital of France?", "The river"],
                                   max_new_tokens=8, compression=WeightCompression("int8"))


# --- export -----------------------------------------------------------------------------------


def test_int8_release_holds_the_ir_tokenizer_pair_and_runs_in_openvino_genai(llama_int8, tiny_llama):
    import openvino_genai

    names = {p.name for p in llama_int8.iterdir()}
    assert {"openvino_model.xml", "openvino_model.bin", "openvino_tokenizer.xml",
            "openvino_tokenizer.bin", "openvino_detokenizer.xml", "openvino_detokenizer.bin",
            "config.json", "generation_config.json", "tokenizer.json"} <= names
    assert not (llama_int8.parent / ".staging").exists()
    # No local path (the staging folder optimum-intel records as the tokenizer) leaks into the release.
    assert "/tmp" not in (llama_int8 / "openvino_config.json").read_text()
    pipe = openvino_genai.LLMPipeline(str(llama_int8), "CPU")
    cfg = openvino_genai.GenerationConfig()
    cfg.max_new_tokens, cfg.do_sample = 5, False
    assert isinstance(pipe.generate("The river", cfg), str)
    # Stateful: the KV cache lives in the model's state, not in inputs.
    import openvino as ov

    model = ov.Core().read_model(str(llama_int8 / "openvino_model.xml"))
    assert model.get_sinks() or model.get_variables()
    assert {i.get_any_name() for i in model.inputs} >= {"input_ids", "attention_mask", "beam_idx"}


def test_int4_export_stores_decoder_weights_as_int4(llama_int4, tiny_llama):
    import torch

    from publisher.stages.export import applied_compression
    from publisher.stages.weight_precision import weight_precision_of_dir

    wp = weight_precision_of_dir(llama_int4)
    assert wp.shares["int4"] > 0
    model = load_checkpoint(tiny_llama, auto_class=CAUSAL).model
    block = sum(m.weight.numel() for n, m in model.named_modules()
                if isinstance(m, torch.nn.Linear) and ".layers." in n)
    head = model.lm_head.weight.numel()
    # NNCF's default: every decoder linear in INT4 (ratio 1.0); the LM head stays INT8.
    assert wp.elements == {"int4": block, "int8": head, "float": 0}
    assert wp.shares["int4"] == pytest.approx(block / (block + head))
    assert wp.layers["lm_head"] == "int8" and wp.layers["model.layers.0.mlp.down_proj"] == "int4"
    assert wp.element_types["model.layers.1.self_attn.q_proj"] == "u4"
    applied = applied_compression(llama_int4, WeightCompression("int4", group_size=32))
    assert (applied.group_size, applied.ratio, applied.sym, applied.backup_mode) == (32, 1.0, False, "int8_asym")
    assert applied.applied["mode"] == "int4_asym"


def test_int4_data_aware_options_reach_nncf(tiny_gpt2, tmp_path, eval_text):
    from publisher.stages.export import applied_compression
    from publisher.stages.text_generation import calibration_texts
    from publisher.stages.weight_precision import weight_precision_of_dir

    texts = calibration_texts(eval_text.text, samples=4, characters=300)
    assert 1 < len(texts) <= 4
    comp = WeightCompression("int4", group_size=32, ratio=0.5, sym=True, awq=True, scale_estimation=True)
    out = _export(tiny_gpt2, tmp_path / "ir", comp, calibration=texts)
    applied = applied_compression(out, comp)
    assert applied.applied["mode"] == "int4_sym" and applied.sym
    assert applied.awq and applied.scale_estimation and applied.ratio == 0.5
    wp = weight_precision_of_dir(out)
    # ratio 0.5: some decoder layers fall back to INT8.
    assert wp.counts["int4"] > 0 and wp.counts["int8"] > 1


def test_fp32_export_keeps_float_weights(gpt2_fp32):
    from publisher.stages.weight_precision import weight_precision_of_dir

    wp = weight_precision_of_dir(gpt2_fp32)
    assert wp.shares == {"int4": 0.0, "int8": 0.0, "float": 1.0}
    assert "transformer.h.0.attn.c_attn" in wp.layers  # GPT-2's Conv1D (aten::addmm) is found


# --- perplexity and parity --------------------------------------------------------------------


def _independent_perplexities(ckpt: Path, ir_dir: Path, text: str, window: int, stride: int):
    """The strided recipe written out with transformers' own loss (labels=-100 masking)."""
    import torch
    import transformers
    from optimum.intel import OVModelForCausalLM

    tok = transformers.AutoTokenizer.from_pretrained(str(ckpt))
    model = transformers.AutoModelForCausalLM.from_pretrained(str(ckpt)).eval()
    ov_model = OVModelForCausalLM.from_pretrained(str(ir_dir), ov_config={"CACHE_DIR": ""})
    ids = tok(text, return_tensors="pt").input_ids
    n = ids.size(1)
    nll = {"torch": 0.0, "ov": 0.0}
    count, prev_end = 0, 0
    for begin in range(0, n, stride):
        end = min(begin + window, n)
        trg_len = end - prev_end
        input_ids = ids[:, begin:end]
        labels = input_ids.clone()
        labels[:, :-trg_len] = -100
        scored = int((labels[:, 1:] != -100).sum())
        with torch.no_grad():
            nll["torch"] += float(model(input_ids, labels=labels).loss) * scored
            logits = torch.as_tensor(ov_model(input_ids=input_ids,
                                              attention_mask=torch.ones_like(input_ids)).logits)
        nll["ov"] += float(torch.nn.functional.cross_entropy(
            logits[0, :-1], labels[0, 1:], ignore_index=-100, reduction="sum"))
        count += scored
        prev_end = end
        if end == n:
            break
    return math.exp(nll["torch"] / count), math.exp(nll["ov"] / count), count


def test_perplexity_matches_an_independent_computation(llama_measured, tiny_llama, llama_int8, eval_text):
    ppl = llama_measured.perplexity
    torch_ppl, ov_ppl, count = _independent_perplexities(tiny_llama, llama_int8, eval_text.text,
                                                         WINDOW, STRIDE)
    assert ppl.tokens_scored == count
    assert ppl.torch == pytest.approx(torch_ppl, rel=1e-5)
    assert ppl.openvino == pytest.approx(ov_ppl, rel=1e-4)
    assert ppl.torch != ppl.openvino  # INT8 weights move the IR's perplexity
    assert (ppl.window, ppl.stride) == (WINDOW, STRIDE) and ppl.windows > 2
    assert ppl.dataset.num_tokens == count + 1 and ppl.dataset.sha256 == eval_text.info.sha256
    assert ppl.seconds_per_pass["torch"] > 0 and ppl.seconds_per_pass["openvino"] > 0


def test_parity_is_exact_for_fp32_and_close_for_int8(llama_measured, tiny_gpt2, gpt2_fp32, eval_text):
    from publisher.stages.perplexity import load_ir, perplexity_and_parity, tokenize

    int8 = llama_measured.parity
    assert int8.positions == llama_measured.perplexity.tokens_scored
    assert 0.5 < int8.top1_agreement < 1.0 and 0 < int8.mean_abs_logit_diff < int8.max_abs_logit_diff
    loaded = load_checkpoint(tiny_gpt2, auto_class=CAUSAL)
    ids = tokenize(loaded.tokenizer, eval_text.text)
    ppl, fp32 = perplexity_and_parity(loaded.model, load_ir(gpt2_fp32, "f32"), ids, eval_text.info,
                                      window=WINDOW, stride=STRIDE, max_windows=3)
    assert ppl.windows == 3 and ppl.tokens_scored == WINDOW - 1 + 2 * STRIDE
    assert fp32.top1_agreement == 1.0 and fp32.max_abs_logit_diff < 1e-3
    assert ppl.inference_precision == "f32"
    assert ppl.openvino == pytest.approx(ppl.torch, rel=1e-4)


def test_windows_cover_the_text_once():
    from publisher.stages.perplexity import make_windows

    ws = make_windows(100, 40, 16)
    scored = [w.begin + i for w in ws for i in range(w.first_scored, w.end - w.begin)]
    assert scored == list(range(1, 100))  # every token but the first, each once
    assert ws[-1].end == 100
    assert all(w.end - w.begin <= 40 for w in ws)


def test_torch_batches_hold_consecutive_windows_of_one_shape_within_the_logit_budget():
    from publisher.stages.perplexity import make_windows, torch_batches

    ws = make_windows(1000, 64, 32)  # the first (scores all), 29 alike, a short last one
    groups = torch_batches(ws, 400, max_batch=8)
    assert [w for g in groups for w in g] == ws
    assert [len(g) for g in groups] == [1, 8, 8, 8, 5, 1]
    assert all(len({(w.end - w.begin, w.first_scored) for w in g}) == 1 for g in groups)
    # 32 scored positions x 1,000 entries x 4 bytes = 128 kB a window: 3 fit in 400 kB.
    assert {len(g) for g in torch_batches(ws[1:-1], 1000, logit_bytes=400_000)} == {3, 2}
    assert all(len(g) == 1 for g in torch_batches(ws, 10**9, logit_bytes=1))


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_batched_torch_windows_score_what_single_windows_score(family, tiny_llama, tiny_gpt2, eval_text):
    import torch

    from publisher.stages.perplexity import _scored_logits_torch, _torch_batch, make_windows, tokenize, torch_batches

    loaded = load_checkpoint(tiny_llama if family == "llama" else tiny_gpt2, auto_class=CAUSAL)
    ids = torch.tensor(tokenize(loaded.tokenizer, eval_text.text))
    ws = make_windows(len(ids), WINDOW, STRIDE)
    groups = torch_batches(ws, len(loaded.tokenizer))
    assert max(len(g) for g in groups) > 1
    for group in groups:
        batch = _torch_batch(loaded.model, ids, group)
        for k, w in enumerate(group):
            alone = _scored_logits_torch(loaded.model, ids[w.begin:w.end].unsqueeze(0), w.first_scored)[0]
            assert torch.allclose(batch[k], alone, rtol=0, atol=1e-4)


# --- generation -------------------------------------------------------------------------------


def test_generation_check_compares_token_ids(llama_measured):
    gen = llama_measured.generation
    assert gen.greedy and gen.max_new_tokens == 8 and len(gen.samples) == 2
    for s in gen.samples:
        assert s.chat_template_applied and s.tokenizer_match
        assert s.match == (s.first_divergence_token is None)
        assert 0 < s.torch_tokens <= 8 and 0 < s.openvino_tokens <= 8
    assert gen.exact_match_rate == sum(s.match for s in gen.samples) / 2


def test_fp32_release_generates_exactly_what_torch_generates(tiny_gpt2, gpt2_fp32):
    from publisher.stages.generation import check_generation

    loaded = load_checkpoint(tiny_gpt2, auto_class=CAUSAL)
    gen = check_generation(loaded.model, loaded.tokenizer, gpt2_fp32,
                           ["The capital of France", "Two plus two"], max_new_tokens=10,
                           inference_precision="f32")
    assert gen.exact_match_rate == 1.0
    assert all(s.first_divergence_token is None and s.torch_text == s.openvino_text for s in gen.samples)


def test_first_divergence():
    from publisher.stages.generation import first_divergence

    assert first_divergence([1, 2, 3], [1, 2, 3]) is None
    assert first_divergence([1, 2, 3], [1, 5, 3]) == 1
    assert first_divergence([1, 2], [1, 2, 3]) == 2


# --- sparsity, round trip ---------------------------------------------------------------------


def test_sparsity_covers_decoder_blocks_only(llama_measured):
    sp = llama_measured.sparsity
    assert sp.torch.overall == pytest.approx(0.25, abs=1e-3)
    # INT8 rounding can only add zeros (q == zero point), never remove the exact ones.
    assert 0.25 - 1e-3 <= sp.openvino.overall < 0.30
    assert set(sp.torch.layers) == set(sp.openvino.layers)
    assert len(sp.torch.layers) == 14 and "lm_head" not in sp.torch.layers
    assert "model.layers.1.mlp.down_proj" in sp.torch.layers


def test_measurements_round_trip_through_json(llama_measured):
    data = json.loads(json.dumps(to_jsonable(dataclasses.asdict(llama_measured))))
    assert from_dict(TextGenerationMeasurements, data) == llama_measured
    assert llama_measured.compression.applied["mode"] == "int8_asym"
    perf = LLMPerformanceResult(cpu="x", openvino="y", prompt_tokens=8, output_tokens=4,
                                ttft_ms={"median": 1.0}, tokens_per_second={"median": 2.0}, runs=3)
    assert from_dict(LLMPerformanceResult, to_jsonable(dataclasses.asdict(perf))) == perf
    gen = llama_measured.generation
    assert from_dict(GenerationCheck, to_jsonable(dataclasses.asdict(gen))) == gen


# --- bad input --------------------------------------------------------------------------------


def test_text_too_short_for_one_window(tiny_llama):
    from publisher.stages.perplexity import make_windows, tokenize

    loaded = load_checkpoint(tiny_llama, auto_class=CAUSAL)
    ids = tokenize(loaded.tokenizer, "A short text.")
    with pytest.raises(BadInputError, match=rf"has {len(ids)} tokens, fewer than one perplexity window of 512"):
        make_windows(len(ids), 512, 256)


def test_group_size_that_does_not_divide_the_hidden_size(tiny_llama, tmp_path):
    with pytest.raises(BadInputError, match=r"group size 128 does not divide .*64.*--group-size 64"):
        _export(tiny_llama, tmp_path / "ir", WeightCompression("int4"))
    assert not (tmp_path / "ir").exists()


def test_int4_options_on_int8_and_awq_without_text(tiny_llama, tmp_path):
    with pytest.raises(BadInputError, match="--group-size only apply to INT4"):
        _export(tiny_llama, tmp_path / "a", WeightCompression("int8", group_size=64))
    with pytest.raises(BadInputError, match="need calibration text"):
        _export(tiny_llama, tmp_path / "b", WeightCompression("int4", group_size=32, awq=True))


def test_int4_on_a_classifier_is_refused_with_a_reason(tiny_checkpoint, tmp_path):
    from publisher.stages.export import export_ir

    loaded = load_checkpoint(tiny_checkpoint)
    with pytest.raises(BadInputError, match="int4 is for causal language models.*Use --weight-format int8"):
        export_ir(loaded.model, loaded.tokenizer, tmp_path / "ir", weight_format="int4",
                  staging_dir=tmp_path / "s")


# --- evaluation text --------------------------------------------------------------------------


def test_bundled_text_is_checked_and_described():
    import hashlib

    from publisher.stages.text_data import BUNDLED_SHA256, SST2_TEXT, WIKITEXT2_TEST, bundled_text_path

    full = load_eval_text()  # the default: WikiText-2 raw test, the whole file as it is
    assert full.info.sha256 == BUNDLED_SHA256 == WIKITEXT2_TEST.sha256
    assert hashlib.sha256(bundled_text_path(WIKITEXT2_TEST).read_bytes()).hexdigest() == BUNDLED_SHA256
    assert (full.info.name, full.info.type, full.info.config, full.info.split, full.info.source) == (
        "WikiText-2 (raw)", "Salesforce/wikitext", "wikitext-2-raw-v1", "test", "bundled:wikitext-2-raw-test")
    assert full.info.license == "cc-by-sa-3.0" and full.info.num_characters == 1_294_336
    assert full.text.count("\n") == 11_605 and full.text.startswith("\n\n = Robert Boulter = \n")
    folder = bundled_text_path(WIKITEXT2_TEST).parent
    assert "Attribution-ShareAlike 3.0 Unported" in (folder / "LICENSE-wikitext2-CC-BY-SA-3.0.txt").read_text()
    assert WIKITEXT2_TEST.sha256 in (folder / "PROVENANCE.md").read_text()
    # The SST-2 sentences, the default before, stay bundled so that older releases can be re-checked.
    old = load_eval_text(TextEvalSpec(bundled=SST2_TEXT.key))
    assert old.info.sha256 == SST2_TEXT.sha256 and old.info.num_characters == 92294
    assert old.info.license and old.text.count("\n") == 872 and old.info.source == "bundled:glue-sst2-validation-text"
    with pytest.raises(BadInputError, match="bundled:nope is not bundled"):
        load_eval_text(TextEvalSpec(bundled="nope"))


def test_a_re_check_reads_the_bundled_text_the_report_names():
    from types import SimpleNamespace

    from publisher.tasks.generation import recheck_text_spec

    options = SimpleNamespace(eval_file=None, dataset=None)
    for source in ("bundled:wikitext-2-raw-test", "bundled:glue-sst2-validation-text"):
        ds = SimpleNamespace(source=source)
        report = SimpleNamespace(text_generation=SimpleNamespace(perplexity=SimpleNamespace(dataset=ds)))
        spec = recheck_text_spec(report, options)
        assert load_eval_text(spec).info.source == source


def test_txt_and_jsonl_files(tmp_path):
    (tmp_path / "a.txt").write_text("one two three\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text('{"text": "first"}\n\n{"text": "second"}\n', encoding="utf-8")
    a = load_eval_text(TextEvalSpec(eval_file=tmp_path / "a.txt"))
    b = load_eval_text(TextEvalSpec(eval_file=tmp_path / "b.jsonl"))
    assert (a.text, a.info.type) == ("one two three\n", "txt")
    assert (b.text, b.info.type) == ("first\n\nsecond", "jsonl")
    (tmp_path / "c.jsonl").write_text('{"body": "x"}\n', encoding="utf-8")
    with pytest.raises(BadInputError, match="line 1 has no string field 'text'"):
        load_eval_text(TextEvalSpec(eval_file=tmp_path / "c.jsonl"))
    (tmp_path / "d.csv").write_text("x\n", encoding="utf-8")
    with pytest.raises(BadInputError, match=r"\.csv"):
        load_eval_text(TextEvalSpec(eval_file=tmp_path / "d.csv"))


@pytest.mark.parametrize("line,message", [
    ("[" * 100_000, r"b\.jsonl line 2 is not valid JSON \(it nests arrays or objects too deeply"),
    ('{"text": "\\ud800 lone"}', r"b\.jsonl line 2: the 'text' field is not text \(a lone surrogate"),
])
def test_jsonl_lines_the_parser_or_utf8_cannot_take_are_refused(tmp_path, line, message):
    # RecursionError and UnicodeEncodeError (hashing the text) were exit 1 (the loader fuzzer, issue 26).
    (tmp_path / "b.jsonl").write_text('{"text": "first"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(BadInputError, match=message):
        load_eval_text(TextEvalSpec(eval_file=tmp_path / "b.jsonl"))


def test_text_too_short_names_its_source():
    from publisher.stages.perplexity import make_windows

    with pytest.raises(BadInputError, match=r"evaluation text from /data/e\.txt has 2 tokens, fewer than one"):
        make_windows(2, 32, 16, source="/data/e.txt")


# --- benchmark --------------------------------------------------------------------------------


def test_benchmark_llm_reports_genai_perf_metrics(llama_int8, tmp_path):
    from publisher.bench_llm import benchmark_llm

    perf = benchmark_llm(llama_int8, prompt_tokens=16, output_tokens=4, runs=2)
    assert (perf.prompt_tokens, perf.output_tokens, perf.runs) == (16, 4, 2)
    assert 0 < perf.ttft_ms["min"] <= perf.ttft_ms["median"] <= perf.ttft_ms["max"]
    assert perf.tokens_per_second["median"] > 0 and perf.openvino and perf.cpu
    with pytest.raises(BadInputError, match="openvino_tokenizer.xml"):
        benchmark_llm(tmp_path)
