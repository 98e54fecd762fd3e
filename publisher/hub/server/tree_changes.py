"""A commit's operations as changes to its parent's tree, applied with dulwich.

Before, every commit read the parent's whole tree into a dict, applied the operations and wrote
every tree again: a one-file commit to a repository of 1,500 files read and hashed 1,500 entries.
Now the operations are checked against the parent tree plus what the commit has changed so far
(only the paths they name are read), and their net effect goes to
``dulwich.object_store.commit_tree_changes``, which rewrites only the trees on the changed paths.
"""

from __future__ import annotations

from dulwich.object_store import commit_tree_changes, iter_tree_contents
from dulwich.objects import Blob

from publisher.hub.server.errors import BadRequest, EntryNotFound

FILE_MODE = 0o100644
TREE_MODE = 0o040000


class TreeChanges:
    """Pending changes on top of ``base_tree``: the git rules of a commit, checked as they come.

    ``files``: path to the new blob id, or None for a file of the base tree deleted here.
    ``folders_deleted``: folders of the base tree deleted whole.
    """

    def __init__(self, object_store, base_tree: bytes) -> None:
        self._store = object_store
        self._base = base_tree
        self.files: dict[str, bytes | None] = {}
        self.folders_deleted: set[str] = set()

    # -- the base tree -------------------------------------------------------------------------

    def _base_entry(self, path: str) -> tuple[int, bytes] | None:
        tree_id = self._base
        parts = path.split("/")
        for depth, part in enumerate(parts):
            try:
                mode, sha = self._store[tree_id][part.encode()]
            except KeyError:
                return None
            if depth == len(parts) - 1:
                return mode, sha
            if mode != TREE_MODE:
                return None
            tree_id = sha
        return None

    def _in_deleted_folder(self, path: str) -> bool:
        parts = path.split("/")
        return any("/".join(parts[:depth]) in self.folders_deleted for depth in range(1, len(parts) + 1))

    def _under_deleted_folder(self, path: str) -> bool:
        """A strict ancestor of ``path`` was deleted as a folder (its deletion covers ``path``)."""
        parts = path.split("/")
        return any("/".join(parts[:depth]) in self.folders_deleted for depth in range(1, len(parts)))

    # -- what the commit sees so far -----------------------------------------------------------

    def is_file(self, path: str) -> bool:
        if path in self.files:
            return self.files[path] is not None
        if self._in_deleted_folder(path):
            return False
        entry = self._base_entry(path)
        return entry is not None and entry[0] != TREE_MODE

    def is_folder(self, path: str) -> bool:
        prefix = path + "/"
        if any(p.startswith(prefix) and sha is not None for p, sha in self.files.items()):
            return True
        if self._in_deleted_folder(path):
            return False
        entry = self._base_entry(path)
        if entry is None or entry[0] != TREE_MODE:
            return False
        if not any(p.startswith(prefix) for p in self.files) and \
                not any(f.startswith(prefix) for f in self.folders_deleted):
            return True
        # Some of its files or folders were deleted here: it survives if one of its files is left.
        return any(not self._gone(prefix + item.path.decode())
                   for item in iter_tree_contents(self._store, entry[1]))

    def _gone(self, path: str) -> bool:
        return (path in self.files and self.files[path] is None) or self._in_deleted_folder(path)

    # -- operations ----------------------------------------------------------------------------

    def put(self, path: str, data: bytes) -> None:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            if self.is_file("/".join(parts[:depth])):
                raise BadRequest(f"Cannot add {path}: {'/'.join(parts[:depth])} is a file")
        if self.is_folder(path):
            raise BadRequest(f"Cannot add {path}: a folder with that name exists")
        blob = Blob.from_string(data)
        self._store.add_object(blob)
        self.files[path] = blob.id

    def delete_file(self, path: str) -> None:
        if self.is_file(path):
            self.files[path] = None
        elif self.is_folder(path):
            # The client sends a folder named without its trailing '/' as a file to delete;
            # the Hub deletes the folder.
            self.delete_folder(path)
        else:
            raise EntryNotFound(f"A file with this name doesn't exist: {path}")

    def delete_folder(self, path: str) -> None:
        if not self.is_folder(path):
            raise EntryNotFound(f"A folder with this name doesn't exist: {path}/")
        prefix = path + "/"
        for name in [p for p in self.files if p.startswith(prefix)]:
            del self.files[name]
        self.folders_deleted.add(path)

    # -- the result ----------------------------------------------------------------------------

    def write(self) -> bytes:
        """The new root tree id; only trees on changed paths are written.

        A commit that deletes folders, or turns a file into a folder or back, is written whole
        from its final file list instead: dulwich's incremental update applies changes in list
        order, and the orders that such commits need are where its bugs would hide.
        """
        if self._reshapes_tree():
            return self._write_whole()
        return self._write_incremental()

    def _reshapes_tree(self) -> bool:
        if self.folders_deleted:
            return True
        for path, sha in self.files.items():
            parts = path.split("/")
            ancestors = ("/".join(parts[:d]) for d in range(1, len(parts)))
            entry = self._base_entry(path)
            if entry is not None and entry[0] == TREE_MODE:
                return True  # a file where a folder was
            if any((e := self._base_entry(a)) is not None and e[0] != TREE_MODE for a in ancestors):
                return True  # a folder where a file was
        return False

    def _write_whole(self) -> bytes:
        from dulwich.index import commit_tree

        final = {item.path.decode(): (item.sha, item.mode)
                 for item in iter_tree_contents(self._store, self._base)
                 if not self._gone(item.path.decode())}
        for path, sha in self.files.items():
            if sha is None:
                final.pop(path, None)
            else:
                final[path] = (sha, FILE_MODE)
        return commit_tree(self._store, [(p.encode(), sha, mode) for p, (sha, mode) in sorted(final.items())])

    def _write_incremental(self) -> bytes:
        changes: list[tuple[bytes, int | None, bytes | None]] = []
        # A file put where a folder was replaces that entry whole: changes below it must go, or
        # dulwich would descend into what is now a blob.
        new_files = {path for path, sha in self.files.items() if sha is not None}

        def under_new_file(path: str) -> bool:
            parts = path.split("/")
            return any("/".join(parts[:d]) in new_files for d in range(1, len(parts)))

        for folder in sorted(self.folders_deleted):
            parts = folder.split("/")
            nested = any("/".join(parts[:d]) in self.folders_deleted for d in range(1, len(parts)))
            entry = self._base_entry(folder)
            if not nested and entry is not None and entry[0] == TREE_MODE \
                    and not under_new_file(folder) and folder not in new_files:
                changes.append((folder.encode(), None, None))
        # Deletions first: commit_tree_changes applies a folder's changes in list order.
        for path, sha in sorted(self.files.items(), key=lambda item: item[1] is not None):
            if sha is not None:
                changes.append((path.encode(), FILE_MODE, sha))
            elif (not self._under_deleted_folder(path) and not under_new_file(path)
                  and self._base_entry(path) is not None):
                changes.append((path.encode(), None, None))
        if not changes:
            return self._base
        return commit_tree_changes(self._store, self._base, changes)
