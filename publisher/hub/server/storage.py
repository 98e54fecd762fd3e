"""Repositories of the local hub: bare git repositories (dulwich) whose large files are LFS pointers.

Layout under the server root::

    repos/models/<namespace>/<name>.git/      bare git repository (objects, refs)
    repos/models/<namespace>/<name>.git/hub/  meta.json (visibility), discussions/<N>.json
    repos/datasets/...                        the same for dataset repositories
    lfs/objects/ab/cd/<sha256>                LFS content, stored once for every repository

Why git: commit ids are then real git shas, as on the Hub, so every commit stays addressable and
the history can be inspected with ordinary ``git`` tools. Objects are immutable and written to a
lock file that is renamed into place; a branch moves only through dulwich's locked
compare-and-swap of its ref file. A commit therefore becomes visible in one ``rename``: a server
killed before it leaves the previous state intact (plus unreferenced objects, which are harmless),
and a server killed after it has completed the commit.

Writers of one repository are serialised by a per-repository lock; readers take no lock because
what they read (objects, one ref file) is never modified in place.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Union
from urllib.parse import unquote

from dulwich.errors import NotGitRepository
from dulwich.objects import Commit, Tag, Tree
from dulwich.refs import check_ref_format
from dulwich.repo import Repo

from publisher.hub.server.errors import (
    BadRequest,
    RepoMoved,
    Conflict,
    EntryNotFound,
    Forbidden,
    PayloadError,
    PreconditionFailed,
    RepoNotFound,
    RevisionNotFound,
    RouteNotFound,
)
from publisher.hub.server.lfs_store import LfsPointer, LfsStore, parse_pointer
from publisher.hub.server.refnames import ref_conflict, ref_name_problem
from publisher.hub.server.tree_changes import TREE_MODE, TreeChanges

REPO_TYPES = ("model", "dataset")
DEFAULT_BRANCH = "main"
# The Hub's own texts, so that the client's messages (and tests written for the Hub) match.
STALE_PARENT = "The branch was updated since you opened this page. Please refresh and try again."
REPO_NOT_FOUND = "Repository not found"

# The .gitattributes the Hub writes into every new repository: these patterns go to LFS.
DEFAULT_GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in (
        "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib",
        "*.lfs.*", "*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot",
        "*.parquet", "*.pb", "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors",
        "saved_model/**/*", "*.tar.*", "*.tar", "*.tflite", "*.tgz", "*.wasm", "*.xz", "*.zip",
        "*.zst", "*tfevents*",
    )
)

# huggingface_hub's REPO_ID_REGEX for one part: ``\b[\w\-.]{1,96}\b`` (\w is Unicode, as there).
_NAME = re.compile(r"\b[\w\-.]{1,96}\b")
_RESERVED_NAMESPACES = {"api", "models", "datasets", "spaces", "static", "lfs"}
MAX_PATH_BYTES = 1024
_SHORT_HEX = re.compile(r"[0-9a-f]{7,39}")
_PR_REF = re.compile(r"refs/pr/([0-9]+)")
_HEX40 = re.compile(r"[0-9a-f]{40}")  # with fullmatch: "$" would let a trailing "\n" pass


@dataclass(frozen=True)
class RepoKey:
    type: str  # "model" | "dataset"
    namespace: str
    name: str

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def url_prefix(self) -> str:
        """The prefix of git-style URLs (resolve, LFS): none for models, as on the Hub."""
        return "" if self.type == "model" else f"{self.type}s/"

    @staticmethod
    def parse(repo_type: object, namespace: object, name: object, *,
              creating: bool = False) -> "RepoKey":
        """A repository key under the Hub's naming rule (``huggingface_hub``'s validate_repo_id).

        An invalid name cannot name an existing repository, so lookups answer 404 RepoNotFound;
        creating one answers 400, as the Hub does.
        """
        if repo_type not in REPO_TYPES:
            raise BadRequest(f"Repository type {repo_type!r} is not served by the local hub "
                             f"(supported: {', '.join(REPO_TYPES)})")
        problem = name_problem(namespace, name)
        if problem:
            shown = f"{namespace}/{name}" if isinstance(namespace, str) and isinstance(name, str) \
                else repr((namespace, name))
            if creating:
                raise BadRequest(f"Invalid repository name {shown!r}: {problem}")
            raise RepoNotFound(REPO_NOT_FOUND)
        assert isinstance(namespace, str) and isinstance(name, str)
        if namespace.lower() in _RESERVED_NAMESPACES:
            raise BadRequest(f"The namespace {namespace!r} is reserved")
        return RepoKey(repo_type, namespace, name)  # type: ignore[arg-type]


def name_problem(namespace: object, name: object) -> str | None:
    """Why ``namespace/name`` breaks the Hub's rule, or None when it is a valid repository id.

    The rule is huggingface_hub's ``validate_repo_id`` (the client refuses anything else before
    sending it): word characters, ``-``, ``_`` and ``.``; 1 to 96 characters per part; no
    ``--`` or ``..``; no leading or trailing ``-`` or ``.``; no ``.git`` suffix.
    """
    for part in (namespace, name):
        if not isinstance(part, str) or not _NAME.fullmatch(part):
            return ("use letters, digits, '-', '_' or '.', at most 96 characters, not starting or "
                    "ending with '-' or '.'")
        if "--" in part or ".." in part:
            return "'--' and '..' are not allowed"
        if part.endswith(".git"):
            return "a name cannot end with '.git'"
    return None


@dataclass(frozen=True)
class RepoMeta:
    private: bool
    created_at: str
    gated: str | bool = False  # False, "auto" or "manual", as the Hub's settings take it


@dataclass(frozen=True)
class Entry:
    """A file or folder of a commit's tree."""

    path: str
    type: str  # "file" | "directory"
    oid: str  # git object id (blob sha1 of the pointer for LFS files)
    size: int
    lfs: LfsPointer | None = None

    @property
    def etag(self) -> str:
        """The download identity the client caches under: sha256 for LFS, blob sha1 otherwise."""
        return self.lfs.oid if self.lfs else self.oid


@dataclass(frozen=True)
class CommitRecord:
    id: str
    parents: tuple[str, ...]
    tree: str
    title: str
    message: str
    author: str
    date: datetime


@dataclass(frozen=True)
class Discussion:
    num: int
    title: str
    description: str
    is_pull_request: bool
    author: str
    created_at: str
    status: str = "open"
    base: str = "refs/heads/main"


@dataclass(frozen=True)
class PutRegular:
    path: str
    content: bytes


@dataclass(frozen=True)
class PutLfs:
    path: str
    oid: str
    size: int | None  # None for copies: the size is the stored object's


@dataclass(frozen=True)
class DeleteFile:
    path: str


@dataclass(frozen=True)
class DeleteFolder:
    path: str


CommitOp = Union[PutRegular, PutLfs, DeleteFile, DeleteFolder]


@dataclass(frozen=True)
class CommitResult:
    commit_id: str
    ref: str
    pr_num: int | None = None


@dataclass
class _BlobInfoCache:
    """Size and LFS pointer per blob id; blobs are immutable so entries never go stale."""

    limit: int = 50_000
    items: dict[bytes, tuple[int, LfsPointer | None]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, sha: bytes) -> tuple[int, LfsPointer | None] | None:
        return self.items.get(sha)

    def put(self, sha: bytes, value: tuple[int, LfsPointer | None]) -> None:
        with self.lock:
            if len(self.items) >= self.limit:
                self.items.clear()
            self.items[sha] = value


_BLOB_INFO = _BlobInfoCache()


def utc_iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def clean_path(path: object) -> str:
    """A repository path as stored: relative, '/'-separated, no '.', '..' or '.git' parts.

    Refused with 422, as the Hub refuses them: a part that is a dot segment once percent-decoded
    (``%2e%2e``), a path that starts with ``..\\`` (a Windows client would resolve it outside
    its folder), control characters, and paths over 1024 bytes.
    """
    if not isinstance(path, str) or not path:
        raise PayloadError(f"Invalid path {path!r}: a path must be a non-empty string")
    problem = _path_problem(path)
    if problem:
        raise PayloadError(f"Invalid path {path[:200]!r}: {problem}")
    return path


def _path_problem(path: str) -> str | None:
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        return f"longer than {MAX_PATH_BYTES} bytes"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        return "control characters are not allowed"
    if path.startswith("/"):
        return "use a path relative to the repository root"
    for part in path.split("/"):
        if part == "":
            return "empty path segments ('//' or a trailing '/') are not allowed"
        if part == ".git":
            return "'.git' is reserved"
        decoded = part
        for _ in range(4):  # %252e%252e is %2e%2e after one round: decode to a fixed point
            decoded, before = unquote(decoded), decoded
            if decoded == before:
                break
        if decoded in (".", ".."):
            return "'.' and '..' segments are not allowed (also percent-encoded)"
    # A path that starts by climbing out with backslashes (``..\\x``) is refused as the Hub
    # refuses it: a Windows client would resolve it outside its folder. Inside the path
    # (``folder/..\\..\\file``) the Hub stores it, and clients guard their own folders.
    decoded_path = unquote(path)
    if decoded_path.startswith(("..\\", ".\\")) or decoded_path in ("..", "."):
        return "a path cannot start with '..\\' or '.\\'"
    return None


def _atomic_write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w") as handle:
        json.dump(payload, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class Repository:
    """One bare git repository plus its hub metadata (visibility, discussions)."""

    def __init__(self, key: RepoKey, path: Path, lfs: LfsStore) -> None:
        self.key = key
        self.path = path
        self.lfs = lfs
        self.write_lock = threading.RLock()
        try:
            self._git = Repo(str(path))
        except NotGitRepository as exc:
            raise RepoNotFound(REPO_NOT_FOUND) from exc
        # Objects must reach the disk before a ref names them, or a power cut could leave a
        # branch pointing at nothing; refs themselves are fsynced by dulwich.
        self._git.object_store.fsync_object_files = True

    # -- metadata ---------------------------------------------------------------------------

    @property
    def hub_dir(self) -> Path:
        return self.path / "hub"

    def meta(self) -> RepoMeta:
        data = json.loads((self.hub_dir / "meta.json").read_text())
        return RepoMeta(private=bool(data.get("private")), created_at=data["createdAt"],
                        gated=data.get("gated") or False)

    def update_meta(self, *, private: bool | None = None, gated: str | bool | None = None) -> RepoMeta:
        with self.write_lock:
            meta = self.meta()
            new = RepoMeta(private=meta.private if private is None else private,
                           created_at=meta.created_at, gated=meta.gated if gated is None else gated)
            _atomic_write_json(self.hub_dir / "meta.json", {
                "private": new.private, "createdAt": new.created_at, "gated": new.gated})
            return new

    def set_private(self, private: bool) -> None:
        self.update_meta(private=private)

    # -- refs -------------------------------------------------------------------------------

    def _refs_under(self, base: str) -> dict[str, str]:
        found = self._git.refs.as_dict(base.encode())
        return {name.decode(): sha.decode() for name, sha in sorted(found.items())}

    def branches(self) -> dict[str, str]:
        return self._refs_under("refs/heads")

    def tags(self) -> dict[str, str]:
        """Tag name to the commit it names (annotated tags are peeled)."""
        return {name: self._peel(sha) for name, sha in self._refs_under("refs/tags").items()}

    def pull_requests(self) -> dict[int, str]:
        prs = {}
        for name, sha in self._refs_under("refs/pr").items():
            if name.isdigit():
                prs[int(name)] = sha
        return dict(sorted(prs.items()))

    def _peel(self, sha: str) -> str:
        obj = self._git.object_store[sha.encode()]
        while isinstance(obj, Tag):
            obj = self._git.object_store[obj.object[1]]
        return obj.id.decode()

    def _read_ref(self, ref: str) -> str | None:
        try:
            value = self._git.refs.read_ref(ref.encode())
        except (KeyError, ValueError, NotADirectoryError, IsADirectoryError):
            # A name no ref file can have (``dev/x`` beside the file ``dev``) is a missing ref.
            return None
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                return None
            raise
        if value is None or value.startswith(b"ref: "):
            return None
        return value.decode()

    def resolve(self, revision: str, *, allow_short: bool = False) -> str:
        """The commit id a revision names: a branch, a tag, ``refs/...`` or a 40-hex commit id.

        ``allow_short``: also a unique abbreviated commit id (7 to 39 hex digits), as the Hub
        takes when creating a tag or a branch. Refs win over an abbreviation that looks alike.
        """
        if _HEX40.fullmatch(revision):
            obj = self._object_or_none(revision)
            if isinstance(obj, Commit):
                return revision
        found = self._resolve_ref(revision)
        if found is not None:
            return found
        if allow_short and _SHORT_HEX.fullmatch(revision):
            matches = [sha for sha in self._git.object_store.iter_prefix(revision.encode())
                       if isinstance(self._object_or_none(sha.decode()), Commit)]
            if len(matches) == 1:
                return matches[0].decode()
        raise RevisionNotFound(f"Invalid rev id: {revision}")

    def _resolve_ref(self, revision: str) -> str | None:
        candidates = ([revision] if revision.startswith("refs/")
                      else [f"refs/heads/{revision}", f"refs/tags/{revision}"])
        for ref in candidates:
            if not _valid_ref(ref):
                continue
            sha = self._read_ref(ref)
            if sha is not None:
                return self._peel(sha)
        return None

    def writable_ref(self, revision: str) -> tuple[str, str]:
        """The ref a commit on ``revision`` moves (a branch or ``refs/pr/N``) and its tip."""
        if _PR_REF.fullmatch(revision):
            ref = revision
        elif revision.startswith("refs/heads/"):
            ref = revision
        elif _HEX40.fullmatch(revision):
            # As on the Hub: a commit id is no branch to commit (or open a PR) on.
            raise RevisionNotFound(f"Invalid rev id: {revision}")
        elif revision.startswith("refs/"):
            raise BadRequest(f"Cannot commit to {revision!r}: commit to a branch or refs/pr/N")
        else:
            ref = f"refs/heads/{revision}"
        tip = self._read_ref(ref) if _valid_ref(ref) else None
        if tip is None:
            if self._read_ref(f"refs/tags/{revision}") is not None:
                raise BadRequest(f"Cannot commit to tag {revision!r}: commit to a branch")
            raise RevisionNotFound(f"Invalid rev id: {revision}")
        return ref, tip

    def _object_or_none(self, sha: str):
        try:
            return self._git.object_store[sha.encode()]
        except KeyError:
            return None

    # -- trees ------------------------------------------------------------------------------

    def _blob_info(self, sha: bytes) -> tuple[int, LfsPointer | None]:
        cached = _BLOB_INFO.get(sha)
        if cached is None:
            data = self._git.object_store[sha].as_raw_string()
            pointer = parse_pointer(data)
            cached = (pointer.size if pointer else len(data), pointer)
            _BLOB_INFO.put(sha, cached)
        return cached

    def _entry(self, path: str, mode: int, sha: bytes) -> Entry:
        if mode == TREE_MODE:
            return Entry(path=path, type="directory", oid=sha.decode(), size=0)
        size, pointer = self._blob_info(sha)
        return Entry(path=path, type="file", oid=sha.decode(), size=size, lfs=pointer)

    def commit_record(self, commit_id: str) -> CommitRecord:
        obj = self._object_or_none(commit_id)
        if not isinstance(obj, Commit):
            raise RevisionNotFound(f"Invalid rev id: {commit_id}")
        text = obj.message.decode("utf-8", "replace")
        title, _, rest = text.partition("\n")
        author = obj.author.decode("utf-8", "replace").split(" <", 1)[0]
        return CommitRecord(
            id=commit_id, parents=tuple(p.decode() for p in obj.parents), tree=obj.tree.decode(),
            title=title, message=rest.strip("\n"), author=author,
            date=datetime.fromtimestamp(obj.commit_time, tz=timezone.utc),
        )

    def _subtree_id(self, commit_id: str, path: str) -> bytes | None:
        """The tree id at ``path`` in a commit, or None when that path is not a folder."""
        tree_id = self.commit_record(commit_id).tree.encode()
        if not path:
            return tree_id
        for part in path.split("/"):
            tree = self._git.object_store[tree_id]
            try:
                mode, sha = tree[part.encode()]
            except KeyError:
                return None
            if mode != TREE_MODE:
                return None
            tree_id = sha
        return tree_id

    def get_entry(self, commit_id: str, path: str) -> Entry | None:
        path = path.strip("/")
        if not path:
            return None
        parent, _, name = path.rpartition("/")
        tree_id = self._subtree_id(commit_id, parent)
        if tree_id is None:
            return None
        try:
            mode, sha = self._git.object_store[tree_id][name.encode()]
        except KeyError:
            return None
        return self._entry(path, mode, sha)

    def list_tree(self, commit_id: str, path: str = "", recursive: bool = False) -> list[Entry]:
        """Entries under ``path`` (a folder), folders included; raises EntryNotFound for a miss."""
        path = path.strip("/")
        tree_id = self._subtree_id(commit_id, path)
        if tree_id is None:
            raise EntryNotFound(f"{path} does not exist at this revision",
                                headers={"X-Repo-Commit": commit_id})
        prefix = f"{path}/" if path else ""
        return list(self._walk(tree_id, prefix, recursive))

    def _walk(self, tree_id: bytes, prefix: str, recursive: bool) -> Iterator[Entry]:
        for item in self._git.object_store[tree_id].iteritems():
            entry = self._entry(prefix + item.path.decode(), item.mode, item.sha)
            yield entry
            if recursive and item.mode == TREE_MODE:
                yield from self._walk(item.sha, entry.path + "/", recursive)

    def files(self, commit_id: str) -> list[Entry]:
        return [e for e in self.list_tree(commit_id, recursive=True) if e.type == "file"]

    def read_blob(self, oid: str) -> bytes:
        return self._git.object_store[oid.encode()].as_raw_string()

    # -- history ----------------------------------------------------------------------------

    def log(self, commit_id: str) -> Iterator[CommitRecord]:
        """Commits from ``commit_id`` back to the first one, newest first (first parents)."""
        current: str | None = commit_id
        while current:
            record = self.commit_record(current)
            yield record
            current = record.parents[0] if record.parents else None

    def _path_id(self, commit_id: str, path: str) -> bytes | None:
        parent, _, name = path.rpartition("/")
        tree_id = self._subtree_id(commit_id, parent)
        if tree_id is None:
            return None
        try:
            return self._git.object_store[tree_id][name.encode()][1]
        except KeyError:
            return None

    def last_commit_of(self, commit_id: str, path: str, *, limit: int = 10_000) -> CommitRecord | None:
        """The newest commit, from ``commit_id`` back along first parents, that changed ``path``.

        A path is changed by a commit when its object id differs from the parent's (content
        addressing makes that exact, for folders too). ``limit`` bounds the walk on long
        histories; past it the oldest commit seen is answered.
        """
        path = path.strip("/")
        current = self.commit_record(commit_id)
        target = self._path_id(commit_id, path)
        if target is None:
            return None
        for _ in range(limit):
            if not current.parents:
                return current
            parent = current.parents[0]
            if self._path_id(parent, path) != target:
                return current
            current = self.commit_record(parent)
        return current

    # -- writes -----------------------------------------------------------------------------

    def _signature(self, author: str) -> bytes:
        return f"{author} <{author}@users.noreply.localhost>".encode()

    def _write_commit(self, tree_id: bytes, parents: list[str], message: str, author: str) -> str:
        commit = Commit()
        commit.tree = tree_id
        commit.parents = [p.encode() for p in parents]
        commit.author = commit.committer = self._signature(author)
        commit.author_time = commit.commit_time = int(time.time())
        commit.author_timezone = commit.commit_timezone = 0
        commit.encoding = b"UTF-8"
        commit.message = message.encode()
        self._git.object_store.add_object(commit)
        return commit.id.decode()

    def _apply(self, changes: TreeChanges, op: CommitOp) -> None:
        if isinstance(op, PutRegular):
            changes.put(clean_path(op.path), op.content)
        elif isinstance(op, PutLfs):
            stored = self.lfs.size_of(op.oid)
            if stored is None:
                raise PayloadError(f"LFS object {op.oid} for {op.path} was never uploaded: "
                                   "upload it through the LFS batch API first")
            if op.size is not None and op.size != stored:
                raise PayloadError(f"LFS object {op.oid} has size {stored}, not {op.size}")
            changes.put(clean_path(op.path), LfsPointer(op.oid, stored).encode())
        elif isinstance(op, DeleteFile):
            changes.delete_file(clean_path(op.path))
        elif isinstance(op, DeleteFolder):
            changes.delete_folder(clean_path(op.path.rstrip("/")))
        else:  # pragma: no cover - the parser builds only the types above
            raise BadRequest(f"Unknown operation {op!r}")

    def commit(self, revision: str, ops: list[CommitOp], *, summary: str, description: str,
               author: str, parent_commit: str | None = None, create_pr: bool = False) -> CommitResult:
        """Apply ``ops`` on the tip of ``revision`` as one commit (or a new pull request).

        The ref update is the only visible step and it is a compare-and-swap against the tip the
        operations were applied to, so two writers can never silently overwrite each other.
        """
        with self.write_lock:
            ref, tip = self.writable_ref(revision)
            if parent_commit is not None and parent_commit != tip:
                raise PreconditionFailed(STALE_PARENT)
            changes = TreeChanges(self._git.object_store,
                                  self.commit_record(tip).tree.encode())
            for op in ops:
                self._apply(changes, op)
            tree_id = changes.write()
            message = summary.strip() or "Update files"
            if description.strip():
                message += "\n\n" + description.strip()
            commit_id = self._write_commit(tree_id, [tip], message + "\n", author)
            if create_pr:
                num = self._open_discussion(summary, description, author, is_pr=True,
                                            base=ref, commit_id=commit_id)
                return CommitResult(commit_id=commit_id, ref=f"refs/pr/{num}", pr_num=num)
            if not self._git.refs.set_if_equals(ref.encode(), tip.encode(), commit_id.encode()):
                raise PreconditionFailed(STALE_PARENT)
            return CommitResult(commit_id=commit_id, ref=ref)

    def initial_commit(self, author: str) -> str:
        # The first commit follows the rules of every other: changes on a (here empty) tree.
        empty = Tree()
        self._git.object_store.add_object(empty)
        changes = TreeChanges(self._git.object_store, empty.id)
        changes.put(".gitattributes", DEFAULT_GITATTRIBUTES.encode())
        commit_id = self._write_commit(changes.write(), [], "initial commit\n", author)
        if not self._git.refs.add_if_new(f"refs/heads/{DEFAULT_BRANCH}".encode(), commit_id.encode()):
            raise Conflict("The repository already has a main branch")
        return commit_id

    def create_branch(self, name: str, start: str) -> None:
        ref = _branch_ref(name)
        with self.write_lock:
            commit_id = self.resolve(start, allow_short=True)
            if self._read_ref(ref) is not None:
                raise Conflict(f"Reference {ref} already exists")
            self._check_no_clash(ref, "refs/heads/")
            self._add_ref(ref, commit_id.encode(), f"Reference {ref} already exists")

    def _check_no_clash(self, ref: str, base: str) -> None:
        """409 when ``ref`` cannot live beside an existing ref: ``dev/x`` while ``dev`` exists
        (its ref is a file, not a folder), or ``dev`` while ``dev/...`` exists. Checked before
        anything is written, as git does."""
        name = ref[len(base):]
        existing = [key.decode("utf-8", "replace")
                    for key in self._git.refs.keys(base=base.rstrip("/").encode())]
        clash = ref_conflict(name, existing)
        if clash is not None:
            what = "branch" if base == "refs/heads/" else "tag"
            if clash.startswith(name + "/"):
                reason = (f"the {what} {clash!r} exists, and {ref} is the folder that holds it, "
                          f"so it cannot also be a {what}")
            else:
                reason = (f"the {what} {clash!r} exists, and {base}{clash} is a file, so no "
                          f"{what} can be nested under it")
            raise Conflict(f"Cannot create the {what} {name!r}: {reason}, as in git. Delete "
                           f"{clash!r} first, or pick a name that is neither its parent nor "
                           "nested under it")

    def _add_ref(self, ref: str, target: bytes, exists_message: str) -> None:
        """Create ``ref``; a clash the file system finds anyway (a case-insensitive one, where
        ``Dev`` and ``dev/x`` meet) is the same 409 as one found by the name check."""
        try:
            added = self._git.refs.add_if_new(ref.encode(), target)
        except (NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
            raise Conflict(f"Cannot create {ref}: it clashes with an existing ref of another "
                           f"spelling or nesting ({type(exc).__name__})") from None
        if not added:
            raise Conflict(exists_message)

    def delete_branch(self, name: str) -> None:
        ref = _branch_ref(name)
        if name == DEFAULT_BRANCH or ref == f"refs/heads/{DEFAULT_BRANCH}":
            raise Forbidden(f"Cannot delete refs/heads/{DEFAULT_BRANCH}: it is the default branch")
        with self.write_lock:
            current = self._read_ref(ref)
            if current is None:
                raise RevisionNotFound(f"Invalid rev id: {name}")
            self._git.refs.remove_if_equals(ref.encode(), current.encode())

    def create_tag(self, name: str, revision: str, message: str | None, author: str) -> None:
        ref = f"refs/tags/{name}"
        with self.write_lock:
            # The Hub checks the revision first: a bad name on a missing revision is a 404.
            commit_id = self.resolve(revision, allow_short=True)
            problem = ref_name_problem(name, "tag")
            if problem:
                raise BadRequest(f"Invalid tag name {_shown(name)}: {problem}")
            if self._read_ref(ref) is not None:
                raise Conflict(f"Tag already exists: {name}")
            self._check_no_clash(ref, "refs/tags/")
            target = commit_id.encode()
            if message:
                tag = Tag()
                tag.name = name.encode()
                tag.object = (Commit, commit_id.encode())
                tag.tagger = self._signature(author)
                tag.tag_time = int(time.time())
                tag.tag_timezone = 0
                tag.message = message.encode() + b"\n"
                self._git.object_store.add_object(tag)
                target = tag.id
            self._add_ref(ref, target, f"Tag already exists: {name}")

    def delete_tag(self, name: str) -> None:
        ref = f"refs/tags/{name}"
        with self.write_lock:
            current = self._read_ref(ref) if _valid_ref(ref) else None
            if current is None:
                raise RevisionNotFound(f"Invalid rev id: {name}")
            self._git.refs.remove_if_equals(ref.encode(), current.encode())

    # -- discussions and pull requests --------------------------------------------------------

    def _next_discussion_num(self) -> int:
        nums = [0, *self.pull_requests()]
        folder = self.hub_dir / "discussions"
        if folder.is_dir():
            nums += [int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit()]
        return max(nums) + 1

    def _open_discussion(self, title: str, description: str, author: str, *, is_pr: bool,
                         base: str, commit_id: str | None) -> int:
        """Record discussion N; for a pull request the ``refs/pr/N`` ref is written last.

        A pull request exists only once its ref does, so a crash between the two writes leaves
        an unreferenced record (ignored, its number skipped), never a ref without a record.
        """
        with self.write_lock:
            num = self._next_discussion_num()
            record = Discussion(num=num, title=title or "Update files", description=description,
                                is_pull_request=is_pr, author=author,
                                created_at=utc_iso(time.time()), base=base)
            _atomic_write_json(self.hub_dir / "discussions" / f"{num}.json", record.__dict__)
            if is_pr:
                target = commit_id or self.resolve(base)
                if not self._git.refs.add_if_new(f"refs/pr/{num}".encode(), target.encode()):
                    raise Conflict(f"refs/pr/{num} already exists")
            return num

    def open_discussion(self, title: str, description: str, author: str, *,
                        pull_request: bool) -> int:
        return self._open_discussion(title, description, author, is_pr=pull_request,
                                     base=f"refs/heads/{DEFAULT_BRANCH}", commit_id=None)

    def discussion(self, num: int) -> Discussion:
        try:
            data = json.loads((self.hub_dir / "discussions" / f"{num}.json").read_text())
        except (OSError, ValueError) as exc:
            raise RouteNotFound(f"Discussion {num} not found") from exc
        try:
            record = _discussion_record(data)
        except (TypeError, ValueError) as exc:  # not a record this server wrote
            raise RouteNotFound(f"Discussion {num} not found") from exc
        if record.is_pull_request and num not in self.pull_requests():
            raise RouteNotFound(f"Discussion {num} not found")
        return record

    def discussions(self) -> list[Discussion]:
        folder = self.hub_dir / "discussions"
        nums = sorted(int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit()) \
            if folder.is_dir() else []
        found = []
        for num in nums:
            try:
                found.append(self.discussion(num))
            except RouteNotFound:
                continue
        return found

    def recover(self) -> None:
        """Remove lock and temp files a killed server left; only while no one else writes."""
        for pattern in ("refs/**/*.lock", "objects/**/*.lock", "*.lock", "hub/**/.*.tmp"):
            for leftover in self.path.glob(pattern):
                leftover.unlink(missing_ok=True)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _utf8_safe(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD, so that it can be sent as UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


def _discussion_record(data: object) -> Discussion:
    """A stored record as a Discussion. Records written before text was checked at the door may
    hold lone surrogates (JSON escapes them as ``\\ud800``); they are served with U+FFFD in their
    place rather than making every answer that lists them fail to encode."""
    if not isinstance(data, dict):
        raise TypeError("a discussion record is a JSON object")
    return Discussion(**{key: _utf8_safe(value) if isinstance(value, str) else value
                         for key, value in data.items()})


def _valid_ref(ref: str) -> bool:
    return check_ref_format(ref.encode())


def _shown(name: str) -> str:
    """A refused name, quoted and cut, for an error text."""
    return repr(name[:100] + ("..." if len(name) > 100 else ""))


def _branch_ref(name: str) -> str:
    """``refs/heads/NAME`` of a branch name under git's rule, or 400 with the reason."""
    problem = ref_name_problem(name, "branch")
    if problem:
        # The Hub's own words ("Invalid reference for a branch: refs/pr/9"), then the rule.
        raise BadRequest(f"Invalid reference for a branch: {_shown(name)} ({problem})")
    return name if name.startswith("refs/heads/") else f"refs/heads/{name}"


class HubStorage:
    """Every repository under one root; the only place that creates or deletes repositories."""

    def __init__(self, root: Path, *, recover: bool = False) -> None:
        self.root = root
        self.repos_dir = root / "repos"
        self.repos_dir.mkdir(parents=True, exist_ok=True)
        self.lfs = LfsStore(root / "lfs")
        self._open: dict[RepoKey, Repository] = {}
        self._lock = threading.Lock()
        if recover:
            self._recover()

    def path_of(self, key: RepoKey) -> Path:
        return self.repos_dir / f"{key.type}s" / key.namespace / f"{key.name}.git"

    def _recover(self) -> None:
        self.lfs.discard_partial_uploads()
        for leftover in self.repos_dir.glob("*/*/.creating-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        for leftover in self.repos_dir.glob("*/*/.deleting-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        for key in self.list():
            self.get(key).recover()

    def get(self, key: RepoKey) -> Repository:
        """The repository ``key`` names, looked up case-insensitively as on the Hub.

        A repository moved away from ``key`` raises ``RepoMoved`` naming where it went.
        """
        with self._lock:
            repo = self._open.get(key)
            if repo is None:
                found = self._canonical(key)
                if found is None:
                    moved_to = self._redirects(key.type).get(key.id.casefold())
                    if moved_to:
                        namespace, name = moved_to.split("/", 1)
                        target = self._canonical(RepoKey(key.type, namespace, name))
                        if target is not None:
                            raise RepoMoved(key, target)
                    raise RepoNotFound(REPO_NOT_FOUND)
                repo = self._open.get(found)
                if repo is None:
                    repo = self._open[found] = Repository(found, self.path_of(found), self.lfs)
            return repo

    def _canonical(self, key: RepoKey) -> RepoKey | None:
        """The stored spelling of ``key``: exact first, else the one that differs only in case."""
        if (self.path_of(key) / "hub" / "meta.json").is_file():
            return key
        base = self.repos_dir / f"{key.type}s"
        try:
            namespaces = [n for n in os.listdir(base) if n.casefold() == key.namespace.casefold()]
        except OSError:
            return None
        for namespace in namespaces:
            for entry in os.listdir(base / namespace):
                if entry.endswith(".git") and entry[:-4].casefold() == key.name.casefold():
                    found = RepoKey(key.type, namespace, entry[:-4])
                    if (self.path_of(found) / "hub" / "meta.json").is_file():
                        return found
        return None

    def exists(self, key: RepoKey) -> bool:
        return self._canonical(key) is not None

    # -- moves ---------------------------------------------------------------------------------

    def _redirects_path(self, repo_type: str) -> Path:
        # Beside the type folders, under a name no namespace can have (a leading '.').
        return self.repos_dir / f".redirects-{repo_type}s.json"

    def _redirects(self, repo_type: str) -> dict[str, str]:
        """Old id (casefolded) to the id the repository was moved to."""
        try:
            return dict(json.loads(self._redirects_path(repo_type).read_text()))
        except (OSError, ValueError):
            return {}

    def _set_redirects(self, repo_type: str, redirects: dict[str, str]) -> None:
        _atomic_write_json(self._redirects_path(repo_type), redirects)

    def move(self, source: RepoKey, target: RepoKey) -> RepoKey:
        """Rename a repository; its old id keeps answering with a redirect, as on the Hub."""
        with self._lock:
            found = self._canonical(source)
            if found is None:
                raise RepoNotFound(REPO_NOT_FOUND)
            if self._canonical(target) is not None:
                raise Conflict(f"A {target.type} repository called {target.id} already exists")
            final = self.path_of(target)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.rename(self.path_of(found), final)
            self._open.pop(found, None)
            # Ids that led to the source now lead to the target (A to B, then B to C: A to C).
            redirects = {old: target.id if new.casefold() == found.id.casefold() else new
                         for old, new in self._redirects(found.type).items()}
            redirects.pop(target.id.casefold(), None)  # the target's id is a repository again
            redirects[found.id.casefold()] = target.id
            self._set_redirects(found.type, redirects)
            return target

    def list(self, repo_type: str | None = None) -> list[RepoKey]:
        keys = []
        for type_ in REPO_TYPES if repo_type is None else (repo_type,):
            base = self.repos_dir / f"{type_}s"
            for meta in sorted(base.glob("*/*.git/hub/meta.json")):
                repo_dir = meta.parent.parent
                keys.append(RepoKey(type_, repo_dir.parent.name, repo_dir.name[: -len(".git")]))
        return keys

    def create(self, key: RepoKey, *, private: bool, author: str) -> Repository:
        """Build the repository in a temp folder and rename it into place: all or nothing."""
        final = self.path_of(key)
        with self._lock:
            if final.exists() or self._canonical(key) is not None:
                raise Conflict(f"You already created this {key.type} repo")
            final.parent.mkdir(parents=True, exist_ok=True)
            staging = final.parent / f".creating-{key.name}-{uuid.uuid4().hex[:8]}"
            Repo.init_bare(str(staging), mkdir=True, default_branch=DEFAULT_BRANCH.encode())
            _atomic_write_json(staging / "hub" / "meta.json",
                               {"private": private, "createdAt": utc_iso(time.time())})
            Repository(key, staging, self.lfs).initial_commit(author)
            try:
                os.rename(staging, final)
            except OSError as exc:
                shutil.rmtree(staging, ignore_errors=True)
                raise Conflict(f"You already created this {key.type} repo") from exc
            redirects = self._redirects(key.type)
            if redirects.pop(key.id.casefold(), None) is not None:
                self._set_redirects(key.type, redirects)  # a new repo takes the old id back
        return self.get(key)

    def delete(self, key: RepoKey) -> None:
        with self._lock:
            found = self._canonical(key)
            if found is None:
                raise RepoNotFound(REPO_NOT_FOUND)
            key, final = found, self.path_of(found)
            doomed = final.parent / f".deleting-{key.name}-{uuid.uuid4().hex[:8]}"
            os.rename(final, doomed)
            self._open.pop(key, None)
        shutil.rmtree(doomed, ignore_errors=True)
