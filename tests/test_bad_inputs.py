"""The bad-input catalogue: every way a release is refused, driven through the CLI.

One test per case. Each checks the exit code (the constants of ``publisher.errors``), that stderr
holds one ``Error:`` paragraph naming the problem and the fix (key phrases), that nothing reached
the hub fixture, and that nothing in the user's checkpoint folder was changed or deleted.

Most cases call the CLI in-process (``publisher.cli.main.main``) to save the ~8 s of imports a
subprocess costs; the Ctrl-C case runs a real process, since signals are process behaviour.
"""

from __future__ import annotations

import errno
import hashlib
import json
import re
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from publisher.cli.main import main
from publisher.errors import EXIT_AUTH, EXIT_BAD_INPUT, EXIT_HUB, EXIT_INTERRUPTED, EXIT_OK
from tests.fixtures_hub import hub_env

TEST_DATA = Path(__file__).parent / "data"
# A random tiny model: gates that it passes, so that every refusal below is about the input.
RELAXED = ["--max-accuracy-drop", "1", "--min-argmax-agreement", "0.5", "--max-logit-diff", "10"]
FAST = ["--max-samples", "48"]
IR_NAMES = ("openvino_model.xml", "openvino_model.bin")


# --- helpers -------------------------------------------------------------------------------------

def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder`` (hidden ones too): sha256 of files, targets of symlinks."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_symlink():
            out[rel] = "symlink:" + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[rel] = "dir"
    return out


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api_for(hub):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.endpoint, token=hub.token)


class Runner:
    """Runs ``publisher`` in-process and checks a refusal."""

    def __init__(self, hub, capsys, tmp_path: Path, repo: str) -> None:
        self.hub, self.capsys, self.tmp, self.repo = hub, capsys, tmp_path, repo
        self.out = tmp_path / "out"

    def publish_args(self, checkpoint: Path, *extra: str, out: Path | None = None) -> list[str]:
        return ["publish", str(checkpoint), "--repo-id", self.repo, "--endpoint", self.hub.endpoint,
                "--output", str(out or self.out), *RELAXED, *FAST, *extra]

    def run(self, args: list[str]) -> tuple[int, str]:
        code, _, err = self.run_full(args)
        return code, err

    def run_full(self, args: list[str]) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exc:
            main(args)
        captured = self.capsys.readouterr()
        return exc.value.code, captured.out, captured.err

    def refused(self, args: list[str], code: int, *phrases: str, keep: tuple[Path, ...] = ()) -> str:
        before = {folder: snapshot(folder) for folder in keep}
        got, err = self.run(args)
        assert got == code, err
        assert "Traceback" not in err, err
        errors = [line for line in err.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1, err  # one paragraph, one line
        message = errors[0]
        for phrase in phrases:
            assert phrase in message, f"{phrase!r} not in: {message}"
        assert not api_for(self.hub).repo_exists(self.repo), "something was pushed"
        for folder, snap in before.items():
            assert snapshot(folder) == snap, f"{folder} was changed"
        self.same_code_with_debug_and_json(args, code, message)
        return message

    def same_code_with_debug_and_json(self, args: list[str], code: int, message: str) -> None:
        """PUBLISHER_DEBUG=1 adds the traceback and changes nothing else; --json answers the
        failure with one JSON document naming the same exit code and message."""
        os.environ["PUBLISHER_DEBUG"] = "1"
        try:
            got, out, err = self.run_full([*args, "--json"])
        finally:
            del os.environ["PUBLISHER_DEBUG"]
        assert got == code, err
        assert "Traceback" in err and message in err
        doc = json.loads(out)
        assert doc["status"] in ("error", "not_released")
        assert doc["error"]["exit_code"] == code and doc["error"]["message"] == message.removeprefix("Error: ")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path, hub_server):
    """Run in a scratch folder, with the write token in HF_TOKEN and no stored login."""
    import huggingface_hub.constants

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_TOKEN", hub_server.token)
    for name in ("HF_ENDPOINT", "CI", "PUBLISHER_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-stored-token"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"),
                        raising=False)


@pytest.fixture
def cli(hub_server, capsys, tmp_path, request) -> Runner:
    name = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-")[:90]
    return Runner(hub_server, capsys, tmp_path, f"bad/{name}")


@pytest.fixture
def ckpt(tiny_checkpoint, tmp_path) -> Path:
    """A private copy of the tiny checkpoint that a test may break."""
    return Path(shutil.copytree(tiny_checkpoint, tmp_path / "ckpt"))


def edit_config(folder: Path, **changes) -> None:
    cfg = json.loads((folder / "config.json").read_text())
    cfg.update(changes)
    (folder / "config.json").write_text(json.dumps(cfg))


@pytest.fixture(scope="module")
def built(tiny_checkpoint, tmp_path_factory) -> Path:
    """One complete run without pushing: an output folder with an IR and cached measurements."""
    out = tmp_path_factory.mktemp("built") / "out"
    with pytest.raises(SystemExit) as exc:
        main(["publish", str(tiny_checkpoint), "--no-push", "--output", str(out), *RELAXED, *FAST])
    assert exc.value.code == EXIT_OK
    assert (out / "openvino_model.bin").is_file()
    return out


def save_other_ir(folder: Path, *, input_name: str = "x", weights: int = 600_000) -> Path:
    """A small OpenVINO model that is not a text classifier: one input and one big constant."""
    import numpy as np
    import openvino as ov
    from openvino import opset13 as ops

    folder.mkdir(parents=True, exist_ok=True)
    x = ops.parameter([1, weights], np.float32, name=input_name)
    w = ops.constant(np.linspace(-1, 1, weights, dtype=np.float32).reshape(weights, 1))
    model = ov.Model([ops.matmul(x, w, False, False)], [x], "other")
    ov.save_model(model, str(folder / "openvino_model.xml"), compress_to_fp16=False)
    return folder


# --- the checkpoint folder -----------------------------------------------------------------------

def test_missing_checkpoint_folder(cli, tmp_path):
    cli.refused(cli.publish_args(tmp_path / "no-such-folder"), EXIT_BAD_INPUT,
                "does not exist", "save_pretrained()")


def test_checkpoint_folder_without_config_json(cli, ckpt):
    (ckpt / "config.json").unlink()
    cli.refused(cli.publish_args(ckpt), EXIT_BAD_INPUT, "has no config.json",
                "model.save_pretrained(folder)", keep=(ckpt,))


def test_config_json_that_is_not_json(cli, ckpt):
    (ckpt / "config.json").write_text("{not json")
    cli.refused(cli.publish_args(ckpt), EXIT_BAD_INPUT, "config.json is not valid JSON",
                "Fix or re-save the config", keep=(ckpt,))


def test_unsupported_task_masked_lm(cli, ckpt):
    edit_config(ckpt, architectures=["BertForMaskedLM"])
    cli.refused(cli.publish_args(ckpt), EXIT_BAD_INPUT, "BertForMaskedLM", "Supported tasks:",
                "text-classification (text classifiers: *ForSequenceClassification)",
                "text-generation (causal language models: *ForCausalLM",
                "AutoModelForSequenceClassification", keep=(ckpt,))


def test_config_without_architecture(cli, ckpt):
    edit_config(ckpt, architectures=None)
    cli.refused(cli.publish_args(ckpt), EXIT_BAD_INPUT, "model without an architecture",
                "Supported tasks:", keep=(ckpt,))


def test_unsupported_architecture_unknown_to_transformers(cli, ckpt):
    edit_config(ckpt, architectures=["FooForSequenceClassification"], model_type="foo")
    cli.refused(cli.publish_args(ckpt), EXIT_BAD_INPUT, "transformers cannot build FooForSequenceClassification",
                "Check model_type and architectures in config.json", keep=(ckpt,))


@pytest.mark.parametrize("field,value", [("hidden_size", "big"), ("num_labels", "two"),
                                         ("num_hidden_layers", 2.5), ("id2label", ["a", "b"])])
def test_wrong_typed_config_field(cli, ckpt, field, value):
    """A wrong-typed config.json field is bad input naming the file and the field."""
    # transformers raises StrictDataclassFieldValidationError or TypeError here: never exit 1.
    edit_config(ckpt, **{field: value})
    message = cli.refused(cli.publish_args(ckpt), EXIT_BAD_INPUT, "config.json", keep=(ckpt,))
    assert field in message


def test_weights_that_do_not_match_the_config(cli, ckpt):
    edit_config(ckpt, hidden_size=64, num_attention_heads=4)
    cli.refused(cli.publish_args(ckpt), EXIT_BAD_INPUT, "do not match its config.json",
                "from the same model with save_pretrained()", keep=(ckpt,))


def test_truncated_safetensors(cli, ckpt):
    data = (ckpt / "model.safetensors").read_bytes()
    (ckpt / "model.safetensors").write_bytes(data[: len(data) // 2])
    cli.refused(cli.publish_args(ckpt), EXIT_BAD_INPUT, "truncated or corrupted",
                "Re-save the checkpoint", keep=(ckpt,))


def test_corrupted_safetensors_header(cli, ckpt):
    data = bytearray((ckpt / "model.safetensors").read_bytes())
    data[8:40] = b"\xff" * 32  # the JSON header starts at byte 8
    (ckpt / "model.safetensors").write_bytes(bytes(data))
    cli.refused(cli.publish_args(ckpt), EXIT_BAD_INPUT, "cannot be read", "truncated or corrupted",
                keep=(ckpt,))


def test_config_but_no_weights(cli, ckpt):
    (ckpt / "model.safetensors").unlink()
    cli.refused(cli.publish_args(ckpt), EXIT_BAD_INPUT, "no weights", "save_pretrained() wrote",
                keep=(ckpt,))


def test_pickle_only_weights_without_trust_pickle(cli, ckpt):
    import torch
    from safetensors.torch import load_file

    torch.save(load_file(str(ckpt / "model.safetensors")), ckpt / "pytorch_model.bin")
    (ckpt / "model.safetensors").unlink()
    cli.refused(cli.publish_args(ckpt), EXIT_BAD_INPUT, "holds only pickle weights",
                "arbitrary code", "safe_serialization=True", "--trust-pickle", keep=(ckpt,))


def test_tokenizer_file_that_is_not_a_tokenizer(cli, ckpt):
    # Here a symlink to /etc/passwd: it is read as a tokenizer, refused, and never released.
    (ckpt / "tokenizer.json").unlink()
    (ckpt / "tokenizer.json").symlink_to("/etc/passwd")
    cli.refused(cli.publish_args(ckpt), EXIT_BAD_INPUT, "No usable tokenizer",
                "tokenizer.save_pretrained(folder)", keep=(ckpt,))
    assert not (cli.out / "tokenizer.json").exists()


def test_nan_logits(cli, ckpt):
    import torch
    from safetensors.torch import load_file, save_file

    state = load_file(str(ckpt / "model.safetensors"))
    state["classifier.bias"] = torch.full_like(state["classifier.bias"], float("nan"))
    save_file(state, str(ckpt / "model.safetensors"), metadata={"format": "pt"})
    cli.refused(cli.publish_args(ckpt), EXIT_BAD_INPUT, "torch model produced NaN or infinite logits",
                "Check the checkpoint's weights", keep=(ckpt,))
    # Found before the export: no IR was written.
    assert not any((cli.out / n).exists() for n in IR_NAMES)


# --- evaluation data -----------------------------------------------------------------------------

def test_id2label_that_matches_no_dataset_label(cli, ckpt):
    edit_config(ckpt, id2label={"0": "bad", "1": "good"}, label2id={"bad": 0, "good": 1})
    cli.refused(cli.publish_args(ckpt), EXIT_BAD_INPUT, "The model's label 'bad' (class 0) matches none",
                "Fix id2label in config.json", keep=(ckpt,))


def test_eval_file_without_the_text_column(cli, ckpt):
    # small_eval.jsonl has "text" and "sentiment"; the default text column is "sentence".
    cli.refused(cli.publish_args(ckpt, "--eval-file", str(TEST_DATA / "small_eval.jsonl")),
                EXIT_BAD_INPUT, "no column 'sentence'", "text, sentiment", "--text-column", keep=(ckpt,))


def test_eval_file_without_the_label_column(cli, ckpt):
    cli.refused(cli.publish_args(ckpt, "--eval-file", str(TEST_DATA / "small_eval.jsonl"),
                                 "--text-column", "text"),
                EXIT_BAD_INPUT, "no column 'label'", "--label-column", keep=(ckpt,))


def test_empty_eval_file(cli, ckpt, tmp_path):
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    cli.refused(cli.publish_args(ckpt, "--eval-file", str(empty)), EXIT_BAD_INPUT,
                "is empty", "a header and rows", keep=(ckpt,))


def test_eval_file_with_a_header_and_no_rows(cli, ckpt, tmp_path):
    header_only = tmp_path / "header.tsv"
    header_only.write_text("sentence\tlabel\n")
    cli.refused(cli.publish_args(ckpt, "--eval-file", str(header_only)), EXIT_BAD_INPUT,
                "has no rows (only a header", "a header and rows", keep=(ckpt,))


def test_labels_outside_the_models_range(cli, ckpt, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"sentence": f"sentence {i}", "label": label}) + "\n"
                            for i, label in enumerate([0, 1, 7, 1])))
    cli.refused(cli.publish_args(ckpt, "--eval-file", str(rows)), EXIT_BAD_INPUT,
                "[7] are outside the model's 2 classes", "--label-column", keep=(ckpt,))


# --- an OpenVINO IR given to the stage commands --------------------------------------------------

def test_ir_xml_without_its_bin(cli, built, tiny_checkpoint, tmp_path):
    ir = tmp_path / "ir"
    ir.mkdir()
    shutil.copy2(built / "openvino_model.xml", ir)
    cli.refused(["parity", str(tiny_checkpoint), str(ir), *FAST], EXIT_BAD_INPUT,
                "has no weights file openvino_model.bin", "copy the .bin that belongs to this .xml",
                keep=(ir, tiny_checkpoint))


def test_ir_xml_with_the_bin_of_another_model(cli, built, tiny_checkpoint, tmp_path):
    # The other model's .bin is larger than this .xml needs: OpenVINO alone would load garbage.
    ir = tmp_path / "ir"
    other = save_other_ir(tmp_path / "other")
    assert (other / "openvino_model.bin").stat().st_size > (built / "openvino_model.bin").stat().st_size
    ir.mkdir()
    shutil.copy2(built / "openvino_model.xml", ir)
    shutil.copy2(other / "openvino_model.bin", ir)
    cli.refused(["parity", str(tiny_checkpoint), str(ir), *FAST], EXIT_BAD_INPUT,
                "does not belong to openvino_model.xml", "come from different models",
                "Keep the .xml and .bin of one export together", keep=(ir, tiny_checkpoint))


def test_ir_of_a_model_that_is_not_this_classifier(cli, tiny_checkpoint, tmp_path):
    ir = save_other_ir(tmp_path / "ir", weights=16)
    cli.refused(["accuracy", str(tiny_checkpoint), str(ir), *FAST], EXIT_BAD_INPUT,
                "The IR expects inputs ['x']", "Pass the IR exported from this checkpoint",
                keep=(ir, tiny_checkpoint))


# --- the card ------------------------------------------------------------------------------------

def test_template_with_an_undefined_variable(cli, ckpt, tmp_path):
    template = tmp_path / "card.md.j2"
    template.write_text("# {{ model_name }}\n\n{{ no_such_variable }}\n")
    cli.refused(cli.publish_args(ckpt, "--template", str(template)), EXIT_BAD_INPUT,
                "uses undefined variable(s): no_such_variable.", "publisher card variables",
                keep=(ckpt, template.parent))
    # Refused before any slow stage: no IR was written.
    assert not any((cli.out / n).exists() for n in IR_NAMES)


def test_template_with_a_syntax_error(cli, ckpt, tmp_path):
    template = tmp_path / "card.md.j2"
    template.write_text("# {{ model_name }}\n{% if %}\n")
    cli.refused(cli.publish_args(ckpt, "--template", str(template)), EXIT_BAD_INPUT,
                "card.md.j2, line 2", "Fix the Jinja syntax", keep=(ckpt,))


def test_template_that_does_not_exist(cli, ckpt, tmp_path):
    cli.refused(cli.publish_args(ckpt, "--template", str(tmp_path / "nope.md.j2")), EXIT_BAD_INPUT,
                "does not exist", "leave --template out", keep=(ckpt,))


def test_license_unknown_to_the_hub(cli, ckpt):
    cli.refused(cli.publish_args(ckpt, "--license", "not-a-license"), EXIT_BAD_INPUT,
                "'not-a-license' is not a Hub license id", "apache-2.0", keep=(ckpt,))
    assert not (cli.out / "openvino_model.xml").exists()


def test_pipeline_tag_unknown_to_the_hub(cli, built, tiny_checkpoint, tmp_path, monkeypatch):
    # No flag sets the pipeline tag today; the pre-push check is exercised by forcing one.
    import dataclasses

    from publisher.pipeline import runner

    real = runner.card_inputs
    monkeypatch.setattr(runner, "card_inputs",
                        lambda *a: dataclasses.replace(real(*a), pipeline_tag="not-a-task"))
    out = shutil.copytree(built, tmp_path / "out")  # cached export and measurements: no re-export
    cli.refused(cli.publish_args(tiny_checkpoint, out=out), EXIT_BAD_INPUT,
                "pipeline_tag 'not-a-task' is not a Hub pipeline tag", "Nothing was pushed",
                keep=(tiny_checkpoint,))
    assert not (out / "README.md").exists() or "not-a-task" not in (out / "README.md").read_text()


# --- the Hub -------------------------------------------------------------------------------------

def test_invalid_repo_id(cli, ckpt):
    args = cli.publish_args(ckpt)
    args[args.index("--repo-id") + 1] = "me/not a valid id!"
    cli.refused(args, EXIT_BAD_INPUT, "'me/not a valid id!' is not a valid repo id",
                "NAMESPACE/NAME", keep=(ckpt,))


def test_repo_id_without_a_namespace(cli, ckpt):
    args = cli.publish_args(ckpt)
    args[args.index("--repo-id") + 1] = "just-a-name"
    cli.refused(args, EXIT_BAD_INPUT, "has no namespace", "NAMESPACE/NAME", keep=(ckpt,))


def test_no_token_for_a_remote_endpoint(cli, ckpt, monkeypatch):
    # No network here: the check must fail before any request, and before the export.
    monkeypatch.delenv("HF_TOKEN")
    args = cli.publish_args(ckpt)
    args[args.index("--endpoint") + 1] = "https://hub.example.invalid"
    cli.refused(args, EXIT_AUTH, "No Hugging Face token was found for https://hub.example.invalid",
                "Set HF_TOKEN", "--token-file", keep=(ckpt,))
    assert not (cli.out / "openvino_model.xml").exists()


def test_token_without_write_access(cli, ckpt, hub_server, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", hub_server.read_token)
    message = cli.refused(cli.publish_args(ckpt), EXIT_AUTH, "is read-only",
                          "Create a token with write access", keep=(ckpt,))
    assert hub_server.read_token not in message
    assert not (cli.out / "openvino_model.xml").exists()  # found before the export


def test_token_the_hub_refuses(cli, ckpt, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_token_this_hub_knows")
    message = cli.refused(cli.publish_args(ckpt), EXIT_AUTH, "the token was refused", "HTTP 401",
                          "create a new token with write access", keep=(ckpt,))
    assert "hf_not_a_token_this_hub_knows" not in message


def test_unreachable_endpoint(cli, ckpt):
    args = cli.publish_args(ckpt)
    args[args.index("--endpoint") + 1] = f"http://127.0.0.1:{free_port()}"
    cli.refused(args, EXIT_HUB, "is unreachable", "Check the network and the endpoint", keep=(ckpt,))
    assert not (cli.out / "openvino_model.xml").exists()


def test_token_file_that_cannot_be_read(cli, ckpt, tmp_path):
    cli.refused(cli.publish_args(ckpt, "--token-file", str(tmp_path / "missing-token")),
                EXIT_BAD_INPUT, "The token file", "cannot be read", "Check --token-file", keep=(ckpt,))


# --- the output folder ---------------------------------------------------------------------------

def test_output_folder_not_writable(cli, ckpt, tmp_path):
    if os.geteuid() == 0:  # root writes anywhere: use a path under a regular file instead
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder")
        out = blocker / "out"
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        out = locked / "out"
    try:
        cli.refused(cli.publish_args(ckpt, out=out), EXIT_BAD_INPUT, "is not writable",
                    "Pass --output with a folder you can write to", keep=(ckpt,))
    finally:
        if os.geteuid() != 0:
            locked.chmod(0o700)


def test_output_folder_is_the_checkpoint_folder(cli, ckpt):
    cli.refused(cli.publish_args(ckpt, out=ckpt), EXIT_BAD_INPUT,
                "would overwrite the checkpoint's config.json", "outside the checkpoint folder",
                keep=(ckpt,))


def test_disk_full_while_exporting(cli, ckpt, monkeypatch):
    import optimum.exporters.openvino.convert as convert

    def full_disk(model, output, **kw):
        Path(output, "openvino_model.xml").write_text("<net partial")  # a partial IR, then ENOSPC
        raise OSError(errno.ENOSPC, "No space left on device", str(Path(output, "openvino_model.bin")))

    monkeypatch.setattr(convert, "export_from_model", full_disk)
    cli.out.mkdir()
    (cli.out / "notes.txt").write_text("the user's own file")
    cli.refused(cli.publish_args(ckpt), EXIT_BAD_INPUT, "The disk is full", "Nothing was published",
                "Free disk space", "--output on another disk", keep=(ckpt,))
    assert not any((cli.out / n).exists() for n in IR_NAMES)  # no partial IR
    assert not (cli.out / ".publisher" / "staging").exists()
    assert (cli.out / "notes.txt").read_text() == "the user's own file"
    cache = cli.out / ".publisher" / "cache.json"
    assert not cache.exists() or "export" not in json.loads(cache.read_text())


# --- interruption --------------------------------------------------------------------------------

def assert_interrupted_message(err: str) -> None:
    # The CLI boundary prints "Interrupted." today: click turns the KeyboardInterrupt into an Abort
    # before publisher.cli.main sees it, so its longer message ("finished stages are cached ...;
    # re-run the same command to resume") is not reached (a change to publisher/cli/main.py).
    assert "Traceback" not in err, err
    assert any(line.startswith("Interrupted") for line in err.splitlines()), err


def test_interrupted_during_the_export_leaves_no_partial_ir(cli, ckpt, monkeypatch):
    import optimum.exporters.openvino.convert as convert

    def interrupted(model, output, **kw):
        Path(output, "openvino_model.xml").write_text("<net partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(convert, "export_from_model", interrupted)
    before = snapshot(ckpt)
    code, err = cli.run(cli.publish_args(ckpt))
    assert code == EXIT_INTERRUPTED, err
    assert_interrupted_message(err)
    assert not api_for(cli.hub).repo_exists(cli.repo)
    assert snapshot(ckpt) == before
    assert not any((cli.out / n).exists() for n in IR_NAMES)
    assert not (cli.out / ".publisher" / "staging").exists()


# Runs publisher as a real process with a pause after the export; SIGINT is reset to its default
# first, because a test runner started in the background may have it ignored.
PAUSE_AFTER_EXPORT = """
import signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
import publisher.stages.inference as inference
def paused(*args, **kwargs):
    sys.stderr.write("PAUSED AFTER EXPORT\\n")
    sys.stderr.flush()
    time.sleep(300)
inference.run_openvino = paused
from publisher.cli.main import main
main(sys.argv[1:])
"""


def test_ctrl_c_leaves_a_resumable_state(cli, ckpt, hub_server, tmp_path):
    args = cli.publish_args(ckpt, "--verbose")  # the pause marker is written to stderr
    before = snapshot(ckpt)
    log = tmp_path / "stderr.txt"
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-c", PAUSE_AFTER_EXPORT, *args],
                                stdout=subprocess.DEVNULL, stderr=err, env=hub_env(hub_server),
                                cwd=tmp_path)
        try:
            deadline = time.monotonic() + 240
            while "PAUSED AFTER EXPORT" not in log.read_text():
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            assert "Exporting" in log.read_text()
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log.read_text()
    assert code == EXIT_INTERRUPTED, text
    assert_interrupted_message(text)
    assert not api_for(hub_server).repo_exists(cli.repo)
    assert snapshot(ckpt) == before
    cache = json.loads((cli.out / ".publisher" / "cache.json").read_text())
    assert "export" in cache and "measure" not in cache
    assert not (cli.out / ".publisher" / "staging").exists()

    # The same command again: it completes, re-using the export.
    code, err = cli.run(args)
    assert code == EXIT_OK, err
    report = json.loads((cli.out / "report.json").read_text())
    assert report["status"] == "released"
    assert report["cache"] == {"export": True, "measure": False}
    assert "export" not in report["timings"]
    assert api_for(hub_server).list_repo_commits(cli.repo)[0].commit_id == report["hub"]["commit"]
    assert snapshot(ckpt) == before


def test_architecture_optimum_intel_does_not_export(cli, tmp_path):
    # optimum-intel 2.2 has removed the OpenVINO export of ModernBERT: refused before any work.
    import torch
    from transformers import AutoTokenizer, ModernBertConfig, ModernBertForSequenceClassification

    from tests.fixtures_models import minilm_tokenizer_dir

    torch.manual_seed(0)
    ckpt = tmp_path / "modernbert"
    config = ModernBertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                              num_attention_heads=2, intermediate_size=64, num_labels=2,
                              id2label={0: "negative", 1: "positive"},
                              label2id={"negative": 0, "positive": 1}, pad_token_id=0,
                              cls_token_id=101, sep_token_id=102, bos_token_id=101,
                              eos_token_id=102)  # the BERT vocabulary's ids
    ModernBertForSequenceClassification(config).save_pretrained(ckpt)
    AutoTokenizer.from_pretrained(str(minilm_tokenizer_dir())).save_pretrained(ckpt)
    cli.refused(cli.publish_args(ckpt), EXIT_BAD_INPUT, "ModernBertForSequenceClassification",
                "optimum-intel 2.2", "not officially supported by optimum-intel and has been removed",
                "Nothing was loaded or exported", "Publish with an optimum-intel release",
                "or release a checkpoint of an architecture", keep=(ckpt,))
    assert not cli.out.exists()  # refused before the output folder was prepared


# --- found by the loader fuzzer (tests/test_loader_fuzz.py, issue 26) -----------------------------

@pytest.mark.parametrize("field,value,phrase", [
    ("architectures", {"a": 1}, 'architectures={"a": 1}, not a list of class names'),  # was KeyError: 0
    ("architectures", [1], "architectures=[1], not a list of class names"),  # was AttributeError
    ("model_type", ["bert"], 'model_type=["bert"], not a string'),
])
def test_config_naming_fields_of_the_wrong_type(cli, ckpt, field, value, phrase):
    edit_config(ckpt, **{field: value})
    cli.refused(cli.publish_args(ckpt), EXIT_BAD_INPUT, "config.json has " + phrase, "save_pretrained()",
                keep=(ckpt,))


def test_config_json_nested_too_deeply(cli, ckpt):
    (ckpt / "config.json").write_text("[" * 100_000 + "]" * 100_000)  # was RecursionError (exit 1)
    cli.refused(cli.publish_args(ckpt), EXIT_BAD_INPUT, "config.json is not valid JSON (it nests",
                "Fix or re-save the config", keep=(ckpt,))


@pytest.mark.parametrize("field,value,phrase", [
    ("num_attention_heads", 0, "ZeroDivisionError"),
    ("hidden_act", "bogus", 'unknown value in hidden_act="bogus"'),
    ("pad_token_id", 10 ** 6, "AssertionError: Padding_idx must be within num_embeddings"),
    ("vocab_size", -1, "negative dimension"),
])
def test_config_value_the_model_constructor_refuses(cli, ckpt, field, value, phrase):
    # Each raised from the model's constructor (exit 1); now bad input naming config.json.
    edit_config(ckpt, **{field: value})
    cli.refused(cli.publish_args(ckpt), EXIT_BAD_INPUT, "transformers cannot build BertForSequenceClassification",
                "config.json", phrase, keep=(ckpt,))
    assert not any((cli.out / n).exists() for n in IR_NAMES)


def test_chat_template_that_does_not_render_is_refused_before_the_export(cli, tiny_llama, tmp_path):
    ckpt = Path(shutil.copytree(tiny_llama, tmp_path / "llm"))
    (ckpt / "chat_template.jinja").write_text("{% for m in messages %}{{ m['content'] }")
    args = ["publish", str(ckpt), "--repo-id", cli.repo, "--endpoint", cli.hub.endpoint, "--output", str(cli.out),
            "--window", "32", "--stride", "16", "--max-windows", "2"]
    cli.refused(args, EXIT_BAD_INPUT, "chat_template.jinja does not render a user message (TemplateSyntaxError",
                "Fix the template", keep=(ckpt,))
    assert not any((cli.out / n).exists() for n in IR_NAMES)  # it failed in greedy generation, after it


def test_eval_file_edited_in_place_is_measured_again(cli, built, tiny_checkpoint, tmp_path):
    # The measurements were cached by the file's path: an edited file re-used the old figures.
    out = shutil.copytree(built, tmp_path / "out")  # the cached export of this checkpoint
    rows = tmp_path / "rows.tsv"
    rows.write_text("sentence\tlabel\n" + "".join(f"sentence {i}\t{i % 2}\n" for i in range(8)))
    args = ["publish", str(tiny_checkpoint), "--no-push", "--output", str(out), *RELAXED, "--eval-file", str(rows)]
    code, err = cli.run(args)
    assert code == EXIT_OK, err
    rows.write_text("sentence\tsentiment\nsentence 0\t0\n")
    cli.refused(args, EXIT_BAD_INPUT, "rows.tsv has no column 'label'", "--label-column")
