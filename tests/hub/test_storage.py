"""Storage of the local hub: crash safety, history, content addressing; card validation rules."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap

import pytest

from publisher.hub.server.cards import card_data, validate_readme
from publisher.hub.server.errors import PreconditionFailed, RevisionNotFound
from publisher.hub.server.lfs_store import LfsPointer
from publisher.hub.server.storage import HubStorage, PutLfs, PutRegular, RepoKey
from publisher.hub.server.upload_rules import GitIgnore, LfsAttributes, upload_mode
from tests.fixtures_hub import REPO_ROOT

KEY = RepoKey("model", "tester", "crash")

DIE_BEFORE_REF_UPDATE = """
import os, sys
from pathlib import Path
from publisher.hub.server.storage import HubStorage, PutRegular, RepoKey

storage = HubStorage(Path(sys.argv[1]))
repo = storage.get(RepoKey("model", "tester", "crash"))
refs = repo._git.refs

def die(*args, **kwargs):
    # A kill -9 between "objects written" and "ref moved", holding the ref lock.
    Path(repo.path, "refs", "heads", "main.lock").write_bytes(b"partial")
    os._exit(9)

refs.set_if_equals = die
repo.commit("main", [PutRegular("new.txt", b"never visible")], summary="doomed",
            description="", author="tester")
"""


def _commit(repo, path: str, data: bytes, summary: str) -> str:
    return repo.commit("main", [PutRegular(path, data)], summary=summary, description="",
                       author="tester").commit_id


def test_a_server_killed_mid_commit_leaves_the_previous_state(tmp_path):
    storage = HubStorage(tmp_path, recover=True)
    repo = storage.create(KEY, private=False, author="tester")
    before = _commit(repo, "a.txt", b"a", "first")

    script = tmp_path / "die.py"
    script.write_text(textwrap.dedent(DIE_BEFORE_REF_UPDATE))
    result = subprocess.run([sys.executable, str(script), str(tmp_path)], cwd=REPO_ROOT,
                            env={"PYTHONPATH": str(REPO_ROOT)}, capture_output=True)
    assert result.returncode == 9, result.stderr.decode()
    assert (repo.path / "refs" / "heads" / "main.lock").exists()

    restarted = HubStorage(tmp_path, recover=True)  # what a new server does at start
    repo = restarted.get(KEY)
    assert repo.resolve("main") == before
    assert [e.path for e in repo.files(before)] == [".gitattributes", "a.txt"]
    assert not (repo.path / "refs" / "heads" / "main.lock").exists()
    after = _commit(repo, "b.txt", b"b", "second")
    assert [r.id for r in repo.log(after)][1] == before


def test_every_commit_stays_addressable_and_content_is_stored_once(tmp_path):
    storage = HubStorage(tmp_path)
    repo = storage.create(KEY, private=False, author="tester")
    first = _commit(repo, "w.txt", b"1", "one")
    second = _commit(repo, "w.txt", b"2", "two")
    assert repo.read_blob(repo.get_entry(first, "w.txt").oid) == b"1"
    assert repo.read_blob(repo.get_entry(second, "w.txt").oid) == b"2"
    assert repo.resolve(first) == first
    with pytest.raises(RevisionNotFound):
        repo.resolve("0" * 40)

    data = b"\x00weights" * 1000
    oid = hashlib.sha256(data).hexdigest()
    upload = storage.lfs.begin(oid, len(data))
    upload.write(data)
    upload.commit()
    other = storage.create(RepoKey("model", "tester", "other"), private=False, author="tester")
    for target in (repo, other):
        target.commit("main", [PutLfs("m.bin", oid, len(data))], summary="w", description="",
                      author="tester")
    stored = list((tmp_path / "lfs" / "objects").rglob(oid))
    assert len(stored) == 1  # one copy for both repositories
    entry = other.get_entry(other.resolve("main"), "m.bin")
    assert entry.lfs == LfsPointer(oid, len(data)) and entry.size == len(data)


def test_compare_and_swap_refuses_a_stale_parent(tmp_path):
    repo = HubStorage(tmp_path).create(KEY, private=False, author="tester")
    base = repo.resolve("main")
    _commit(repo, "x.txt", b"x", "x")
    with pytest.raises(PreconditionFailed):
        repo.commit("main", [PutRegular("y.txt", b"y")], summary="y", description="",
                    author="tester", parent_commit=base)


def test_a_corrupt_lfs_upload_is_never_published(tmp_path):
    storage = HubStorage(tmp_path)
    upload = storage.lfs.begin("a" * 64, 3)
    upload.write(b"abc")
    with pytest.raises(Exception, match="does not match"):
        upload.commit()
    assert storage.lfs.size_of("a" * 64) is None
    assert list(storage.lfs.tmp_dir.iterdir()) == []


def test_upload_mode_follows_the_hub_rules():
    attributes = LfsAttributes("*.bin filter=lfs diff=lfs merge=lfs -text\n"
                               "saved_model/**/* filter=lfs diff=lfs merge=lfs -text\n")
    assert upload_mode("openvino_model.bin", 10, b"abc", attributes) == "lfs"
    assert upload_mode("saved_model/v/x.idx", 10, b"abc", attributes) == "lfs"
    assert upload_mode("README.md", 10, b"# hi", attributes) == "regular"
    assert upload_mode("data.raw", 10, b"a\x00b", attributes) == "lfs"
    assert upload_mode("big.txt", 10 * 1024 * 1024, b"text", attributes) == "lfs"
    ignore = GitIgnore("*.log\n/build/\n!keep.log\n")
    assert ignore.ignores("x.log") and ignore.ignores("sub/x.log")
    assert not ignore.ignores("keep.log") and ignore.ignores("build/out.txt")


@pytest.mark.parametrize("text, problem", [
    ("---\nlicense: [a\n---\n", "Invalid YAML"),
    ("---\n- a\n- b\n---\n", "mapping"),
    ("---\nmodel-index: {}\n---\n", "must be a list"),
    ("---\nmodel-index:\n- name: m\n  results:\n  - task: {type: t}\n    dataset: {type: d, name: n, "
     "config: 2}\n    metrics: [{type: accuracy, value: '91%'}]\n---\n", "config"),
    ("---\nmodel-index:\n- name: m\n  results:\n  - task: {name: t}\n    dataset: {type: d, name: n}\n"
     "    metrics: [{type: accuracy, value: 0.9}]\n---\n", "task.type"),
    ("---\nbase_model_relation: copy\n---\n", "base_model_relation"),
])
def test_validate_yaml_refuses_what_the_hub_refuses(text, problem):
    result = validate_readme(text)
    assert not result.ok and any(problem in e for e in result.errors), result.errors


def test_validate_yaml_accepts_a_sound_card():
    text = ("---\nlicense: apache-2.0\ntags: [openvino]\nbase_model: bert-base-uncased\n"
            "base_model_relation: quantized\nmodel-index:\n- name: m\n  results:\n  - task: {type: "
            "text-classification}\n    dataset: {type: glue, name: SST-2, config: sst2, split: "
            "validation, args: sst2}\n    metrics: [{type: accuracy, value: 0.91, verified: false}]\n"
            "---\n# body\n")
    assert validate_readme(text).ok
    assert validate_readme("# no metadata\n").ok
    assert card_data(text)["license"] == "apache-2.0"
    assert card_data("# nothing") is None


def test_a_ref_clash_only_the_file_system_sees_is_a_409(tmp_path, monkeypatch):
    # On a case-insensitive file system "Dev/x" meets the file "dev": the name check (exact,
    # as git on Linux) passes, and the write's NotADirectoryError must still be a 409.
    from publisher.hub.server.errors import Conflict

    repo = HubStorage(tmp_path, recover=True).create(KEY, private=False, author="tester")
    repo.create_branch("dev", "main")

    def refuse(*args, **kwargs):
        raise NotADirectoryError(20, "Not a directory")

    monkeypatch.setattr(repo._git.refs, "add_if_new", refuse)
    with pytest.raises(Conflict):
        repo.create_branch("Dev/x", "main")
    with pytest.raises(Conflict):
        repo.create_tag("Dev/x", "main", None, "tester")


def test_discussion_records_a_server_did_not_write_are_skipped(tmp_path):
    repo = HubStorage(tmp_path, recover=True).create(KEY, private=False, author="tester")
    good = repo.open_discussion("kept", "", "tester", pull_request=False)
    folder = repo.hub_dir / "discussions"
    (folder / "7.json").write_text("[1, 2]")
    (folder / "8.json").write_text('{"num": 8, "title": "no other field"}')
    (folder / "9.json").write_text('{"num": 9, "title": "\\ud800", "description": "",'
                                   ' "is_pull_request": false, "author": "a", "created_at": "x"}')
    assert [(d.num, d.title) for d in repo.discussions()] == [(good, "kept"), (9, "\ufffd")]
