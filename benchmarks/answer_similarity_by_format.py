"""Answer similarity of SmolLM2-135M-Instruct by weight format: the measurement behind the default of
`--min-similarity` (issue 24).

    python benchmarks/answer_similarity_by_format.py              # SmolLM2 (built by its recipe)
    python benchmarks/answer_similarity_by_format.py --max-windows 32

Each setting is one `publisher publish --no-push` of the same checkpoint (perplexity over the first
`--max-windows` windows of the bundled WikiText-2, the generation check on the bundled 42 prompts, answer
similarity with the packaged all-MiniLM-L6-v2, every gate off so that each setting is measured to the
end). The IR runs at the CPU's default inference precision (bf16 on CPUs with AVX512-BF16 or AMX, f32
elsewhere), as publish measures it; the script then generates the IR's answers once more with the
inference precision forced to f32 and compares them with the same torch answers, which separates the
weights' share of the drift from the activations'. Prints a table and writes JSON to artifacts/bench/.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS: dict[str, list[str]] = {
    "fp16": ["--weight-format", "fp16"],
    "int8": ["--weight-format", "int8"],
    "int4, ratio 0.5, AWQ + scale estimation": ["--weight-format", "int4", "--ratio", "0.5", "--awq",
                                                "--scale-estimation"],
    "int4, ratio 1.0, data-free": ["--weight-format", "int4"],
}
GATES_OFF = ["--min-similarity", "0", "--max-perplexity-increase", "1000", "--min-top1-agreement", "0"]


def _checkpoint(given: Path | None) -> Path:
    if given:
        return given
    made = subprocess.run([sys.executable, str(ROOT / "recipes" / "smollm2_from_gguf.py"), "--output",
                           str(ROOT / "artifacts" / "checkpoints" / "smollm2-135m-instruct")],
                          capture_output=True, text=True, check=True)
    return Path(made.stdout.strip().splitlines()[-1])


def _publish(checkpoint: Path, out: Path, args: list[str], max_windows: int) -> dict:
    cmd = [sys.executable, "-m", "publisher", "publish", str(checkpoint), "--no-push", "--output", str(out),
           "--repo-id", "bench/smollm2-similarity", "--license", "apache-2.0", "--base-model",
           "HuggingFaceTB/SmolLM2-135M-Instruct", "--base-model-relation", "quantized", "--max-windows",
           str(max_windows), "--json", *GATES_OFF, *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads((out / "report.json").read_text())


def _f32_similarity(out: Path, report: dict, embedder, prompts) -> tuple[float, float, float]:
    from publisher.stages.answer_similarity import measure_answer_similarity
    from publisher.stages.generation import ir_answers

    gen = report["text_generation"]["generation"]
    torch_answers = [s["torch_text"] for s in gen["samples"]]
    answers = ir_answers(out, [s["prompt"] for s in gen["samples"]], max_new_tokens=gen["max_new_tokens"],
                         inference_precision="f32")
    sim = measure_answer_similarity(torch_answers, answers, embedder, prompts, gen["max_new_tokens"])
    return sim.mean, sim.min, sum(a == b for a, b in zip(torch_answers, answers)) / len(answers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, help="default: SmolLM2 built by recipes/smollm2_from_gguf.py")
    parser.add_argument("--max-windows", type=int, default=8, help="perplexity windows (default 8)")
    parser.add_argument("--work", type=Path, default=ROOT / "artifacts" / "bench" / "similarity")
    a = parser.parse_args()

    from publisher.stages.answer_similarity import load_prompts, packaged_embedder

    checkpoint = _checkpoint(a.checkpoint)
    embedder, prompts = packaged_embedder(), load_prompts()
    rows = []
    for i, (name, args) in enumerate(SETTINGS.items()):
        out = a.work / f"setting-{i}"
        start = time.perf_counter()
        report = _publish(checkpoint, out, args, a.max_windows)
        tg = report["text_generation"]
        ppl, sim = tg["perplexity"], tg["answer_similarity"]
        f32_mean, f32_min, f32_exact = _f32_similarity(out, report, embedder, prompts)
        rows.append({"setting": name, "perplexity_increase": ppl["openvino"] / ppl["torch"] - 1,
                     "top1_agreement": tg["parity"]["top1_agreement"],
                     "int4_share": tg["weight_precision"]["shares"].get("int4", 0.0),
                     "inference_precision": tg["generation"]["inference_precision"],
                     "max_new_tokens": tg["generation"]["max_new_tokens"],
                     "greedy_match": tg["generation"]["exact_match_rate"], "similarity": sim["mean"],
                     "similarity_min": sim["min"], "f32_greedy_match": f32_exact, "f32_similarity": f32_mean,
                     "f32_similarity_min": f32_min, "seconds": time.perf_counter() - start})
        print(f"measured {name} in {rows[-1]['seconds']:.0f} s", file=sys.stderr, flush=True)

    precision = rows[0]["inference_precision"]
    print(f"SmolLM2-135M-Instruct, {len(prompts.prompts)} prompts, {rows[0]['max_new_tokens']} new tokens, "
          f"{embedder.info.name}; perplexity "
          f"over {a.max_windows} WikiText-2 windows; IR at the CPU's default precision ({precision}) and at f32")
    print(f"| weights | perplexity increase | top-1 agreement | INT4 share | greedy match ({precision}) | "
          f"similarity ({precision}), min | greedy match (f32) | similarity (f32), min |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['setting']} | {100 * r['perplexity_increase']:+.2f}% | {r['top1_agreement']:.3f} | "
              f"{r['int4_share']:.2f} | {r['greedy_match']:.3f} | {r['similarity']:.3f}, {r['similarity_min']:.2f} | "
              f"{r['f32_greedy_match']:.3f} | {r['f32_similarity']:.3f}, {r['f32_similarity_min']:.2f} |")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = ROOT / "artifacts" / "bench" / f"similarity-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"checkpoint": str(checkpoint), "max_windows": a.max_windows, "rows": rows}, indent=2))
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
