"""The seed release (yujiepan's bert-base SST-2, 80% unstructured sparsity, INT8) as a Report."""

from __future__ import annotations

import dataclasses
from typing import Any

from publisher.results import (
    AccuracyResult,
    CardInputs,
    CheckpointInfo,
    DatasetInfo,
    ExportResult,
    Report,
    SparsityMeasurement,
    SparsityResult,
    TrainingMetadata,
    VerificationResult,
)

SEED_NNCF_CONFIG: list[dict[str, Any]] = [
    {
        "algorithm": "quantization",
        "preset": "mixed",
        "overflow_fix": "disable",
        "initializer": {
            "range": {"num_init_samples": 300, "type": "mean_min_max"},
            "batchnorm_adaptation": {"num_bn_adaptation_samples": 0},
        },
        "scope_overrides": {"activations": {"{re}.*matmul_0": {"mode": "symmetric"}}},
        "ignored_scopes": [
            "{re}.*Embeddings.*",
            "{re}.*__add___[0-1]",
            "{re}.*layer_norm_0",
            "{re}.*matmul_1",
            "{re}.*__truediv__*",
        ],
    },
    {
        "algorithm": "magnitude_sparsity",
        "ignored_scopes": [
            "{re}.*NNCFEmbedding.*",
            "{re}.*LayerNorm.*",
            "{re}.*pooler.*",
            "{re}.*classifier.*",
        ],
        "sparsity_init": 0.0,
        "params": {
            "power": 3,
            "schedule": "polynomial",
            "sparsity_freeze_epoch": 10,
            "sparsity_target": 0.8,
            "sparsity_target_epoch": 9,
            "steps_per_epoch": 2105,
            "update_per_optimizer_step": True,
        },
    },
]

SEED_TRAINING_COMMAND = """\
NNCFCFG=/path/to/nncf_config.json
python run_glue.py \\
  --lr_scheduler_type cosine_with_restarts \\
  --cosine_lr_scheduler_cycles 11 6 \\
  --record_best_model_after_epoch 9 \\
  --load_best_model_at_end True \\
  --metric_for_best_model accuracy \\
  --model_name_or_path textattack/bert-base-uncased-SST-2 \\
  --teacher_model_or_path yoshitomo-matsubara/bert-large-uncased-sst2 \\
  --distillation_temperature 2 \\
  --task_name sst2 \\
  --nncf_compression_config $NNCFCFG \\
  --distillation_weight 0.95 \\
  --output_dir /tmp/bert-base-uncased-sst2-int8-unstructured80 \\
  --overwrite_output_dir \\
  --run_name bert-base-uncased-sst2-int8-unstructured80 \\
  --do_train \\
  --do_eval \\
  --max_seq_length 128 \\
  --per_device_train_batch_size 32 \\
  --per_device_eval_batch_size 32 \\
  --learning_rate 5e-05 \\
  --optim adamw_torch \\
  --num_train_epochs 17 \\
  --logging_steps 1 \\
  --evaluation_strategy steps \\
  --eval_steps 250 \\
  --save_strategy steps \\
  --save_steps 250 \\
  --save_total_limit 1 \\
  --fp16 \\
  --seed 1
"""

SEED_REPO = "OpenVINO/bert-base-uncased-sst2-unstructured80-int8-ov"


def _layers(ratio: float) -> dict[str, float]:
    return {
        f"bert.encoder.layer.{i}.{part}": ratio
        for i in range(2)
        for part in ("attention.self.query", "output.dense")
    }


def seed_report(**card_changes: Any) -> Report:
    """The seed's figures: accuracy 0.91284 for torch and IR, sparsity 0.80, INT8 weights."""
    training = TrainingMetadata(
        nncf_config=SEED_NNCF_CONFIG,
        training_command=SEED_TRAINING_COMMAND,
        base_model="google-bert/bert-base-uncased",
        teacher_model="yoshitomo-matsubara/bert-large-uncased-sst2",
        seed=1,
        license="apache-2.0",
        language=["en"],
        model_creator="Google",
        training_dataset="GLUE SST2",
    )
    checkpoint = CheckpointInfo(
        path="/ckpt/bert-base-uncased-sst2-int8-unstructured80",
        architecture="BertForSequenceClassification",
        model_type="bert",
        num_labels=2,
        id2label={0: "negative", 1: "positive"},
        num_parameters=109_483_778,
        weights_format="safetensors",
        nncf_compressed=True,
        files=[],
        training=training,
        # The seed was trained with NNCF QAT and magnitude sparsity: its checkpoint carries both.
        nncf_state=["pruning_masks", "quantizer_state"],
    )
    export = ExportResult(
        output_dir="/out/ov",
        weight_format="int8",
        files=[],
        versions={
            "openvino": "2024.3.0-16041-1e3b88e4e3f-releases/2024/3",
            "optimum-intel": "1.19.0",
            "optimum": "1.21.4",
            "nncf": "2.12.0",
            "transformers": "4.44.2",
            "torch": "2.4.1+cpu",
        },
        seconds=15.0,
    )
    dataset = DatasetInfo(
        name="GLUE SST2",
        type="glue",
        config="sst2",
        split="validation",
        num_samples=872,
        sha256=None,
        source="bundled:sst2-validation",
        text_column="sentence",
        label_column="label",
        args="sst2",
    )
    card = CardInputs(
        model_name="bert-base-uncased-sst2-unstructured80-int8-ov",
        license=None,
        language=["en"],
        tags=[],
        repo_id=SEED_REPO,
        model_index_name="yujiepan/bert-base-uncased-sst2-int8-unstructured80",
        training_details_url="https://gist.github.com/yujiepan-work/5d7e513a47b353db89f6e1b512d7c080",
    )
    card = dataclasses.replace(card, **card_changes)
    return Report(
        schema_version=1,
        tool_version="0.1.0",
        created="2026-11-24T00:00:00Z",
        status="built",
        checkpoint=checkpoint,
        export=export,
        verification=VerificationResult(
            compiled=True,
            device="CPU",
            samples=64,
            max_abs_logit_diff=0.00123,
            argmax_agreement=1.0,
            max_abs_logit_diff_threshold=0.05,
            argmax_agreement_threshold=0.99,
            passed=True,
        ),
        sparsity=SparsityResult(
            scope="transformer block linear layers",
            torch=SparsityMeasurement(overall=0.80, zeros=8, elements=10, layers=_layers(0.80)),
            openvino=SparsityMeasurement(overall=0.80, zeros=8, elements=10, layers=_layers(0.80)),
        ),
        accuracy=AccuracyResult(
            dataset=dataset,
            metric="accuracy",
            metric_module="bundled:accuracy",
            torch=0.91284,
            openvino=0.91284,
            samples_per_second={"torch": 20.0, "openvino": 30.0},
            label_mapping={0: 0, 1: 1},
            seconds={"tokenize": 0.1, "torch": 40.0, "openvino": 30.0},
        ),
        card=card,
    )


def replace_training(report: Report, **changes: Any) -> Report:
    training = dataclasses.replace(report.checkpoint.training, **changes)
    return report.replace(checkpoint=dataclasses.replace(report.checkpoint, training=training))
