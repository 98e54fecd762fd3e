"""Secrets and hygiene: tokens never leak, secret files are never pushed or unpickled, the push set
stays inside the release folder, user templates stay in their sandbox.

One release is published from a checkpoint folder salted with everything a trainer leaves behind
(``training_args.bin`` and friends as booby-trapped pickles, ``.env`` holding the token, a key)
in a real subprocess; the other tests re-use its cached output folder in-process, so they cost a
render and a push, not an export.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest

from publisher.cli.main import main
from publisher.errors import EXIT_AUTH, EXIT_BAD_INPUT, EXIT_OK
from tests.fixtures_hub import hub_env
from tests.fixtures_models import run_cli

RELAXED = ["--max-accuracy-drop", "1", "--min-argmax-agreement", "0.5", "--max-logit-diff", "10"]
FAST = ["--max-samples", "48"]
SECRET_FILES = ("training_args.bin", "optimizer.pt", "scheduler.pt", "rng_state_0.pth", ".env",
                "key.pem", ".hidden", ".cache/notes.txt")
RELEASE_FILES = {".gitattributes", "README.md", "report.json", "config.json", "openvino_model.xml",
                 "openvino_model.bin", "openvino_config.json", "tokenizer.json", "tokenizer_config.json"}
KEY_MATERIAL = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7-not-a-real-key"


class Trap:
    """Unpickling this creates ``marker``: proof that something was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def trap_bytes(marker: Path) -> bytes:
    return pickle.dumps(Trap(marker), protocol=2)


def api_for(hub):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.endpoint, token=hub.token)


def files_text(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in folder.rglob("*") if p.is_file() and not p.is_symlink()}


def assert_absent(secret: str, **texts: str | bytes) -> None:
    for where, text in texts.items():
        data = text.encode() if isinstance(text, str) else text
        assert secret.encode() not in data, f"the token appears in {where}"


def assert_folder_clean(secret: str, folder: Path) -> None:
    assert_absent(secret, **{f"{folder.name}/{k}": v for k, v in files_text(folder).items()})


@pytest.fixture(scope="module")
def salted(tiny_checkpoint, hub_server, tmp_path_factory) -> dict:
    """The tiny checkpoint plus a trainer's leftovers; the marker proves nothing was unpickled."""
    base = tmp_path_factory.mktemp("salted")
    marker = base / "UNPICKLED"
    sanity = base / "sanity-marker"
    pickle.loads(trap_bytes(sanity))  # the trap works: unpickling it does create its marker
    assert sanity.exists()
    ckpt = Path(shutil.copytree(tiny_checkpoint, base / "ckpt"))
    for name in ("training_args.bin", "optimizer.pt", "scheduler.pt", "rng_state_0.pth"):
        (ckpt / name).write_bytes(trap_bytes(marker))
    (ckpt / ".env").write_text(f"HF_TOKEN={hub_server.token}\n")
    (ckpt / "key.pem").write_text(f"-----BEGIN PRIVATE KEY-----\n{KEY_MATERIAL}\n"
                                  "-----END PRIVATE KEY-----\n")
    (ckpt / ".hidden").write_text("hidden")
    (ckpt / ".cache").mkdir()
    (ckpt / ".cache" / "notes.txt").write_text("notes")
    # A trainer's JSON arguments with the token in them: the card's training command leaves it out.
    (ckpt / "training_args.json").write_text(json.dumps(
        {"learning_rate": 5e-05, "num_train_epochs": 3.0, "seed": 42, "hub_token": hub_server.token,
         "push_to_hub_token": hub_server.token}))
    return {"ckpt": ckpt, "marker": marker, "base": base}


@pytest.fixture(scope="module")
def released(salted, hub_server) -> dict:
    """Published by a real process, the token in HF_TOKEN (as a CI job does)."""
    out = salted["base"] / "out"
    result = run_cli("publish", str(salted["ckpt"]), "--repo-id", "secrets/env-token", "--endpoint",
                     hub_server.endpoint, "--output", str(out), "--license", "apache-2.0", *RELAXED,
                     *FAST, env=hub_env(hub_server), cwd=salted["base"])
    assert result.returncode == EXIT_OK, result.stderr
    return {"out": out, "stdout": result.stdout, "stderr": result.stderr}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """A scratch folder, no HF_TOKEN and no stored login: every token comes from the test."""
    import huggingface_hub.constants

    monkeypatch.chdir(tmp_path)
    for name in ("HF_TOKEN", "HF_ENDPOINT", "CI", "PUBLISHER_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-stored-token"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"),
                        raising=False)


def run(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(args)
    return exc.value.code


def publish_args(hub, salted, out: Path, repo: str, *extra: str) -> list[str]:
    return ["publish", str(salted["ckpt"]), "--repo-id", repo, "--endpoint", hub.endpoint,
            "--output", str(out), "--license", "apache-2.0", *RELAXED, *FAST, *extra]


@pytest.fixture
def cached_out(released, tmp_path) -> Path:
    """A copy of the released output folder: its cache makes a re-run skip export and measurement."""
    return Path(shutil.copytree(released["out"], tmp_path / "out", symlinks=True))


def token_file(tmp_path: Path, token: str) -> Path:
    path = tmp_path / "token"
    path.write_text(token + "\n")
    return path


# --- secret files ------------------------------------------------------------------------------

def test_training_state_keys_and_hidden_files_are_never_pushed(released, hub_server):
    files = set(api_for(hub_server).list_repo_files("secrets/env-token"))
    assert files == RELEASE_FILES
    for name in SECRET_FILES:
        assert name not in files and Path(name).name not in {Path(f).name for f in files}


def test_nothing_was_unpickled(released, salted, capsys):
    assert not salted["marker"].exists()
    # Not even with --trust-pickle: it allows pytorch_model.bin only, never the trainer's pickles.
    assert run(["inspect", str(salted["ckpt"]), "--trust-pickle"]) == EXIT_OK
    assert not salted["marker"].exists()


def test_the_report_lists_no_secret_or_hidden_checkpoint_file(released):
    report = json.loads((released["out"] / "report.json").read_text())
    listed = {f["path"] for f in report["checkpoint"]["files"]}
    assert "model.safetensors" in listed
    assert not listed & set(SECRET_FILES)
    assert not [p for p in listed if p.startswith(".") or "/." in p]


def test_key_material_is_in_no_released_file(released):
    for name, data in files_text(released["out"]).items():
        assert KEY_MATERIAL.encode() not in data, name


def test_pickle_weights_are_not_unpickled_without_trust_pickle(tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text(json.dumps({"architectures": ["BertForSequenceClassification"],
                                                  "model_type": "bert"}))
    (ckpt / "pytorch_model.bin").write_bytes(trap_bytes(tmp_path / "UNPICKLED"))
    assert run(["inspect", str(ckpt)]) == EXIT_BAD_INPUT
    assert "--trust-pickle" in capsys.readouterr().err
    assert not (tmp_path / "UNPICKLED").exists()


def test_trust_pickle_still_runs_no_code_from_the_pickle(tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text(json.dumps({"architectures": ["BertForSequenceClassification"],
                                                  "model_type": "bert"}))
    (ckpt / "pytorch_model.bin").write_bytes(trap_bytes(tmp_path / "UNPICKLED"))
    assert run(["inspect", str(ckpt), "--trust-pickle"]) == EXIT_BAD_INPUT  # weights_only=True
    assert "pytorch_model.bin cannot be read" in capsys.readouterr().err
    assert not (tmp_path / "UNPICKLED").exists()


# --- tokens ------------------------------------------------------------------------------------

def test_token_from_the_environment_appears_in_no_output(released, hub_server):
    token = hub_server.token
    assert_absent(token, stdout=released["stdout"], stderr=released["stderr"])
    assert_folder_clean(token, released["out"])  # README.md, report.json, the IR, the stage cache
    card = (released["out"] / "README.md").read_text()
    assert "--learning_rate 5e-05" in card  # the training command is on the card, without tokens
    assert_absent(token, hub_log=hub_server.log_text())


def test_token_from_a_token_file_appears_in_no_output(salted, cached_out, hub_server, tmp_path, capfd):
    token = hub_server.token
    args = publish_args(hub_server, salted, cached_out, "secrets/token-file",
                        "--token-file", str(token_file(tmp_path, token)), "--json")
    assert run(args) == EXIT_OK
    captured = capfd.readouterr()
    assert json.loads(captured.out)["status"] == "released"
    assert_absent(token, stdout=captured.out, stderr=captured.err)
    assert_folder_clean(token, cached_out)
    assert_absent(token, hub_log=hub_server.log_text())
    assert set(api_for(hub_server).list_repo_files("secrets/token-file")) == RELEASE_FILES


@pytest.mark.parametrize("which", ["read-only", "unknown"])
def test_token_appears_in_no_exception(salted, cached_out, hub_server, tmp_path, monkeypatch, capfd, which):
    token = hub_server.read_token if which == "read-only" else "hf_unknown_0123456789abcdefXYZ"
    monkeypatch.setenv("PUBLISHER_DEBUG", "1")  # the CLI prints the exception's whole chain
    args = publish_args(hub_server, salted, cached_out, f"secrets/exception-{which}",
                        "--token-file", str(token_file(tmp_path, token)), "--json")
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == EXIT_AUTH
    captured = capfd.readouterr()
    assert "Traceback" in captured.err  # the whole chain, causes included
    assert json.loads(captured.out)["error"]["exit_code"] == EXIT_AUTH
    assert_absent(token, stdout=captured.out, stderr=captured.err, hub_log=hub_server.log_text())
    assert not api_for(hub_server).repo_exists(f"secrets/exception-{which}")


# --- the push set ------------------------------------------------------------------------------

def test_a_symlink_planted_in_the_output_folder_is_not_pushed(salted, cached_out, hub_server, tmp_path,
                                                              monkeypatch, capsys):
    # Same bytes as the export (so the cache still matches), but a link to a file elsewhere.
    outside = tmp_path / "elsewhere" / "config.json"
    outside.parent.mkdir()
    shutil.copy2(cached_out / "config.json", outside)
    original = outside.read_bytes()
    (cached_out / "config.json").unlink()
    (cached_out / "config.json").symlink_to(outside)
    monkeypatch.setenv("HF_TOKEN", hub_server.token)
    assert run(publish_args(hub_server, salted, cached_out, "secrets/symlink")) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "Refusing to push 'config.json'" in err and "symbolic link" in err
    assert not api_for(hub_server).repo_exists("secrets/symlink")
    assert outside.read_bytes() == original


def test_a_cache_entry_pointing_outside_the_output_folder_is_not_pushed(salted, cached_out, hub_server,
                                                                        tmp_path, monkeypatch, capsys):
    from publisher.stages.load import sha256_file

    secret = tmp_path / "private.txt"
    secret.write_text("private notes next to the release folder")
    cache_path = cached_out / ".publisher" / "cache.json"
    cache = json.loads(cache_path.read_text())
    cache["export"]["value"]["files"].append(
        {"path": "../private.txt", "sha256": sha256_file(secret), "size": secret.stat().st_size})
    cache_path.write_text(json.dumps(cache))
    monkeypatch.setenv("HF_TOKEN", hub_server.token)
    assert run(publish_args(hub_server, salted, cached_out, "secrets/traversal")) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "Refusing to push '../private.txt'" in err and "Nothing was pushed" in err
    assert not api_for(hub_server).repo_exists("secrets/traversal")
    assert secret.read_text() == "private notes next to the release folder"


def test_a_symlinked_card_is_replaced_not_written_through(salted, cached_out, tmp_path):
    victim = tmp_path / "victim.md"
    victim.write_text("the user's own notes")
    (cached_out / "README.md").unlink()
    (cached_out / "README.md").symlink_to(victim)
    (cached_out / "report.json").unlink()
    (cached_out / "report.json").symlink_to(victim)
    assert run(["publish", str(salted["ckpt"]), "--no-push", "--output", str(cached_out),
                *RELAXED, *FAST]) == EXIT_OK
    assert victim.read_text() == "the user's own notes"
    for name in ("README.md", "report.json"):
        assert not (cached_out / name).is_symlink() and (cached_out / name).is_file()


# --- user templates ----------------------------------------------------------------------------

def _template(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir(exist_ok=True)
    path = folder / "card.md.j2"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name, text", [
    ("mro", "{{ ''.__class__.__mro__[1].__subclasses__() }}\n"),
    ("globals", "{{ cycler.__init__.__globals__.os.system('touch {marker}') }}\n"),
    ("format", "{{ '{0.__class__}'.format(model_name) }}\n"),
], ids=["mro", "globals", "format"])
def test_a_template_cannot_run_code(salted, cached_out, hub_server, tmp_path, monkeypatch, capsys, name, text):
    marker = tmp_path / "RAN"
    template = _template(tmp_path, text.replace("{marker}", str(marker)))
    monkeypatch.setenv("HF_TOKEN", hub_server.token)
    repo = f"secrets/template-{name}"
    code = run(publish_args(hub_server, salted, cached_out, repo, "--template", str(template)))
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT, err
    assert "sandbox forbids" in err
    assert not marker.exists()
    assert not api_for(hub_server).repo_exists(repo)


@pytest.mark.parametrize("include", ["/etc/passwd", "../secret.txt"])
def test_a_template_cannot_include_files_outside_its_folder(salted, tmp_path, capsys, include):
    (tmp_path / "secret.txt").write_text("SECRET-OUTSIDE-THE-TEMPLATE-FOLDER")
    template = _template(tmp_path, "{% include '" + include + "' %}\n")
    # Refused before any slow stage (no hub, no export needed to find out).
    code = run(["publish", str(salted["ckpt"]), "--no-push", "--output", str(tmp_path / "out"),
                "--template", str(template)])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT, err
    assert f"refers to '{include}'" in err and "own folder" in err
    assert "SECRET-OUTSIDE" not in err
    assert not (tmp_path / "out" / "openvino_model.xml").exists()


def test_a_template_cannot_include_a_symlink_that_leaves_its_folder(salted, cached_out, tmp_path, capsys):
    (tmp_path / "secret.txt").write_text("SECRET-OUTSIDE-THE-TEMPLATE-FOLDER")
    template = _template(tmp_path, "{% include 'link.md' %}\n")
    (template.parent / "link.md").symlink_to(tmp_path / "secret.txt")
    code = run(["publish", str(salted["ckpt"]), "--no-push", "--output", str(cached_out),
                "--template", str(template), *RELAXED, *FAST])
    assert "SECRET-OUTSIDE" not in (cached_out / "README.md").read_text()
    assert code == EXIT_BAD_INPUT


# --- the signing key (issue 25) ------------------------------------------------------------------

SIGN_PASSWORD = "sign-password-never-shown-7f3a"


def test_the_signing_key_and_its_password_appear_in_no_output_or_pushed_file(hub_server, cached_out, tmp_path,
                                                                             salted, monkeypatch, capsys):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(SIGN_PASSWORD.encode()))
    key_file = tmp_path / "release-key.pem"
    key_file.write_bytes(pem)
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    monkeypatch.setenv("SIGN_KEY_PASSWORD", SIGN_PASSWORD)
    repo = "secrets/signed"
    code = run(publish_args(hub_server, salted, cached_out, repo, "--token-file",
                            str(token_file(tmp_path, hub_server.token)), "--sign-key", str(key_file),
                            "--sign-key-password-env", "SIGN_KEY_PASSWORD", "--json"))
    out = capsys.readouterr()
    assert code == EXIT_OK, out.err
    files = set(api_for(hub_server).list_repo_files(repo))
    assert "model.sig" in files and not [f for f in files if f.endswith(".pem")]
    pushed = Path(api_for(hub_server).snapshot_download(repo, local_dir=str(tmp_path / "pushed")))
    body = b"".join(pem.splitlines()[1:-1])
    for secret in (SIGN_PASSWORD.encode(), body[:48], raw):
        for where, data in {"stdout": out.out.encode(), "stderr": out.err.encode(),
                            "hub log": hub_server.log_text().encode(),
                            **{f"pushed/{k}": v for k, v in files_text(pushed).items()},
                            **{f"out/{k}": v for k, v in files_text(cached_out).items()}}.items():
            assert secret not in data, where
