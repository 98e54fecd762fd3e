"""``publisher.hub.local`` (find/start/stop the embedded hub) and ``publisher hub serve``."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from huggingface_hub import HfApi

from publisher.hub.local import (
    ensure_local_hub,
    find_local_hub,
    is_local_endpoint,
    read_local_token,
    running_hubs,
    stop_local_hub,
)
from tests.fixtures_hub import REPO_ROOT, hub_env


def test_is_local_endpoint():
    assert is_local_endpoint("http://127.0.0.1:8900")
    assert is_local_endpoint("http://localhost:8900/")
    assert is_local_endpoint("http://[::1]:8900")
    assert not is_local_endpoint("https://huggingface.co")
    assert not is_local_endpoint("http://10.0.0.5:8900")


def test_ensure_local_hub_starts_reuses_and_stops(tmp_path, monkeypatch):
    # A token meant for a hub run by hand must not replace the embedded hub's own token file.
    monkeypatch.setenv("PUBLISHER_HUB_TOKEN", "hf_meant_for_another_hub")
    root = tmp_path / "hub"
    hub = ensure_local_hub(root)
    try:
        assert hub.started_here and is_local_endpoint(hub.endpoint) and hub.root == root.resolve()
        assert hub.token and hub.token == read_local_token(root)
        assert stat.S_IMODE((root / "auth" / "token").stat().st_mode) == 0o600
        assert hub.token not in repr(hub)
        again = ensure_local_hub(root)
        assert (again.pid, again.endpoint, again.started_here) == (hub.pid, hub.endpoint, False)
        api = HfApi(endpoint=hub.endpoint, token=hub.token)
        assert api.whoami()["name"] == "local"
        api.create_repo("local/embedded")
        # A second server on the same root is refused: two writers would race on the refs.
        second = subprocess.run(
            [sys.executable, "-m", "publisher.hub.server", "--root", str(root), "--port", "0"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=30,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
        assert second.returncode == 5 and "Another local hub already serves" in second.stderr
        log = (root / "logs" / "server.log").read_text()
        assert "export HF_ENDPOINT=" in log and hub.token not in log
    finally:
        stop_local_hub(hub)
    assert not (root / "server.json").exists()
    assert read_local_token(tmp_path / "nowhere") is None


def test_hub_serve_command_prints_the_endpoint_not_the_token(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "publisher", "hub", "serve", "--root", str(tmp_path / "r"),
         "--port", "0"], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "web page:" in line:
                break
        output = "".join(lines)
        assert "export HF_ENDPOINT=http://127.0.0.1:" in output, output
        assert "export HF_HUB_DISABLE_XET=1" in output
        token = read_local_token(tmp_path / "r")
        assert token and token not in output and str(tmp_path / "r" / "auth" / "token") in output
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        process.stdout.close()
        process.stderr.close()
    assert not (tmp_path / "r" / "server.json").exists()


def test_hub_serve_refuses_a_non_loopback_host(tmp_path, capsys):
    from publisher.cli.main import main

    with pytest.raises(SystemExit) as exit_:
        main(["hub", "serve", "--root", str(tmp_path), "--host", "0.0.0.0"])
    assert exit_.value.code == 2
    assert "--allow-remote" in capsys.readouterr().err


def test_transformers_model_round_trip(hub_server, tmp_path):
    """push_to_hub and from_pretrained(repo_id), run where HF_ENDPOINT is set before import."""
    script = tmp_path / "roundtrip.py"
    script.write_text(TRANSFORMERS_ROUND_TRIP)
    env = hub_env(hub_server)
    env["HF_HOME"] = str(tmp_path / "hf_home")  # a cold cache: from_pretrained must download
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "ROUND TRIP OK" in result.stdout
    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.token)
    files = api.list_repo_files("tester/tiny-bert")
    assert "model.safetensors" in files and "config.json" in files


TRANSFORMERS_ROUND_TRIP = """
import torch
from transformers import AutoModelForSequenceClassification, BertConfig

config = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=32, max_position_embeddings=32, num_labels=2)
torch.manual_seed(0)
model = AutoModelForSequenceClassification.from_config(config)
model.push_to_hub("tester/tiny-bert", commit_message="Tiny BERT")
loaded = AutoModelForSequenceClassification.from_pretrained("tester/tiny-bert")
for name, tensor in model.state_dict().items():
    assert torch.equal(tensor, loaded.state_dict()[name]), name
print("ROUND TRIP OK")
"""


def test_server_and_local_modules_stay_light():
    code = ("import sys, publisher.hub.local, publisher.hub.server.runner, publisher.hub.server.app\n"
            "heavy = {'torch', 'transformers', 'openvino', 'optimum', 'nncf'}\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "publisher", "hub", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})


def test_hub_status_lists_running_hubs_and_stop_stops_one(tmp_path):
    first = ensure_local_hub(tmp_path / "one")
    second = ensure_local_hub(tmp_path / "two")
    try:
        # What the publish notice needs: address, root, pid, and how to stop it.
        assert first.stop_command == f"publisher hub stop --root {first.root}"
        listed = json.loads(run_cli("status", "--json").stdout)
        assert {(h["root"], h["endpoint"], h["pid"]) for h in listed} >= {
            (str(first.root), first.endpoint, first.pid), (str(second.root), second.endpoint, second.pid)}
        table = run_cli("status").stdout
        assert f"{first.endpoint}  pid {first.pid}  root {first.root}" in table

        stopped = run_cli("stop", "--root", str(first.root))
        assert stopped.returncode == 0, stopped.stderr
        assert f"Stopped the local hub at {first.endpoint} (pid {first.pid}" in stopped.stdout
        assert not (first.root / "server.json").exists()  # a clean stop, not a kill
        remaining = {h["root"] for h in json.loads(run_cli("status", "--json").stdout)}
        assert str(first.root) not in remaining and str(second.root) in remaining
        again = run_cli("stop", "--root", str(first.root))
        assert again.returncode == 0 and "No local hub is running" in again.stdout
    finally:
        stop_local_hub(first)
        stop_local_hub(second)


def test_a_killed_hub_drops_out_of_the_status_list(tmp_path):
    hub = ensure_local_hub(tmp_path / "doomed")
    os.kill(hub.pid, signal.SIGKILL)  # no chance to unregister
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and find_local_hub(hub.root) is not None:
        time.sleep(0.05)
    assert all(h.root != hub.root for h in running_hubs())
    assert not list((Path(os.environ["PUBLISHER_HUB_REGISTRY"])).glob(f"{hub.pid}.json"))
