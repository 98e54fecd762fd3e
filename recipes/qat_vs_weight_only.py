#!/usr/bin/env python
"""QAT or weight-only INT8? Measure both on a checkpoint built by ``sst2_minilm.py``.

Starts from the finished 80%-sparse checkpoint (the recipe's output folder) so both routes share
one starting point, and prints, on SST-2 validation:

1. weight-only INT8: the checkpoint exported as the publish pipeline does it
   (``OVWeightQuantizationConfig(bits=8)``), evaluated with OpenVINO;
2. PTQ W8A8: ``nncf.quantize`` (weights and activations, SmoothQuant off, as the recipe's QAT
   phase), evaluated in torch with NNCF's fake quantisation;
3. QAT W8A8: the same after ``--qat-steps`` of quantisation-aware fine-tuning with distillation
   from the fp32 checkpoint, the sparsity masks kept (re-created from the checkpoint's zeros);
4. QAT weights -> weight-only INT8: the QAT weights baked (masks, weight fake-quant) into a plain
   model and exported like (1): what the publish pipeline would ship from a QAT run.

Usage: ``python recipes/qat_vs_weight_only.py CHECKPOINT [--qat-steps 300] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--qat-steps", type=int, default=300)
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    cli = p.parse_args(argv)

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import sst2_minilm as recipe

    meta = json.loads((cli.checkpoint / "training_metadata.json").read_text())
    settings = meta["recipe_settings"]
    args = recipe.parse_args([])
    for key, value in settings.items():
        setattr(args, key, value)
    args.eval_steps = 0

    import nncf
    import torch
    import transformers
    from nncf.parameters import PruneMode
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, AdvancedSmoothQuantParameters
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    transformers.set_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(cli.checkpoint))
    rows = recipe.load_train()
    if args.train_size and args.train_size < len(rows):
        rows = random.Random(args.seed).sample(rows, args.train_size)
    train = recipe.Encoded(tokenizer, rows, args.max_seq_length)
    val = recipe.Encoded(tokenizer, recipe.load_validation(), args.max_seq_length)
    figures: dict[str, object] = {"checkpoint": str(cli.checkpoint), "qat_steps": cli.qat_steps}

    def timed(name: str, fn):
        start = time.perf_counter()
        value = fn()
        figures[f"{name}_seconds"] = round(time.perf_counter() - start, 1)
        return value

    acc, _ = timed("weight_only_int8", lambda: recipe.openvino_int8_accuracy(cli.checkpoint, val, args.threads))
    figures["weight_only_int8_openvino_accuracy"] = round(acc, 5)
    recipe.log(f"weight-only INT8 (OpenVINO)         {acc:.4f}")

    fp32 = AutoModelForSequenceClassification.from_pretrained(str(cli.checkpoint))
    figures["fp32_torch_accuracy"] = round(recipe.evaluate(fp32, val, "eval fp32"), 5)
    model = AutoModelForSequenceClassification.from_pretrained(str(cli.checkpoint))
    zeros, total, _ = recipe.block_linear_sparsity(model)
    example = val.batch(val.eval_batches(4)[-1])
    # The checkpoint's zeros are exactly the smallest-magnitude 80% of each matrix, so a LOCAL
    # magnitude mask at the same ratio re-creates the recipe's masks; QAT then cannot regrow them.
    model = nncf.prune(model, PruneMode.UNSTRUCTURED_MAGNITUDE_LOCAL, ratio=round(zeros / total, 4),
                       ignored_scope=nncf.IgnoredScope(patterns=recipe.PRUNE_IGNORED_PATTERNS, validate=False),
                       examples_inputs=example)

    def quantize():
        calib_idx = random.Random(args.seed).sample(range(len(train)), min(args.qat_subset_size, len(train)))
        batches = [calib_idx[j: j + args.batch_size] for j in range(0, len(calib_idx), args.batch_size)]
        model.eval()
        return nncf.quantize(
            model, nncf.Dataset([train.batch(b) for b in batches]), subset_size=len(batches),
            model_type=nncf.ModelType.TRANSFORMER,
            advanced_parameters=AdvancedQuantizationParameters(
                smooth_quant_alphas=AdvancedSmoothQuantParameters(convolution=-1, matmul=-1)),
        )

    model = timed("ptq", quantize)
    figures["ptq_w8a8_torch_accuracy"] = round(recipe.evaluate(model, val, "eval ptq"), 5)
    recipe.log(f"PTQ W8A8 (torch fake-quant)         {figures['ptq_w8a8_torch_accuracy']:.4f}")

    trainer = recipe.Trainer(args, train, val)
    trainer.set_teacher(fp32)
    epochs = cli.qat_steps / trainer.steps_per_epoch
    timed("qat", lambda: trainer.run_phase(model, "qat", epochs, args.qat_learning_rate, distill=True))
    figures["qat_w8a8_torch_accuracy"] = round(recipe.evaluate(model, val, "eval qat"), 5)
    recipe.log(f"QAT W8A8 (torch fake-quant)         {figures['qat_w8a8_torch_accuracy']:.4f}")

    model.eval()
    recipe.bake_quantized_weights(model, example)
    plain = recipe.plain_copy(model, fp32.config)
    baked_zeros, baked_total, _ = recipe.block_linear_sparsity(plain)
    figures["qat_baked_sparsity"] = round(baked_zeros / baked_total, 5)
    with tempfile.TemporaryDirectory(prefix="qat-baked-") as tmp:
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        acc, _ = recipe.openvino_int8_accuracy(Path(tmp), val, args.threads)
    figures["qat_then_weight_only_int8_openvino_accuracy"] = round(acc, 5)
    recipe.log(f"QAT weights -> weight-only INT8     {acc:.4f}  (sparsity {baked_zeros / baked_total:.4f})")
    print(json.dumps(figures, indent=2))
    if cli.json:
        cli.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
