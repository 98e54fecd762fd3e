"""Card inputs that need reconstructing: the training command from saved training arguments.

Trainer checkpoints keep their arguments in ``training_args.bin``, a pickle that must never be
loaded from an untrusted checkpoint. Trainers and recipes can also save them as JSON
(``TrainingArguments.to_dict()``, ``training_metadata.json``); from that JSON this module writes a
command line in the style of transformers' example scripts. It is pure: no I/O, no imports of
transformers, the same dict always gives the same text.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

# Keys that describe the machine or the run rather than the training, or that hold secrets.
_EXCLUDED = frozenset(
    {
        "local_rank",
        "n_gpu",
        "_n_gpu",
        "world_size",
        "process_index",
        "local_process_index",
        "device",
        "distributed_state",
        "deepspeed_plugin",
        "__cached__setup_devices",
        "logging_dir",
        "hub_token",
        "push_to_hub_token",
        "hub_private_repo",
    }
)

# TrainingArguments defaults that have held across transformers 4.x and 5.x: leaving them out
# shortens the command without changing what it does. Anything not listed is always written.
_STABLE_DEFAULTS: dict[str, Any] = {
    "overwrite_output_dir": False,
    "do_train": False,
    "do_eval": False,
    "do_predict": False,
    "prediction_loss_only": False,
    "per_device_train_batch_size": 8,
    "per_device_eval_batch_size": 8,
    "gradient_accumulation_steps": 1,
    "eval_accumulation_steps": None,
    "weight_decay": 0.0,
    "adam_beta1": 0.9,
    "adam_beta2": 0.999,
    "adam_epsilon": 1e-08,
    "max_grad_norm": 1.0,
    "max_steps": -1,
    "warmup_ratio": 0.0,
    "warmup_steps": 0,
    "log_level": "passive",
    "log_level_replica": "warning",
    "log_on_each_node": True,
    "logging_first_step": False,
    "logging_nan_inf_filter": True,
    "save_on_each_node": False,
    "save_only_model": False,
    "no_cuda": False,
    "use_cpu": False,
    "fp16": False,
    "bf16": False,
    "fp16_opt_level": "O1",
    "half_precision_backend": "auto",
    "bf16_full_eval": False,
    "fp16_full_eval": False,
    "tf32": None,
    "dataloader_drop_last": False,
    "dataloader_num_workers": 0,
    "dataloader_pin_memory": True,
    "dataloader_persistent_workers": False,
    "dataloader_prefetch_factor": None,
    "past_index": -1,
    "disable_tqdm": False,
    "remove_unused_columns": True,
    "label_names": None,
    "load_best_model_at_end": False,
    "greater_is_better": None,
    "ignore_data_skip": False,
    "fsdp": [],
    "fsdp_min_num_params": 0,
    "fsdp_config": None,
    "deepspeed": None,
    "label_smoothing_factor": 0.0,
    "adafactor": False,
    "group_by_length": False,
    "length_column_name": "length",
    "ddp_find_unused_parameters": None,
    "ddp_bucket_cap_mb": None,
    "ddp_broadcast_buffers": None,
    "skip_memory_metrics": True,
    "use_legacy_prediction_loop": False,
    "push_to_hub": False,
    "resume_from_checkpoint": None,
    "hub_model_id": None,
    "hub_strategy": "every_save",
    "gradient_checkpointing": False,
    "gradient_checkpointing_kwargs": None,
    "include_inputs_for_metrics": False,
    "auto_find_batch_size": False,
    "full_determinism": False,
    "torchdynamo": None,
    "ray_scope": "last",
    "ddp_timeout": 1800,
    "torch_compile": False,
    "torch_compile_backend": None,
    "torch_compile_mode": None,
    "optim_args": None,
    "neftune_noise_alpha": None,
    "jit_mode_eval": False,
    "use_ipex": False,
    "mp_parameters": "",
    "debug": [],
    "sharded_ddp": [],
    "data_seed": None,
    "eval_delay": 0,
    "eval_do_concat_batches": True,
    "eval_on_start": False,
    "eval_use_gather_object": False,
    "batch_eval_metrics": False,
    "restore_callback_states_from_checkpoint": False,
    "accelerator_config": None,
    "dispatch_batches": None,
    "split_batches": None,
    "include_tokens_per_second": False,
    "include_num_input_tokens_seen": False,
    "lr_scheduler_kwargs": {},
    "average_tokens_across_devices": False,
    "use_liger_kernel": False,
}


def reconstruct_training_command(args: dict[str, Any], script: str = "run_glue.py") -> str:
    """A runnable command line from a JSON dict of saved training arguments.

    One ``--name value`` per line, in the dict's order, continued with backslashes: the layout of
    transformers' example-script commands. Secrets, machine-specific keys, ``None`` values and
    long-stable defaults are left out. ``True`` becomes a bare flag (HfArgumentParser reads a bare
    boolean flag as true), lists become space-separated values, mappings become quoted JSON.
    """
    lines = [f"python {shlex.quote(script)}"]
    for key, value in args.items():
        if not isinstance(key, str) or key.startswith("_") or key in _EXCLUDED or "token" in key:
            continue
        if value is None or (key in _STABLE_DEFAULTS and _STABLE_DEFAULTS[key] == value):
            continue
        argument = _argument(key, value)
        if argument:
            lines.append(argument)
    return " \\\n  ".join(lines)


def _argument(key: str, value: Any) -> str:
    flag = f"--{key}"
    if value is True:
        return flag
    if isinstance(value, (list, tuple)):
        if not value:
            # List arguments take one or more values; the one empty list with a meaning is
            # report_to, whose spelling for "nothing" is "none".
            return f"{flag} none" if key == "report_to" else ""
        return " ".join([flag, *(_scalar(v) for v in value)])
    if isinstance(value, dict):
        return f"{flag} {shlex.quote(json.dumps(value, sort_keys=True, separators=(',', ':')))}"
    return f"{flag} {_scalar(value)}"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        # repr keeps 5e-05 as the user wrote it, and round-trips exactly.
        return repr(value)
    if isinstance(value, (dict, list)):
        return shlex.quote(json.dumps(value, sort_keys=True, separators=(",", ":")))
    return shlex.quote(str(value))
