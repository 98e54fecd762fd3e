"""Where the local hub's tokens come from (runner.py): files and the environment, never argv.

``publisher hub serve --token T`` put write tokens where ``ps`` and ``/proc/PID/cmdline`` show
them to every user of the machine. The flags are refused with the reason; tokens are read from
``--token-file``, ``--read-token-file``, ``--users-file`` or ``$PUBLISHER_HUB_TOKEN``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import HfApi

from publisher.errors import BadInputError
from publisher.hub.server.runner import (
    READ_TOKEN_ENV,
    TOKEN_ENV,
    config_from_options,
    read_token_file,
    read_users_file,
)
from tests.fixtures_hub import REPO_ROOT

SECRET = "hf_never_on_the_command_line_42"


def _secret_file(tmp_path: Path, text: str, name: str = "token", mode: int = 0o600) -> Path:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(mode)
    return path


def _options(tmp_path: Path, **kwargs):
    return config_from_options(root=tmp_path / "root", host="127.0.0.1", port=0,
                               environ=kwargs.pop("environ", {}), **kwargs)


@pytest.mark.parametrize("given", [{"tokens": (SECRET,)}, {"read_tokens": (SECRET,)},
                                   {"users": (f"alice={SECRET}",)}])
def test_tokens_on_the_command_line_are_refused_with_the_reason(tmp_path, given):
    with pytest.raises(BadInputError) as error:
        _options(tmp_path, **given)
    text = error.value.paragraph()
    assert "ps" in text and "-file" in text and SECRET not in text


def test_tokens_come_from_files_and_the_environment(tmp_path):
    write = _secret_file(tmp_path, f"# the CI hub\n\n  {SECRET}  \nhf_second\n")
    read = _secret_file(tmp_path, "hf_reader\n", "read")
    users = _secret_file(tmp_path, "alice=hf_alice\n# bob is away\nbob = hf_bob\n", "users")
    config = _options(tmp_path, token_files=(write,), read_token_files=(read,), users_file=users,
                      users=("tester",), environ={TOKEN_ENV: "hf_from_env",
                                                  READ_TOKEN_ENV: "hf_read_env"})
    assert config.write_tokens == (SECRET, "hf_second", "hf_from_env")
    assert config.read_tokens == ("hf_reader", "hf_read_env")
    assert config.user_tokens == (("alice", "hf_alice"), ("bob", "hf_bob"))
    assert config.user == "tester"
    assert SECRET not in repr(config)
    # Without --user the first user of the file is the default one.
    assert _options(tmp_path, users_file=users).user == "alice"
    assert _options(tmp_path).write_tokens == ()  # nothing given: the hub generates one


@pytest.mark.parametrize("text,reason", [
    ("", "holds no token"), ("# only a comment\n", "holds no token"),
    (f"{SECRET} with spaces\n", "not valid"), ("hf_\u00e9\n", "not valid"),
])
def test_a_bad_token_file_is_refused_without_quoting_it(tmp_path, text, reason):
    with pytest.raises(BadInputError) as error:
        read_token_file(_secret_file(tmp_path, text))
    assert reason in error.value.paragraph() and SECRET not in error.value.paragraph()


def test_a_missing_token_file_and_bad_users_lines_are_refused(tmp_path):
    with pytest.raises(BadInputError, match="Cannot read"):
        read_token_file(tmp_path / "absent")
    for text in ("alice\n", "bad name=hf_x\n", "alice=\n", "alice=hf x\n"):
        with pytest.raises(BadInputError):
            read_users_file(_secret_file(tmp_path, text, "users"))


def test_a_token_file_others_can_read_is_warned_about(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="publisher.hub.server"):
        assert read_token_file(_secret_file(tmp_path, f"{SECRET}\n", mode=0o644)) == (SECRET,)
    assert "chmod 600" in caplog.text and SECRET not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="publisher.hub.server"):
        read_token_file(_secret_file(tmp_path, f"{SECRET}\n", mode=0o600))
    assert caplog.text == ""


@pytest.mark.parametrize("command", [
    [sys.executable, "-m", "publisher.hub.server"],
    [sys.executable, "-m", "publisher", "hub", "serve"],
])
@pytest.mark.parametrize("flag", [["--token", SECRET], ["--read-token", SECRET],
                                  ["--user", f"alice={SECRET}"]])
def test_both_entry_points_refuse_a_token_flag_before_starting(tmp_path, command, flag):
    result = subprocess.run([*command, "--root", str(tmp_path / "root"), "--port", "0", *flag],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 2, result.stderr
    assert "visible to every user" in result.stderr and SECRET not in result.stderr
    assert not (tmp_path / "root" / "server.json").exists()


def test_the_test_hub_keeps_its_tokens_off_its_command_line(hub_server):
    cmdline = Path(f"/proc/{hub_server.process.pid}/cmdline").read_bytes().decode()
    assert hub_server.token not in cmdline and hub_server.read_token not in cmdline
    assert "--token-file" in cmdline
    assert HfApi(endpoint=hub_server.endpoint, token=hub_server.token).whoami()["name"] == "tester"
