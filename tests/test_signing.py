"""Signed releases (issue 25): `publish --sign-key` signs exactly the pushed files into model.sig, in
the same commit; `verify --public-key` checks it first, over the commit's files, and names what
changed after signing; `card regenerate` re-signs or refuses to leave a stale signature.

One signed release is published per module (a real process); tampering happens on copies of it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from publisher.errors import EXIT_BAD_INPUT, EXIT_CLAIM_FAILED, EXIT_OK
from tests.fixtures_hub import hub_env
from tests.fixtures_models import run_cli

RELAXED = ["--max-accuracy-drop", "1", "--min-argmax-agreement", "0.5", "--max-logit-diff", "10"]
FAST = ["--max-samples", "48"]
REPO = "signing/signed-classifier"
PASSWORD = "correct-horse-battery-staple-42"


def make_key(folder: Path, name: str, password: str | None = None) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    encryption = (serialization.BestAvailableEncryption(password.encode()) if password
                  else serialization.NoEncryption())
    private = folder / f"{name}.pem"
    public = folder / f"{name}.pub"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def fingerprint(public: Path) -> str:
    from publisher.signing import key_fingerprints
    from cryptography.hazmat.primitives import serialization

    return key_fingerprints(serialization.load_pem_public_key(public.read_bytes()))[0]


def api_for(hub):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.endpoint, token=hub.token)


def publish(hub, ckpt, out, repo, *extra, env_extra=None):
    env = {**hub_env(hub), **(env_extra or {})}
    return run_cli("publish", str(ckpt), "--repo-id", repo, "--endpoint", hub.endpoint, "--output", str(out),
                   "--json", "--license", "apache-2.0", *RELAXED, *FAST, *extra, env=env)


def verify(hub, repo, work_dir, *extra):
    result = run_cli("verify", repo, "--endpoint", hub.endpoint, "--work-dir", str(work_dir), "--json", *extra,
                     env=hub_env(hub))
    return result, (json.loads(result.stdout) if result.stdout.strip() else None)


@pytest.fixture(scope="module")
def token_file(hub_server, tmp_path_factory):
    path = tmp_path_factory.mktemp("token") / "token"
    path.write_text(hub_server.token + "\n")
    return path


def check(hub, token_file, repo, work_dir, public_key=None):
    """verify in-process on the first 8 rows (the CLI's own runs are above): its exit code and document."""
    from publisher.recheck import VerifyRequest, verify_release
    from publisher.recheck.ledger_checks import CheckOptions

    result = verify_release(VerifyRequest(repo_id=repo, endpoint=hub.endpoint, token_file=str(token_file),
                                          options=CheckOptions(max_samples=8), work_dir=Path(work_dir),
                                          public_key=Path(public_key) if public_key else None))
    return (EXIT_OK if result.holds else EXIT_CLAIM_FAILED), result.to_dict()


def signature_row(document):
    return next(c for c in document["checks"] if c["claim"] == "signature")


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    return {"main": make_key(folder, "key"), "other": make_key(folder, "other"),
            "locked": make_key(folder, "locked", PASSWORD), "folder": folder}


@pytest.fixture(scope="module")
def signed(hub_server, tiny_checkpoint, keys, tmp_path_factory):
    out = tmp_path_factory.mktemp("signed-release")
    result = publish(hub_server, tiny_checkpoint, out, REPO, "--sign-key", str(keys["main"][0]))
    assert result.returncode == EXIT_OK, result.stderr
    return {"doc": json.loads(result.stdout), "out": out, "stdout": result.stdout, "stderr": result.stderr}


@pytest.fixture()
def copy_of(hub_server, signed, request):
    """A repo of its own holding the signed release's commit, to tamper with."""
    api = api_for(hub_server)
    repo = f"signing/tamper-{request.node.name[-40:].replace('_', '-').replace('[', '-').strip('-]')}"
    repo = repo.replace("]", "")
    api.create_repo(repo, exist_ok=True)
    api.upload_folder(repo_id=repo, folder_path=str(signed["out"] / ".publisher" / "signed"))
    return repo


# --- publish -----------------------------------------------------------------------------------------

def test_the_signature_ships_in_the_same_commit_and_covers_exactly_the_pushed_files(hub_server, signed, keys):
    from publisher.signing import read_signature

    api = api_for(hub_server)
    files = set(api.list_repo_files(REPO))
    assert "model.sig" in files and "README.md" in files and "report.json" in files
    commits = api.list_repo_commits(REPO)
    assert len(commits) == 2  # the repo's creation, then one commit holding everything, model.sig included
    info = read_signature(signed["out"] / ".publisher" / "signed" / "model.sig")
    assert set(info.files) == files - {"model.sig", ".gitattributes"}
    card = (signed["out"] / ".publisher" / "signed" / "README.md").read_text()
    fp = fingerprint(keys["main"][1])
    assert f"sha256:{fp}" in card and "not who holds the key" in card
    claim = next(c for c in signed["doc"]["claims"]["claims"] if c["id"] == "signature.key")
    assert claim["value"] == fp and claim["kind"] == "statement" and claim["recheck"] == "record"
    assert signed["doc"]["card"]["signing"]["fingerprint"] == fp


def test_the_round_trip_holds_with_the_public_key(hub_server, signed, keys, tmp_path):
    result, doc = verify(hub_server, REPO, tmp_path, "--public-key", str(keys["main"][1]))
    assert result.returncode == EXIT_OK, result.stderr
    assert doc["checks"][0]["claim"] == "signature" and doc["checks"][0]["verdict"] == "holds"
    claim = next(c for c in doc["checks"] if c["claim"] == "signature.key")
    assert claim["verdict"] == "holds" and claim["card"] == "stated"


def test_without_a_public_key_a_signed_repo_is_signed_not_checked(hub_server, signed, tmp_path, token_file):
    code, doc = check(hub_server, token_file, REPO, tmp_path)
    assert code == EXIT_OK, doc
    row = signature_row(doc)
    assert row["verdict"] == "not re-checkable" and "signed, not checked" in row["reason"]
    assert "the card's key fingerprint is the signature's" in row["reason"]


def test_the_librarys_own_cli_agrees(hub_server, signed, keys, tmp_path):
    from huggingface_hub import snapshot_download

    folder = Path(snapshot_download(REPO, local_dir=str(tmp_path / "snap"), endpoint=hub_server.endpoint,
                                    token=hub_server.token))
    shutil.rmtree(folder / ".cache", ignore_errors=True)  # huggingface_hub's download records
    cli = Path(sys.executable).with_name("model_signing")

    def library_verify(public: Path) -> int:
        return subprocess.run([str(cli), "verify", "key", str(folder), "--signature", str(folder / "model.sig"),
                               "--public_key", str(public)], capture_output=True, text=True).returncode

    assert library_verify(keys["main"][1]) == 0
    assert library_verify(keys["other"][1]) != 0
    (folder / "README.md").write_text((folder / "README.md").read_text() + "\nedited\n")
    assert library_verify(keys["main"][1]) != 0


@pytest.mark.parametrize("tamper", ["README.md", "report.json", "bin", "added", "removed"])
def test_a_file_changed_added_or_removed_after_signing_does_not_hold(hub_server, signed, keys, copy_of,
                                                                     tamper, tmp_path, token_file):
    from huggingface_hub import hf_hub_download

    api = api_for(hub_server)
    if tamper in ("README.md", "report.json", "bin"):
        name = "openvino_model.bin" if tamper == "bin" else tamper
        data = bytearray(Path(hf_hub_download(copy_of, name, endpoint=hub_server.endpoint, token=hub_server.token,
                                              local_dir=str(tmp_path / "dl"))).read_bytes())
        if tamper == "bin":
            data[len(data) // 2] ^= 1
        elif tamper == "README.md":
            data += b"\nA line added after signing.\n"
        else:
            data = data.replace(b'"tool_version"', b'"tool_version" ', 1)
        api.upload_file(path_or_fileobj=bytes(data), path_in_repo=name, repo_id=copy_of)
        expected = f"changed after signing: {name}"
    elif tamper == "added":
        api.upload_file(path_or_fileobj=b"extra", path_in_repo="extra.txt", repo_id=copy_of)
        expected = "added after signing: extra.txt"
    else:
        api.delete_file("tokenizer_config.json", repo_id=copy_of)
        expected = "removed after signing: tokenizer_config.json"
    if tamper == "README.md":  # the real command once, with its exit code
        result, doc = verify(hub_server, copy_of, tmp_path / "work", "--public-key", str(keys["main"][1]))
        assert result.returncode == EXIT_CLAIM_FAILED, result.stderr
    else:
        code, doc = check(hub_server, token_file, copy_of, tmp_path / "work", keys["main"][1])
        assert code == EXIT_CLAIM_FAILED
    row = doc["checks"][0]
    assert row["claim"] == "signature" and row["verdict"] == "does not hold"
    assert expected in row["reason"]


def test_a_wrong_public_key_a_malformed_signature_and_an_unsigned_repo_are_named(hub_server, signed, keys,
                                                                                 copy_of, tmp_path, token_file):
    code, doc = check(hub_server, token_file, REPO, tmp_path / "a", keys["other"][1])
    assert code == EXIT_CLAIM_FAILED
    assert signature_row(doc)["reason"].startswith("wrong key")
    api = api_for(hub_server)
    api.upload_file(path_or_fileobj=b'{"not": "a bundle"}', path_in_repo="model.sig", repo_id=copy_of)
    code, doc = check(hub_server, token_file, copy_of, tmp_path / "b", keys["main"][1])
    assert code == EXIT_CLAIM_FAILED
    assert signature_row(doc)["reason"].startswith("malformed signature")
    api.delete_file("model.sig", repo_id=copy_of)
    code, doc = check(hub_server, token_file, copy_of, tmp_path / "c", keys["main"][1])
    assert code == EXIT_CLAIM_FAILED
    assert "not signed" in signature_row(doc)["reason"]


# --- keys --------------------------------------------------------------------------------------------

def test_a_password_protected_key_with_its_password_from_a_file(hub_server, signed, tiny_checkpoint, keys,
                                                                 tmp_path, token_file):
    out = Path(shutil.copytree(signed["out"], tmp_path / "out"))  # its cache: no export, no measurement
    password = tmp_path / "password"
    password.write_text(PASSWORD + "\n")
    repo = "signing/locked-key"
    result = publish(hub_server, tiny_checkpoint, out, repo, "--sign-key", str(keys["locked"][0]),
                     "--sign-key-password-file", str(password))
    assert result.returncode == EXIT_OK, result.stderr
    code, doc = check(hub_server, token_file, repo, tmp_path / "work", keys["locked"][1])
    assert code == EXIT_OK, doc
    assert signature_row(doc)["verdict"] == "holds"
    # Neither the password nor the key's PEM body is in any output, pushed file or local file.
    key_body = b"".join(keys["locked"][0].read_bytes().splitlines()[1:-1])
    secrets = [PASSWORD.encode(), key_body[:40]]
    pushed = tmp_path / "pushed"
    api_for(hub_server).snapshot_download(repo, local_dir=str(pushed))
    texts = {"stdout": result.stdout.encode(), "stderr": result.stderr.encode(),
             "verify": json.dumps(doc).encode()}
    for folder in (pushed, out):
        texts.update({str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file()})
    for secret in secrets:
        for where, data in texts.items():
            assert secret not in data, where
    # A wrong password is refused before any work, without echoing it.
    password.write_text("wrong-password\n")
    refused = publish(hub_server, tiny_checkpoint, out, "signing/never", "--sign-key", str(keys["locked"][0]),
                      "--sign-key-password-file", str(password))
    assert refused.returncode == EXIT_BAD_INPUT and "wrong-password" not in refused.stderr + refused.stdout


def test_an_unchanged_signed_re_publish_makes_no_commit(hub_server, signed, tiny_checkpoint, keys, tmp_path):
    out = Path(shutil.copytree(signed["out"], tmp_path / "out"))
    before = api_for(hub_server).list_repo_commits(REPO)
    result = publish(hub_server, tiny_checkpoint, out, REPO, "--sign-key", str(keys["main"][0]))
    assert result.returncode == EXIT_OK, result.stderr
    assert json.loads(result.stdout)["status"] == "unchanged"
    assert len(api_for(hub_server).list_repo_commits(REPO)) == len(before)


@pytest.mark.parametrize("problem", ["missing", "unreadable", "not-a-key", "no-password", "sigstore", "no-key"])
def test_a_missing_or_unreadable_key_or_sigstore_is_refused_and_nothing_is_pushed(hub_server, tiny_checkpoint, keys,
                                                                                   problem, tmp_path, capsys):
    from publisher.cli.main import main

    key = tmp_path / "key.pem"
    if problem == "unreadable":
        key.write_text("x")
        key.chmod(0)
    elif problem == "not-a-key":
        key.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    elif problem == "no-password":
        key = keys["locked"][0]
    extra = {"sigstore": ["--sign", "sigstore"], "no-key": ["--sign", "key"]}.get(problem, ["--sign-key", str(key)])
    repo = f"signing/refused-{problem}"
    with pytest.raises(SystemExit) as exc:  # in-process: refused by the cheap checks, before any work
        main(["publish", str(tiny_checkpoint), "--repo-id", repo, "--endpoint", hub_server.endpoint,
              "--output", str(tmp_path / "out"), *extra])
    assert exc.value.code == EXIT_BAD_INPUT
    said = {"sigstore": "Sigstore", "no-key": "no --sign-key", "no-password": "no password was given"}
    assert said.get(problem, "signing key") in capsys.readouterr().err
    assert not api_for(hub_server).repo_exists(repo)
    assert not (tmp_path / "out" / ".publisher" / "signed").exists()


# --- card regenerate -----------------------------------------------------------------------------------

def test_regenerate_re_signs_or_refuses_to_leave_a_stale_signature(hub_server, signed, keys, copy_of, tmp_path,
                                                                   token_file):
    api = api_for(hub_server)
    sections = tmp_path / "sections"
    sections.mkdir()
    (sections / "notes.md.j2").write_text("## Notes\n\nA section added after the release.\n")

    def regenerate(*extra):
        return run_cli("card", "regenerate", copy_of, "--endpoint", hub_server.endpoint,
                       "--sections-dir", str(sections), *extra, env=hub_env(hub_server))

    commits = len(api.list_repo_commits(copy_of))
    refused = regenerate()
    assert refused.returncode == EXIT_BAD_INPUT
    assert "--sign-key" in refused.stderr and "--drop-signature" in refused.stderr
    assert len(api.list_repo_commits(copy_of)) == commits
    # Re-signed with another key: card, report.json and model.sig in one commit, and it holds.
    done = regenerate("--sign-key", str(keys["other"][0]))
    assert done.returncode == EXIT_OK, done.stderr
    assert len(api.list_repo_commits(copy_of)) == commits + 1
    code, doc = check(hub_server, token_file, copy_of, tmp_path / "a", keys["other"][1])
    assert code == EXIT_OK, doc
    assert signature_row(doc)["verdict"] == "holds"
    # Again with the same key: nothing changed, no commit.
    again = regenerate("--sign-key", str(keys["other"][0]))
    assert again.returncode == EXIT_OK and "unchanged" in again.stdout
    assert len(api.list_repo_commits(copy_of)) == commits + 1
    # Dropping the signature: model.sig goes, the card no longer says signed, and it still holds.
    dropped = regenerate("--drop-signature")
    assert dropped.returncode == EXIT_OK, dropped.stderr
    assert "model.sig" not in api.list_repo_files(copy_of)
    code, doc = check(hub_server, token_file, copy_of, tmp_path / "b")
    assert code == EXIT_OK, doc
    assert not [c for c in doc["checks"] if c["claim"] in ("signature", "signature.key")]
