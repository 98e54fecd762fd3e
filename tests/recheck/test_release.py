"""`publisher verify` on a signed repo without --public-key (issue 25): the signature is not checked,
but the commit's file list is still compared with the files model.sig lists (fast: no hub)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from publisher.hub.client import RemoteFile
from publisher.progress import Progress
from publisher.recheck import release
from publisher.recheck.release import VerifyRequest
from publisher.results import FAILS, UNVERIFIABLE

SIGNED = {"README.md": "a" * 64, "report.json": "b" * 64, "openvino_model.xml": "c" * 64,
          "openvino_model.bin": "d" * 64}


def _signature(files: dict[str, str]) -> bytes:
    payload = {"predicate": {"resources": [{"name": n, "algorithm": "sha256", "digest": d} for n, d in files.items()]}}
    return json.dumps({"verificationMaterial": {"publicKey": {"hint": "0" * 64}},
                       "dsseEnvelope": {"payload": base64.b64encode(json.dumps(payload).encode()).decode(),
                                        "signatures": []}}).encode()


class _Client:
    def __init__(self, signature: bytes) -> None:
        self.signature = signature

    def download_files(self, repo_id, paths, revision, local_dir: Path) -> Path:
        local_dir.mkdir(parents=True, exist_ok=True)
        (local_dir / "model.sig").write_bytes(self.signature)
        return local_dir


def _listing(files: dict[str, str | None]) -> dict[str, RemoteFile]:
    listing = {p: RemoteFile(p, "1" * 40, sha, 10) for p, sha in files.items()}
    listing["model.sig"] = RemoteFile("model.sig", "2" * 40, None, 10)
    listing[".gitattributes"] = RemoteFile(".gitattributes", "3" * 40, None, 10)
    return listing


def _row(tmp_path: Path, listing: dict[str, RemoteFile]):
    request = VerifyRequest(repo_id="org/signed", work_dir=tmp_path)
    (row,) = release._signature_rows(_Client(_signature(SIGNED)), request, "c" * 40, listing, None,
                                     Progress(quiet=True))
    return row


def test_a_commit_with_the_files_model_sig_lists_is_signed_not_checked(tmp_path):
    # Regular files carry no sha256 in the listing; the LFS weights carry the one signed.
    row = _row(tmp_path, _listing({"README.md": None, "report.json": None, "openvino_model.xml": None,
                                   "openvino_model.bin": "d" * 64}))
    assert row.verdict == UNVERIFIABLE and "signed, not checked" in row.reason


def test_files_added_or_removed_after_signing_are_named_without_the_key(tmp_path):
    row = _row(tmp_path, _listing({"README.md": None, "report.json": None, "openvino_model.bin": "d" * 64,
                                   "extra.txt": None}))
    assert row.verdict == FAILS
    assert "added after signing: extra.txt" in row.reason and "removed after signing: openvino_model.xml" in row.reason
    assert "signed, not checked" in row.reason


def test_an_lfs_file_whose_sha256_is_not_the_signed_one_is_named(tmp_path):
    row = _row(tmp_path, _listing({"README.md": None, "report.json": None, "openvino_model.xml": None,
                                   "openvino_model.bin": "e" * 64}))
    assert row.verdict == FAILS and "changed after signing: openvino_model.bin" in row.reason


def test_the_error_names_odd_claim_ids_on_one_short_line():
    from publisher.results import ClaimCheck, ReleaseVerification

    checks = [ClaimCheck(claim, "", None, None, None, None, FAILS) for claim in ("", "a\nb", "x" * 500, "ok.id")]
    result = ReleaseVerification("org/x", "c" * 40, "http://hub", True, None, None, checks)
    message = release.release_failure(result, {}).paragraph()
    assert "\n" not in message and len(message) < 500
    assert "'', 'a\\nb', 'xxx" in message and "ok.id" in message


def test_front_matter_with_lone_surrogates_or_alias_bombs_is_bad_input():
    import pytest

    from publisher.errors import BadInputError

    release.check_front_matter("org/x", "---\nlicense: mit\nmodel-index: [{name: x}]\n---\n# card\n")
    release.check_front_matter("org/x", "# no front matter\n")
    release.check_front_matter("org/x", "---\nlicense: [unclosed\n---\n")  # not YAML: the checks say so
    with pytest.raises(BadInputError, match="no UTF-8 form"):  # printing it was a UnicodeEncodeError, exit 1
        release.check_front_matter("org/x", '---\nmodel-index:\n- name: "\\ud800"\n---\n')
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefg", "bcdefgh"))
    with pytest.raises(BadInputError, match="expands to more than"):
        release.check_front_matter("org/x", f"---\n{bomb}---\n")
