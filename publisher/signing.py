"""Signed releases (issue 25): the release set signed with the OpenSSF ``model_signing`` library.

At publish the files about to be pushed are staged into a clean folder (``OUTPUT/.publisher/signed``)
and that folder is signed with an elliptic-curve key, so the signature covers exactly the bytes
pushed: every release file, README.md and report.json included, nothing else. The signature ships
as ``model.sig`` in the same commit. ``publisher verify --public-key`` checks it over the files of
the commit it verifies.

The key's password is read from an environment variable or a file, never from a flag value, and
never appears in an output, a log, a report or a card. A signature promises that these bytes were
signed by the holder of this key; it does not say who that holder is.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from publisher.errors import BadInputError

SIGNATURE = "model.sig"
METHOD = "model_signing (OpenSSF), elliptic-curve key"
SIGNED_DIR = "signed"  # under OUTPUT/.publisher/
# What a Hub repo holds that is never part of a release set (model_signing ignores it too).
NOT_SIGNED = frozenset({SIGNATURE, ".gitattributes"})
_SIGN_FIX = "Pass --sign-key with a PEM elliptic-curve private key (P-256, P-384 or P-521)"


@dataclass(frozen=True)
class SigningKey:
    path: Path
    password: bytes | None = field(default=None, repr=False)
    fingerprint: str = ""  # sha256 of the DER public key (SubjectPublicKeyInfo)
    key_hint: str = ""  # sha256 of the PEM public key: what model_signing writes into model.sig


def signing_record(key: SigningKey) -> Any:
    from publisher.results import SigningRecord

    return SigningRecord(method=METHOD, fingerprint=key.fingerprint, key_hint=key.key_hint, signature=SIGNATURE)


def key_fingerprints(public_key: Any) -> tuple[str, str]:
    """(sha256 of the DER public key, sha256 of the PEM public key as model_signing records it)."""
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest(), hashlib.sha256(pem).hexdigest()


def _read_password(password_env: str | None, password_file: str | Path | None) -> bytes | None:
    if password_env and password_file:
        raise BadInputError("Both --sign-key-password-env and --sign-key-password-file were given",
                            "Pass one of them")
    if password_env:
        value = os.environ.get(password_env)
        if value is None:
            raise BadInputError(f"The environment variable {password_env} (--sign-key-password-env) is not set",
                                "Set it to the key's password, or name the variable that holds it")
        return value.encode("utf-8")
    if password_file:
        try:
            data = Path(password_file).read_bytes()
        except OSError as exc:
            raise BadInputError(f"The password file {password_file} cannot be read ({exc.strerror})",
                                "Check --sign-key-password-file") from exc
        return data.rstrip(b"\r\n")
    return None


def load_signing_key(path: str | Path, password_env: str | None = None,
                     password_file: str | Path | None = None) -> SigningKey:
    """The private key at ``path``, checked now (before any heavy work); errors never quote it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = Path(path)
    password = _read_password(password_env, password_file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInputError(f"The signing key {path} cannot be read ({exc.strerror or exc}); nothing was pushed",
                            _SIGN_FIX) from exc
    try:
        key = serialization.load_pem_private_key(data, password)
    except TypeError as exc:  # a password for an unencrypted key, or none for an encrypted one
        needs = password is None
        state = "is encrypted and no password was given" if needs else "is not encrypted, but a password was given"
        raise BadInputError(
            f"The signing key {path} {state}; nothing was pushed",
            "Pass --sign-key-password-env VAR or --sign-key-password-file FILE" if needs
            else "Drop the password option") from None
    except ValueError:
        raise BadInputError(f"The signing key {path} is not a PEM private key, or its password is wrong",
                            _SIGN_FIX + ", and its password if it is encrypted") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name not in ("secp256r1", "secp384r1", "secp521r1"):
        raise BadInputError(f"The signing key {path} is not an elliptic-curve key on P-256, P-384 or P-521",
                            _SIGN_FIX)
    fingerprint, hint = key_fingerprints(key.public_key())
    return SigningKey(path=path, password=password, fingerprint=fingerprint, key_hint=hint)


def refuse_sigstore() -> BadInputError:
    return BadInputError(
        "--sign sigstore signs through Sigstore's public services (an OIDC login, Fulcio and Rekor), "
        "which this machine cannot reach; nothing was signed or pushed",
        "Sign with a key instead (--sign-key key.pem), or run where Sigstore is reachable and sign the "
        "downloaded release with `model_signing sign sigstore`")


def _hashing_config() -> Any:
    from model_signing import hashing

    # The Python API, unlike the CLI, does not leave the signature file out by itself.
    return hashing.Config().set_ignored_paths(paths=[SIGNATURE], ignore_git_paths=True)


def stage(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    """Copy the release set into a clean ``folder``: what is signed is exactly what is pushed."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    staged = {}
    for rel, source in sorted(files.items()):
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target, follow_symlinks=False)
        staged[rel] = target
    return staged


def sign_folder(folder: Path, key: SigningKey) -> Path:
    """Sign every file of ``folder`` (but model.sig) into ``folder/model.sig``."""
    from model_signing import signing

    signature = folder / SIGNATURE
    signature.unlink(missing_ok=True)
    try:
        signing.Config().set_hashing_config(_hashing_config()).use_elliptic_key_signer(
            private_key=key.path, password=key.password).sign(folder, signature)
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"model_signing could not sign with {key.path} ({type(exc).__name__})", _SIGN_FIX) from None
    return signature


# --- reading and checking a signature ---------------------------------------------------------------


@dataclass(frozen=True)
class SignatureInfo:
    """What model.sig says, read without checking it (the check is ``check_folder``)."""

    key_hint: str  # sha256 of the signer's PEM public key, as model_signing records it
    files: dict[str, str]  # path -> sha256 of each signed file


def read_signature(path: Path) -> SignatureInfo:
    """The signer's key hint and the signed files of a model.sig; BadInputError when it is malformed."""
    try:
        bundle = json.loads(path.read_text(encoding="utf-8"))
        hint = bundle.get("verificationMaterial", {}).get("publicKey", {}).get("hint", "")
        payload = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
        files = {}
        for resource in payload["predicate"]["resources"]:
            files[resource["name"]] = resource["digest"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadInputError(f"{path.name} is not a model_signing signature ({type(exc).__name__})",
                            "Re-sign the release") from None
    return SignatureInfo(key_hint=str(hint), files=files)


@dataclass(frozen=True)
class SignatureCheck:
    ok: bool
    problem: str = ""  # "wrong key", "malformed", "files"
    detail: str = ""
    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def _local_files(folder: Path) -> dict[str, str]:
    from publisher.digest import sha256_file

    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and rel not in NOT_SIGNED and not rel.startswith((".git/", ".github/")) \
                and rel != ".gitignore":
            out[rel] = sha256_file(p)
    return out


def holds_for(folder: Path, key: SigningKey) -> bool:
    """Whether ``folder/model.sig`` holds for ``folder`` with ``key``'s public half."""
    import tempfile

    from cryptography.hazmat.primitives import serialization

    private = serialization.load_pem_private_key(key.path.read_bytes(), key.password)
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    with tempfile.TemporaryDirectory() as tmp:
        pub = Path(tmp) / "key.pub"
        pub.write_bytes(pem)
        return check_folder(folder, pub).ok


def check_folder(folder: Path, public_key: Path, listing: list[str] | None = None) -> SignatureCheck:
    """Check ``folder/model.sig`` with ``public_key`` over every file of ``folder``."""
    from cryptography.hazmat.primitives import serialization
    from model_signing import verifying

    signature = folder / SIGNATURE
    try:
        pub = serialization.load_pem_public_key(public_key.read_bytes())
    except (OSError, ValueError) as exc:
        raise BadInputError(f"The public key {public_key} cannot be read as a PEM public key ({type(exc).__name__})",
                            "Pass --public-key with the release's key.pub") from None
    try:
        info = read_signature(signature)
    except BadInputError as exc:
        return SignatureCheck(False, "malformed", exc.problem)
    fingerprint, hint = key_fingerprints(pub)
    if info.key_hint and info.key_hint != hint:
        return SignatureCheck(False, "wrong key", f"model.sig was made with another key than {public_key.name} "
                              f"(sha256:{fingerprint[:16]}…)")
    try:
        verifying.Config().use_elliptic_key_verifier(public_key=public_key).set_hashing_config(
            _hashing_config()).verify(folder, signature)
    except Exception as exc:  # model_signing raises ValueError, and the library's own errors
        text = str(exc)
        if "Signature mismatch" not in text:
            kind = "wrong key" if "Key mismatch" in text or "InvalidSignature" in type(exc).__name__ else "malformed"
            return SignatureCheck(False, kind, f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:200])
        local = _local_files(folder)
        changed = sorted(p for p in info.files if p in local and local[p] != info.files[p])
        added = sorted(p for p in local if p not in info.files)
        removed = sorted(p for p in info.files if p not in local)
        return SignatureCheck(False, "files", "", changed, added, removed)
    if listing is not None:  # what model_signing leaves out (.github/, .gitignore) must not slip in either
        added = sorted(p for p in listing if p not in info.files and p not in NOT_SIGNED)
        if added:
            return SignatureCheck(False, "files", "", [], added, [])
    return SignatureCheck(True)
