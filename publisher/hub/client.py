"""The tool's only door to a Hub: endpoint and token resolution, typed errors, commits.

Every Hub operation goes through ``huggingface_hub`` with an explicit ``endpoint=`` (``HF_ENDPOINT``
is read by the library at import time, which is too early for a tool that picks its endpoint at
run time). Errors from the library are translated here, once, into ``publisher.errors`` types whose
messages name the fix; a token never appears in any message.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from publisher.digest import git_blob_sha1, sha256_file
from publisher.errors import AuthenticationError, BadInputError, HubError

from publisher.hub.server.layout import DEFAULT_ROOT as DEFAULT_LOCAL_ROOT, SERVER_STATE

HUGGINGFACE_CO = "https://huggingface.co"
LOCAL = "local"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class HubTarget:
    """Where to publish and with which credentials. ``repr`` hides the token."""

    endpoint: str
    kind: str  # "huggingface" | "custom" | "local"
    token: str | None = field(default=None, repr=False)
    notice: str | None = None  # said to the user once (e.g. "started the local hub at ...")

    @property
    def is_local(self) -> bool:
        return self.kind == "local"

    @property
    def environment(self) -> dict[str, str]:
        """What a ``huggingface_hub`` client in a child process needs to use this hub (no token)."""
        env = {"HF_ENDPOINT": self.endpoint}
        if self.is_local:
            env["HF_HUB_DISABLE_XET"] = "1"
            env["NO_PROXY"] = _with_loopback(os.environ.get("NO_PROXY", ""))
        return env

    @contextlib.contextmanager
    def client_settings(self) -> Iterator[None]:
        """huggingface_hub as this hub needs it, for one operation; everything restored after.

        A local hub does not speak Xet (huggingface_hub uploads through Xet whenever ``hf_xet`` is
        importable, checking the constant at call time), and a corporate HTTP(S)_PROXY must not
        capture loopback traffic. Other hubs change nothing.
        """
        if not self.is_local:
            yield
            return
        import huggingface_hub.constants as constants

        saved_xet = constants.HF_HUB_DISABLE_XET
        saved_env = {name: os.environ.get(name) for name in ("NO_PROXY", "no_proxy")}
        constants.HF_HUB_DISABLE_XET = True
        for name, value in saved_env.items():
            os.environ[name] = _with_loopback(value or "")
        try:
            yield
        finally:
            constants.HF_HUB_DISABLE_XET = saved_xet
            for name, value in saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def validate_ref_name(name: str, kind: str = "tag", option: str | None = None) -> None:
    """Refuse a branch or tag name the Hub cannot hold, as bad input (exit 2), before any work.

    The rule is git's (``git check-ref-format``) plus the local hub's length limit, shared with
    the server (``publisher.hub.server.refnames``). A ``--tag`` is created only after the
    release commit, so an invalid one found by the Hub would leave a pushed, untagged release.
    """
    from publisher.hub.server.refnames import ref_name_problem

    problem = ref_name_problem(name, kind)
    if problem:
        shown = name[:100] + ("..." if len(name) > 100 else "") if isinstance(name, str) else name
        flag = option or f"--{kind}"
        raise BadInputError(f"{flag} {shown!r} is not a valid {kind} name: {problem}",
                            f"Pass a {kind} name such as "
                            f"{'v1.0' if kind == 'tag' else 'dev or release/2'} (letters, "
                            "digits, '.', '-', '_', and '/' between parts; at most 200 bytes)")


def validate_release_refs(revision: str, tag: str | None) -> None:
    """The refs a publish may create: the ``--revision`` branch (created when missing, unless
    it is a pull request's ``refs/pr/N``) and the ``--tag``."""
    if not (isinstance(revision, str) and re.fullmatch(r"refs/pr/[0-9]+", revision)):
        validate_ref_name(revision, "branch", "--revision")
    if tag:  # an empty --tag means no tag, as in the push
        validate_ref_name(tag, "tag", "--tag")


def _with_loopback(no_proxy: str) -> str:
    current = [h for h in no_proxy.split(",") if h]
    return ",".join(current + [h for h in _LOOPBACK if h not in current])


@dataclass(frozen=True)
class RemoteFile:
    path: str
    git_oid: str  # git blob sha1
    sha256: str | None  # LFS files only
    size: int


@dataclass(frozen=True)
class CommitOutcome:
    commit: str | None  # None when nothing changed
    url: str
    pr_url: str | None
    changed: bool


@dataclass(frozen=True)
class PullRequest:
    """An open pull request of a repo."""

    num: int
    title: str
    author: str

    @property
    def ref(self) -> str:
        return f"refs/pr/{self.num}"


@dataclass(frozen=True)
class FileChanges:
    """A release folder compared with a remote revision."""

    parent_commit: str | None  # remote head the comparison was made against (None: no repo yet)
    added: list[str]
    changed: list[str]
    deleted: list[str]
    unchanged: list[str]

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.deleted)


def resolve_target(
    endpoint: str | None,
    token: str | None = None,
    *,
    local_root: Path | None = None,
) -> HubTarget:
    """Pick the Hub to talk to.

    Order: ``endpoint`` ("local" or a URL), else ``HF_ENDPOINT``, else the real Hub when a token is
    found, else the local hub (started if none is running). In CI (``CI`` set) the last fallback is
    refused, so that a release job cannot "succeed" without publishing anywhere real.
    """
    from huggingface_hub import get_token

    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    if endpoint and endpoint != LOCAL:
        endpoint = endpoint.rstrip("/")
        if not endpoint.startswith(("http://", "https://")):
            raise BadInputError(
                f"The endpoint {endpoint!r} is not an http(s) URL",
                "Pass --endpoint local, or a URL such as http://127.0.0.1:8900 or https://huggingface.co",
            )
        from publisher.hub.local import is_local_endpoint

        if is_local_endpoint(endpoint):
            # Never the stored login token: it is usually a huggingface.co token, which a local
            # server would refuse and should never be handed anyway.
            token = (token or _local_hub_token(endpoint, local_root or DEFAULT_LOCAL_ROOT)
                     or os.environ.get("HF_TOKEN"))
            return HubTarget(endpoint=endpoint, kind="local", token=token)
        kind = "huggingface" if endpoint == HUGGINGFACE_CO else "custom"
        return HubTarget(endpoint=endpoint, kind=kind, token=token or get_token())

    if endpoint != LOCAL:
        found = token or get_token()
        if found:
            return HubTarget(endpoint=HUGGINGFACE_CO, kind="huggingface", token=found)
        if os.environ.get("CI"):
            raise AuthenticationError(
                "No Hugging Face token was found and no endpoint was named, and CI is set, so "
                "publisher will not fall back to the local hub (a release job must not succeed "
                "without publishing)",
                "Set HF_TOKEN from your CI secrets, or pass --endpoint local (or --endpoint URL) "
                "explicitly to publish to a local hub",
            )

    from publisher.hub.local import ensure_local_hub

    hub = ensure_local_hub((local_root or DEFAULT_LOCAL_ROOT).resolve())
    pid = f", pid {hub.pid}" if hub.pid else ""
    if hub.started_here:
        notice = (f"Started the local hub in the background at {hub.endpoint} (storage: {hub.root}"
                  f"{pid}); it keeps running: `publisher hub status` lists it, "
                  f"`{hub.stop_command}` stops it.")
    else:
        notice = (f"Using the local hub at {hub.endpoint} (storage: {hub.root}{pid}); "
                  f"`{hub.stop_command}` stops it.")
    return HubTarget(endpoint=hub.endpoint, kind="local", token=token or hub.token, notice=notice)


def _local_hub_token(endpoint: str, root: Path) -> str | None:
    """The token of the local hub stored under ``root``, if that hub is the one at ``endpoint``."""
    import json

    from publisher.hub.local import read_local_token

    try:
        state = json.loads((root / SERVER_STATE).read_text())
    except (OSError, ValueError):
        return None
    if str(state.get("endpoint", "")).rstrip("/") != endpoint:
        return None
    return read_local_token(root)


@contextlib.contextmanager
def hub_errors(target: HubTarget, repo_id: str | None, action: str) -> Iterator[None]:
    """Translate huggingface_hub / httpx failures into publisher errors with a fix."""
    import httpx
    from huggingface_hub import errors as hf

    where = f"{target.endpoint}" + (f" (repo {repo_id})" if repo_id else "")
    try:
        with target.client_settings():
            yield
    except hf.LocalTokenNotFoundError as exc:
        raise AuthenticationError(
            f"Cannot {action} on {where}: no token was found",
            "Set HF_TOKEN, run `hf auth login`, or pass --token-file",
        ) from exc
    except hf.RevisionNotFoundError as exc:
        raise HubError(
            f"Cannot {action} on {where}: the revision does not exist",
            "Check --revision; branches are created from main only when publishing",
        ) from exc
    except hf.RepositoryNotFoundError as exc:
        raise HubError(
            f"Cannot {action} on {where}: the repository does not exist or the token cannot see it",
            "Check the repo id and that your token has access to it",
        ) from exc
    except hf.HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        server = (exc.server_message or "").strip().splitlines()[0:1]
        detail = f" (HTTP {status}{': ' + server[0] if server else ''})" if status else ""
        if status == 401:
            raise AuthenticationError(
                f"Cannot {action} on {where}: the token was refused{detail}",
                "Check HF_TOKEN or --token-file; create a new token with write access if it expired",
            ) from exc
        if status == 403:
            raise AuthenticationError(
                f"Cannot {action} on {where}: the token is not allowed to do this{detail}",
                "Use a token with write access to this namespace",
            ) from exc
        if status == 412:
            raise HubError(
                f"Cannot {action} on {where}: someone else committed to the branch since publisher "
                f"read it{detail}",
                "Re-run the command: it will compare against the new head and commit again",
            ) from exc
        if status == 429:
            raise HubError(
                f"Cannot {action} on {where}: rate limited{detail}",
                "Wait a few minutes and re-run; nothing was committed",
            ) from exc
        raise HubError(
            f"Cannot {action} on {where}: the Hub refused the request{detail}",
            "Re-run later; if it persists, check the endpoint and the repo",
        ) from exc
    except (httpx.TransportError, ConnectionError, OSError) as exc:
        if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        raise HubError(
            f"Cannot {action}: {target.endpoint} is unreachable ({type(exc).__name__})",
            "Check the network and the endpoint (--endpoint / HF_ENDPOINT); nothing was committed",
        ) from exc


class HubClient:
    """Operations publisher needs, on one endpoint, with errors translated."""

    def __init__(self, target: HubTarget) -> None:
        from huggingface_hub import HfApi

        self.target = target
        self.endpoint = target.endpoint
        # token=False (not None) stops the library from falling back to a token of its own.
        self.api = HfApi(endpoint=target.endpoint, token=target.token or False)

    def _errors(self, repo_id: str | None, action: str):
        return hub_errors(self.target, repo_id, action)

    def repo_url(self, repo_id: str) -> str:
        return f"{self.endpoint}/{repo_id}"

    def whoami(self) -> str:
        with self._errors(None, "check the token"):
            return self.api.whoami()["name"]

    def open_pull_requests(self, repo_id: str) -> list[PullRequest]:
        with self._errors(repo_id, "list pull requests"):
            found = self.api.get_repo_discussions(repo_id, discussion_type="pull_request",
                                                  discussion_status="open")
            return [PullRequest(d.num, d.title, d.author) for d in found]

    def check_write_access(self) -> None:
        """Fail fast when there is no token, the token is refused, or it is read-only.

        One ``whoami`` call, made before the slow stages of a publish so that the user learns about
        a credential problem in a second. Fine-grained tokens (whose scopes whoami does not spell
        out per repo) pass here and are judged by the commit itself.
        """
        if not self.target.token:
            raise AuthenticationError(
                f"No Hugging Face token was found for {self.endpoint}, and publishing needs one with "
                "write access",
                "Set HF_TOKEN, run `hf auth login`, or pass --token-file with a token that has "
                "write access (or use --dry-run or --no-push to publish nothing)",
            )
        from huggingface_hub import errors as hf

        with self._errors(None, "check the token"):
            try:
                info = self.api.whoami(cache=True)
            except hf.HfHubHTTPError as exc:
                if exc.response is not None and exc.response.status_code == 429:
                    return  # whoami is strictly rate-limited; the commit will judge the token
                raise
        access = ((info.get("auth") or {}).get("accessToken") or {}) if isinstance(info, dict) else {}
        if access.get("role") == "read":
            raise AuthenticationError(
                f"The token for {self.endpoint} (user {info.get('name')!r}) is read-only, so "
                "publisher cannot push with it. Nothing was exported or pushed",
                "Create a token with write access (huggingface.co/settings/tokens) and pass it with "
                "HF_TOKEN or --token-file",
            )

    def ensure_repo(self, repo_id: str, *, private: bool | None = None) -> None:
        with self._errors(repo_id, "create the repository"):
            self.api.create_repo(repo_id, private=private, exist_ok=True)

    def repo_exists(self, repo_id: str) -> bool:
        with self._errors(repo_id, "look up the repository"):
            return self.api.repo_exists(repo_id)

    def branch_exists(self, repo_id: str, branch: str) -> bool:
        with self._errors(repo_id, "list branches"):
            refs = self.api.list_repo_refs(repo_id, include_pull_requests=True)
        names = {b.name for b in refs.branches} | {p.ref for p in (refs.pull_requests or [])}
        return branch in names

    def create_branch(self, repo_id: str, branch: str, *, from_revision: str = "main") -> None:
        with self._errors(repo_id, f"create branch {branch}"):
            self.api.create_branch(repo_id, branch=branch, revision=from_revision, exist_ok=True)

    def revision_sha(self, repo_id: str, revision: str = "main") -> str:
        with self._errors(repo_id, f"read revision {revision}"):
            return self.api.repo_info(repo_id, revision=revision).sha

    def list_files(self, repo_id: str, revision: str) -> dict[str, RemoteFile]:
        from huggingface_hub.hf_api import RepoFile

        with self._errors(repo_id, "list the files"):
            entries = self.api.list_repo_tree(repo_id, revision=revision, recursive=True)
            files = {}
            for e in entries:
                if isinstance(e, RepoFile):
                    files[e.path] = RemoteFile(
                        path=e.path,
                        git_oid=e.blob_id,
                        sha256=e.lfs.sha256 if e.lfs else None,
                        size=e.size,
                    )
            return files

    def list_models(self, namespace: str) -> list[str]:
        with self._errors(None, f"list the models of {namespace}"):
            return sorted(m.id for m in self.api.list_models(author=namespace))

    def download_text(self, repo_id: str, filename: str, revision: str = "main") -> str | None:
        """One small file as text, or None when the repo has no such file. Nothing is cached."""
        from huggingface_hub import errors as hf
        from huggingface_hub import hf_hub_download

        with self._errors(repo_id, f"download {filename}"), tempfile.TemporaryDirectory() as tmp:
            try:
                path = hf_hub_download(
                    repo_id,
                    filename,
                    revision=revision,
                    endpoint=self.endpoint,
                    token=self.target.token or False,
                    local_dir=tmp,
                )
            except hf.EntryNotFoundError:
                return None
            return Path(path).read_text(encoding="utf-8")

    def download_files(self, repo_id: str, paths: list[str], revision: str, local_dir: Path) -> Path:
        """Exactly ``paths`` of ``revision`` (a commit sha keeps them one snapshot) into ``local_dir``."""
        from huggingface_hub import snapshot_download

        local_dir.mkdir(parents=True, exist_ok=True)
        with self._errors(repo_id, "download the release files"):
            snapshot_download(repo_id, revision=revision, allow_patterns=list(paths), local_dir=str(local_dir),
                              endpoint=self.endpoint, token=self.target.token or False)
        return local_dir

    def compare(self, repo_id: str, files: dict[str, Path], revision: str) -> FileChanges:
        """Compare ``files`` (repo path -> local file) with ``revision`` of the repo.

        Files the repo holds that are not in ``files`` are reported as deleted, except
        ``.gitattributes``, which the Hub manages.
        """
        if not self.repo_exists(repo_id):
            return FileChanges(None, sorted(files), [], [], [])
        if not self.branch_exists(repo_id, revision):
            head = self.revision_sha(repo_id, "main")
            remote = self.list_files(repo_id, "main")
        else:
            head = self.revision_sha(repo_id, revision)
            remote = self.list_files(repo_id, revision)
        added, changed, unchanged = [], [], []
        for rel in sorted(files):
            r = remote.get(rel)
            if r is None:
                added.append(rel)
                continue
            local = files[rel]
            same = (
                (r.sha256 == sha256_file(local)) if r.sha256 else (r.git_oid == git_blob_sha1(local))
            )
            (unchanged if same else changed).append(rel)
        deleted = sorted(p for p in remote if p not in set(files) and p != ".gitattributes")
        return FileChanges(head, added, changed, deleted, unchanged)

    def commit_changes(
        self,
        repo_id: str,
        files: dict[str, Path],
        changes: FileChanges,
        *,
        message: str,
        description: str = "",
        revision: str = "main",
        create_pr: bool = False,
    ) -> CommitOutcome:
        """One atomic commit of the changed files, guarded by ``parent_commit``."""
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        ops = [
            CommitOperationAdd(path_in_repo=rel, path_or_fileobj=str(files[rel]))
            for rel in changes.added + changes.changed
        ] + [CommitOperationDelete(path_in_repo=rel) for rel in changes.deleted]
        return self._commit(repo_id, ops, message, description, revision, create_pr,
                            changes.parent_commit)

    def commit_files(
        self,
        repo_id: str,
        files: dict[str, bytes],
        *,
        message: str,
        revision: str = "main",
        create_pr: bool = False,
        parent_commit: str | None = None,
        description: str = "",
        delete: list[str] | tuple[str, ...] = (),
    ) -> CommitOutcome:
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=data) for p, data in files.items()]
        ops += [CommitOperationDelete(path_in_repo=p) for p in delete]
        return self._commit(repo_id, ops, message, description, revision, create_pr, parent_commit)

    def _commit(self, repo_id, ops, message, description, revision, create_pr, parent_commit):
        with self._errors(repo_id, "commit"):
            info = self.api.create_commit(
                repo_id,
                operations=ops,
                commit_message=message,
                commit_description=description,
                revision=revision,
                create_pr=create_pr,
                parent_commit=parent_commit,
            )
        changed = parent_commit is None or info.oid != parent_commit or bool(info.pr_url)
        return CommitOutcome(
            commit=info.oid if changed else None,
            url=info.commit_url if changed else self.repo_url(repo_id),
            pr_url=info.pr_url,
            changed=changed,
        )

    def create_tag(self, repo_id: str, tag: str, commit: str, message: str | None = None) -> None:
        with self._errors(repo_id, f"create tag {tag}"):
            self.api.create_tag(repo_id, tag=tag, revision=commit, tag_message=message)

    def validate_yaml(self, readme_text: str) -> list[str]:
        """Errors the endpoint's /api/validate-yaml reports for a README (empty: valid)."""
        from huggingface_hub.utils import get_session

        url = f"{self.endpoint}/api/validate-yaml"
        headers = {"Authorization": f"Bearer {self.target.token}"} if self.target.token else {}
        with self._errors(None, "validate the card metadata"):
            r = get_session().post(url, json={"content": readme_text, "repoType": "model"},
                                   headers=headers)
            body = r.json()
            if r.status_code >= 500:
                r.raise_for_status()
        return [e.get("message", str(e)) for e in body.get("errors", [])]
