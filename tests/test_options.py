"""One options table: the CLI, the config file, the settings and the README say the same."""

import dataclasses
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from publisher.cli.main import _register, cli
from publisher.config import KEYS, load_config
from publisher.options import BY_KEY, OPTIONS, PUBLISH, VERIFY, for_command
from publisher.settings import PublishSettings, settings_from_mapping

ROOT = Path(__file__).parent.parent
# Config keys whose value lands in a field of another name.
FIELD_OF = {"cache": "use_cache", "token_file": None, "repo_id": "repo_id", "checkpoint": "checkpoint"}
SAMPLES = {"str": "x", "int": 7, "float": 0.5, "bool": True, "list": ["a", "b"], "file": "f.txt",
           "dir": "d"}
# Options whose values are checked when read: a sample of the right shape.
KEY_SAMPLES = {"openvino": ["2025.3", "2025.4"]}


def _fields(obj, prefix=""):
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        yield prefix + f.name, f.name, value
        if dataclasses.is_dataclass(value):
            yield from _fields(value, prefix + f.name + ".")


def _find(settings: PublishSettings, name: str):
    found = [v for path, leaf, v in _fields(settings) if leaf == name]
    assert len(found) == 1, f"{name!r} is not exactly one settings field: {found}"
    return found[0]


def test_publish_help_lists_every_publish_option_with_its_default():
    _register()
    help_text = CliRunner().invoke(cli, ["publish", "--help"], terminal_width=400).output
    flat = " ".join(help_text.split())
    for o in for_command(PUBLISH):
        assert o.cli_flag in flat, o.key
        if o.default_text is not None:
            assert f"[default: {o.default_text}]" in flat, o.key


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.config and o.key != "token_file"],
                         ids=lambda o: o.key)
def test_every_config_key_reaches_the_settings(tmp_path, option):
    value = KEY_SAMPLES.get(option.key) or (option.choices[-1] if option.choices else SAMPLES[option.type])
    literal = repr(value).replace("'", '"').replace("True", "true")
    path = tmp_path / "publish.toml"
    base = '' if option.key == "checkpoint" else 'checkpoint = "ckpt"\n'
    path.write_text(f'[publish]\n{base}{option.key} = {literal}\n')
    assert tomllib.loads(path.read_text())["publish"][option.key] == value
    settings = settings_from_mapping(load_config(path).models[0])
    got = _find(settings, FIELD_OF.get(option.key, option.key))
    if option.is_path:
        assert Path(got) == tmp_path / value
    elif option.type == "list":
        assert tuple(got) == tuple(value)
    else:
        assert got == value


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.default is not None and o.commands != {VERIFY}],
                         ids=lambda o: o.key)
def test_defaults_come_from_the_table(option):
    settings = settings_from_mapping({"checkpoint": "ckpt"})
    assert _find(settings, FIELD_OF.get(option.key, option.key)) == option.default


def test_verify_takes_its_options_and_defaults_from_the_table():
    import dataclasses

    from publisher.cli.main import cli
    from publisher.recheck.ledger_checks import CheckOptions

    command = cli.commands["verify"]
    flags = {f for p in command.params for f in getattr(p, "opts", [])}
    assert {o.cli_flag for o in OPTIONS if VERIFY in o.commands} <= flags
    for f in dataclasses.fields(CheckOptions):
        if f.name in BY_KEY and f.default is not dataclasses.MISSING and BY_KEY[f.name].default is not None:
            assert f.default == BY_KEY[f.name].default, f.name


def test_readme_documents_every_flag_and_key():
    readme = (ROOT / "README.md").read_text()
    for o in OPTIONS:
        if o.config:
            assert f"`{o.key}`" in readme, o.key
        if PUBLISH in o.commands:
            assert o.cli_flag in readme, o.cli_flag
    assert set(KEYS) == {o.key for o in OPTIONS if o.config}
