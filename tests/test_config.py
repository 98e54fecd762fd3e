"""publish.toml: every publish option, errors that name the key and the line."""

import pytest

from publisher.config import KEYS, load_config
from publisher.settings import settings_from_mapping
from publisher.errors import BadInputError


def write(tmp_path, text):
    p = tmp_path / "publish.toml"
    p.write_text(text)
    return p


def test_defaults_apply_to_every_model_and_models_override(tmp_path):
    cfg = load_config(write(tmp_path, """
[publish]
endpoint = "local"
min_ir_accuracy = 0.8

[[models]]
checkpoint = "a"
repo_id = "me/a"

[[models]]
checkpoint = "b"
repo_id = "me/b"
min_ir_accuracy = 0.9
"""))
    a, b = cfg.models
    assert a["min_ir_accuracy"] == 0.8 and b["min_ir_accuracy"] == 0.9
    assert a["checkpoint"] == str(tmp_path / "a")  # relative to the config file
    s = settings_from_mapping(b)
    assert s.gates.min_ir_accuracy == 0.9 and s.hub.endpoint == "local" and s.repo_id == "me/b"


def test_a_file_without_models_describes_one_model(tmp_path):
    cfg = load_config(write(tmp_path, '[publish]\ncheckpoint = "ckpt"\nrepo_id = "me/x"\n'))
    assert len(cfg.models) == 1


def test_unknown_key_names_the_key_and_line(tmp_path):
    p = write(tmp_path, '[publish]\ncheckpoint = "c"\n\n[[models]]\nrepo_id = "me/x"\nmin_accuracy = 0.8\n')
    with pytest.raises(BadInputError) as err:
        load_config(p)
    assert "'min_accuracy'" in str(err.value) and f"{p}:6" in str(err.value)


def test_wrong_type_names_the_key_and_line(tmp_path):
    p = write(tmp_path, '[publish]\ncheckpoint = "c"\nmin_sparsity = "high"\n')
    with pytest.raises(BadInputError) as err:
        load_config(p)
    assert "'min_sparsity' must be float" in str(err.value) and f"{p}:3" in str(err.value)


def test_integers_are_accepted_for_floats_but_bools_are_not_ints(tmp_path):
    assert load_config(write(tmp_path, '[publish]\nmin_sparsity = 1\n')).models[0]["min_sparsity"] == 1.0
    with pytest.raises(BadInputError, match="'batch_size' must be int"):
        load_config(write(tmp_path, '[publish]\nbatch_size = true\n'))


def test_invalid_toml_is_a_bad_input(tmp_path):
    with pytest.raises(BadInputError, match="not valid TOML"):
        load_config(write(tmp_path, '[publish\n'))


def test_every_key_is_documented_in_the_readme():
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    missing = [k for k in KEYS if f"`{k}`" not in readme]
    assert not missing, f"README config reference lacks: {missing}"
