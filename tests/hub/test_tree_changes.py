"""Commits apply their operations as tree changes (dulwich), with the rules of a whole rebuild.

The reference is the obvious model: the parent's files as a dict, each operation applied to it,
every tree written again. Generated sequences of operations on generated trees must give the same
files, or fail the same way, through ``TreeChanges``.
"""

from __future__ import annotations

import pytest
from dulwich.object_store import MemoryObjectStore, iter_tree_contents
from dulwich.objects import Blob
from hypothesis import example, given, settings
from hypothesis import strategies as st

from publisher.hub.server.errors import BadRequest, EntryNotFound
from publisher.hub.server.tree_changes import FILE_MODE, TreeChanges

NAMES = st.sampled_from(["a", "b", "c"])
PATHS = st.lists(NAMES, min_size=1, max_size=3).map("/".join)


def write_tree(store, files: dict[str, bytes]) -> bytes:
    """The base tree, written by dulwich's own full-tree writer (independent of TreeChanges)."""
    from dulwich.index import commit_tree

    blobs = []
    for path, data in sorted(files.items()):
        blob = Blob.from_string(data)
        store.add_object(blob)
        blobs.append((path.encode(), blob.id, FILE_MODE))
    return commit_tree(store, blobs)


def read_tree(store, tree_id: bytes) -> dict[str, bytes]:
    return {item.path.decode(): store[item.sha].as_raw_string()
            for item in iter_tree_contents(store, tree_id)}


def model_apply(files: dict[str, bytes], op: tuple) -> None:
    """The rules of a commit, on a plain dict (what the server did before, by rebuilding)."""
    kind, path = op[0], op[1]
    folder = [p for p in files if p.startswith(path + "/")]
    if kind == "put":
        parts = path.split("/")
        if any("/".join(parts[:d]) in files for d in range(1, len(parts))) or folder:
            raise BadRequest("conflict")
        files[path] = op[2]
    elif kind == "delete_file":
        if path in files:
            del files[path]
        elif folder:
            for p in folder:
                del files[p]
        else:
            raise EntryNotFound("missing")
    else:
        if not folder:
            raise EntryNotFound("missing")
        for p in folder:
            del files[p]


def tree_files(entries: list[str]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for path in entries:
        try:
            model_apply(files, ("put", path, path.encode()))
        except BadRequest:
            pass
    return files


OPS = st.one_of(
    st.tuples(st.just("put"), PATHS, st.sampled_from([b"1", b"2"])),
    st.tuples(st.just("delete_file"), PATHS),
    st.tuples(st.just("delete_folder"), PATHS),
)


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@example(base={"a/b": b"a/b"}, ops=[("delete_file", "a/b"), ("put", "a", b"1")])
@example(base={"a/b": b"a/b"}, ops=[("put", "a/c", b"1"), ("delete_folder", "a"), ("put", "a", b"2")])
# A base file deleted, a folder put in its place and deleted by name: the base file stays deleted.
@example(base={"a": b"a"}, ops=[("delete_file", "a"), ("put", "a/a", b"1"), ("delete_file", "a")])
# A folder whose only subfolder was deleted is gone: a file may take its name, deleting it fails.
@example(base={"a/b/a": b"a/b/a"}, ops=[("delete_file", "a/b"), ("put", "a", b"1")])
@example(base={"a/b/a": b"a/b/a"}, ops=[("delete_file", "a/b"), ("delete_file", "a")])
@given(base=st.lists(PATHS, max_size=6).map(tree_files), ops=st.lists(OPS, max_size=6))
def test_tree_changes_match_a_full_rebuild(base, ops):
    store = MemoryObjectStore()
    base_tree = write_tree(store, base)
    expected = dict(base)
    changes = TreeChanges(store, base_tree)
    for op in ops:
        try:
            model_apply(expected, op)
            failure = None
        except (BadRequest, EntryNotFound) as exc:
            failure = type(exc)
        if failure is None:
            getattr(changes, op[0])(*op[1:])
        else:
            with pytest.raises(failure):
                getattr(changes, op[0])(*op[1:])
            return  # a failed operation fails the whole commit
    assert read_tree(store, changes.write()) == expected
    assert read_tree(store, base_tree) == base  # the parent's trees are untouched


def test_an_unchanged_commit_keeps_the_tree_and_a_change_rewrites_only_its_path():
    store = MemoryObjectStore()
    base = write_tree(store, {"big/x.txt": b"x", "small/y.txt": b"y"})
    assert TreeChanges(store, base).write() == base
    changes = TreeChanges(store, base)
    changes.put("small/z.txt", b"z")
    new = changes.write()
    assert store[new][b"big"] == store[base][b"big"]  # the untouched folder is the same object
    assert store[new][b"small"] != store[base][b"small"]
