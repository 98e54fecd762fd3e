"""Training command reconstruction from saved (JSON) training arguments."""

from __future__ import annotations

from publisher.card import reconstruct_training_command


def test_the_command_lists_each_argument_on_its_own_continued_line():
    command = reconstruct_training_command({"model_name_or_path": "bert-base-uncased", "seed": 1})
    assert command == "python run_glue.py \\\n  --model_name_or_path bert-base-uncased \\\n  --seed 1"


def test_the_script_name_is_configurable():
    assert reconstruct_training_command({}, script="train.py") == "python train.py"


def test_true_booleans_are_bare_flags_and_false_ones_are_spelled_out():
    command = reconstruct_training_command({"do_train": True, "remove_unused_columns": False})
    assert "--do_train \\" in command + " \\"
    assert "--remove_unused_columns False" in command


def test_lists_are_space_separated_and_floats_keep_their_spelling():
    command = reconstruct_training_command({"cosine_lr_scheduler_cycles": [11, 6], "learning_rate": 5e-05})
    assert "--cosine_lr_scheduler_cycles 11 6" in command
    assert "--learning_rate 5e-05" in command


def test_values_with_spaces_are_quoted_for_the_shell():
    assert "--run_name 'my run'" in reconstruct_training_command({"run_name": "my run"})


def test_secrets_machine_keys_none_and_stable_defaults_are_left_out():
    command = reconstruct_training_command({
        "hub_token": "hf_secret", "push_to_hub_token": "x", "local_rank": -1, "_n_gpu": 1,
        "logging_dir": "/tmp/runs/Nov24", "resume_from_checkpoint": None, "adam_beta1": 0.9,
        "num_train_epochs": 17,
    })
    assert command == "python run_glue.py \\\n  --num_train_epochs 17"


def test_an_empty_report_to_means_none():
    assert "--report_to none" in reconstruct_training_command({"report_to": []})


def test_the_same_arguments_always_give_the_same_text():
    args = {"output_dir": "/tmp/o", "fp16": True, "seed": 1, "lr_scheduler_kwargs": {"b": 1, "a": 2}}
    assert reconstruct_training_command(dict(args)) == reconstruct_training_command(dict(args))
    assert """--lr_scheduler_kwargs '{"a":2,"b":1}'""" in reconstruct_training_command(args)
