"""The ``/api/...`` routes: repositories, revisions, trees, refs, commits, discussions."""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from typing import Any

from starlette.responses import Response

from publisher.hub.server.cards import card_data, validate_readme
from publisher.hub.server.errors import (
    BadRequest,
    Conflict,
    PayloadTooLarge,
    RouteNotFound,
    Unauthorized,
)
from publisher.hub.server.limits import (
    MAX_DESCRIPTION_BYTES,
    MAX_NDJSON_LINE_BYTES,
    MAX_SUMMARY_BYTES,
)
from publisher.hub.server.lfs_store import is_oid, is_size
from publisher.hub.server.storage import (
    DEFAULT_BRANCH,
    CommitOp,
    DeleteFile,
    DeleteFolder,
    Entry,
    PutLfs,
    PutRegular,
    RepoKey,
    Repository,
    clean_path,
    utc_iso,
)
from publisher.hub.server.upload_rules import GitIgnore, LfsAttributes, upload_mode
from publisher.hub.server.wire import Call, error_response, json_response


_HEX40 = re.compile(r"[0-9a-f]{40}")


def repo_key(call: Call) -> RepoKey:
    return RepoKey.parse(call.params["type"], call.params["namespace"], call.params["name"])


def repo_url(call: Call, key: RepoKey) -> str:
    return f"{call.endpoint}/{key.url_prefix}{key.id}"


# -- account ---------------------------------------------------------------------------------


def whoami(call: Call) -> Response:
    if call.caller is None:
        raise Unauthorized("You must be authenticated: send a token (Authorization: Bearer ...)")
    role = "write" if call.caller.can_write else "read"
    return json_response({
        "type": "user", "id": call.caller.user, "name": call.caller.user,
        "fullname": call.caller.user, "email": None, "emailVerified": False, "isPro": False,
        "canPay": False, "orgs": [],
        "auth": {"type": "access_token", "accessToken": {"displayName": "local-hub", "role": role}},
    })


def agent_harnesses(call: Call) -> Response:
    return json_response({"standardEnvVars": [], "harnesses": {}})


def local_status(call: Call) -> Response:
    """Lets ``publisher.hub.local`` confirm that an endpoint is this root's server."""
    return json_response(call.state.root_info)


def validate_yaml(call: Call) -> Response:
    # The client parses this body before it checks the status: always answer JSON.
    body = call.json()
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(content, str):
        return error_response(BadRequest('Expected a JSON body with a string "content"'),
                              {"errors": [{"message": 'Missing "content"'}], "warnings": []})
    result = validate_readme(content)
    warnings = [{"message": w} for w in result.warnings]
    if not result.ok:
        error = BadRequest("Invalid metadata in README.md: " + "; ".join(result.errors))
        return error_response(error, {"errors": [{"message": e} for e in result.errors],
                                      "warnings": warnings})
    return json_response({"errors": [], "warnings": warnings})


# -- repositories ----------------------------------------------------------------------------


def create_repo(call: Call) -> Response:
    caller = call.state.tokens.require_writer(call.caller)
    body = call.json()
    repo_type = body.get("type") or "model"
    if repo_type == "space":
        raise BadRequest("Spaces are not served by the local hub: create a model or dataset repo")
    key = RepoKey.parse(repo_type, body.get("organization") or caller.user, body.get("name"),
                        creating=True)
    private = body.get("visibility") == "private" or body.get("private") is True
    url = repo_url(call, key)
    try:
        call.state.storage.create(key, private=private, author=caller.user)
    except Conflict as exc:
        # ``exist_ok=True`` reads ``url`` from the 409 body; it must be there.
        return error_response(exc, {"url": url})
    return json_response({"url": url, "name": key.id, "id": key.id})


def delete_repo(call: Call) -> Response:
    caller = call.state.tokens.require_writer(call.caller)
    body = call.json()
    key = RepoKey.parse(body.get("type") or "model", body.get("organization") or caller.user,
                        body.get("name"))
    call.state.storage.delete(key)
    return json_response({})


def move_repo(call: Call) -> Response:
    """Rename a repository (``move_repo``): its old id then redirects to the new one."""
    call.state.tokens.require_writer(call.caller)
    body = call.json()
    repo_type = body.get("type") or "model"
    source, target = body.get("fromRepo"), body.get("toRepo")
    if not all(isinstance(v, str) and v.count("/") == 1 for v in (source, target)):
        raise BadRequest('Expected "fromRepo" and "toRepo" as namespace/name')
    old = RepoKey.parse(repo_type, *source.split("/"))
    new = RepoKey.parse(repo_type, *target.split("/"), creating=True)
    call.state.storage.move(old, new)
    return json_response({"url": repo_url(call, new)})


def update_settings(call: Call) -> Response:
    key = repo_key(call)
    repo, _ = call.writable(key)
    body = call.json()
    private: bool | None = None
    if "visibility" in body:
        private = body["visibility"] == "private"
    elif "private" in body:
        private = bool(body["private"])
    gated = body.get("gated")
    if gated is not None and gated not in (False, "auto", "manual"):
        raise BadRequest('"gated" must be false, "auto" or "manual"')
    meta = repo.update_meta(private=private, gated=gated)
    return json_response({"private": meta.private, "gated": meta.gated})


def auth_check(call: Call) -> Response:
    """200 when the caller may read (``write``: write) the repository; 404 / 403 GatedRepo not."""
    repo = call.accessible(repo_key(call))
    if call.params.get("write"):
        call.writable(repo.key)
    return json_response({})


def _card_data(repo: Repository, files: list[Entry]) -> dict[str, Any] | None:
    readme = next((f for f in files if f.path == "README.md" and f.lfs is None), None)
    if readme is None:
        return None
    return card_data(repo.read_blob(readme.oid).decode("utf-8", "replace"))


def _sibling(entry: Entry, blobs: bool) -> dict[str, Any]:
    sibling: dict[str, Any] = {"rfilename": entry.path}
    if blobs:
        sibling.update(size=entry.size, blobId=entry.oid)
        if entry.lfs:
            sibling["lfs"] = {"size": entry.lfs.size, "sha256": entry.lfs.oid,
                              "pointerSize": entry.lfs.pointer_size}
    return sibling


def _info(call: Call, repo: Repository, sha: str) -> dict[str, Any]:
    key, meta, record = repo.key, repo.meta(), repo.commit_record(sha)
    files = repo.files(sha)
    data = _card_data(repo, files)
    tags = data.get("tags") if data else None
    info: dict[str, Any] = {
        "_id": key.id, "id": key.id, "author": key.namespace, "sha": sha,
        "lastModified": utc_iso(record.date.timestamp()), "createdAt": meta.created_at,
        "private": meta.private, "gated": meta.gated, "disabled": False, "downloads": 0, "likes": 0,
        "tags": [tags] if isinstance(tags, str) else list(tags or []),
        "siblings": [_sibling(f, call.flag("blobs")) for f in files],
        "usedStorage": sum(f.size for f in files),
    }
    if data is not None:
        info["cardData"] = data
    if key.type == "model":
        info["modelId"] = key.id
        for field_name in ("library_name", "pipeline_tag"):
            if data and isinstance(data.get(field_name), str):
                info[field_name] = data[field_name]
    return info


def repo_info(call: Call) -> Response:
    repo = call.readable(repo_key(call))
    return json_response(_info(call, repo, repo.resolve(call.params.get("rev") or DEFAULT_BRANCH)))


def list_repos(call: Call) -> Response:
    storage = call.state.storage
    search = (call.query("search") or "").lower()
    author = call.query("author")
    try:
        limit = int(call.query("limit") or 1000)
    except ValueError as exc:
        raise BadRequest("limit must be an integer") from exc
    found = []
    for key in storage.list(call.params["type"]):
        repo = storage.get(key)
        if repo.meta().private and call.caller is None:
            continue
        if (author and key.namespace != author) or (search and search not in key.id.lower()):
            continue
        sha = repo.resolve(DEFAULT_BRANCH)
        record = repo.commit_record(sha)
        found.append({"_id": key.id, "id": key.id, "author": key.namespace, "sha": sha,
                      "private": repo.meta().private, "lastModified": utc_iso(record.date.timestamp()),
                      "tags": [], "downloads": 0, "likes": 0})
        if len(found) >= limit:
            break
    return json_response(found)


# -- refs and history ------------------------------------------------------------------------


def list_refs(call: Call) -> Response:
    repo = call.readable(repo_key(call))
    payload: dict[str, Any] = {
        "branches": [{"name": n, "ref": f"refs/heads/{n}", "targetCommit": s}
                     for n, s in repo.branches().items()],
        "converts": [],
        "tags": [{"name": n, "ref": f"refs/tags/{n}", "targetCommit": s}
                 for n, s in repo.tags().items()],
    }
    if call.flag("include_prs"):
        payload["pullRequests"] = [{"name": str(n), "ref": f"refs/pr/{n}", "targetCommit": s}
                                   for n, s in repo.pull_requests().items()]
    return json_response(payload)


def _page(call: Call, default_size: int) -> tuple[int, int]:
    try:
        start = max(int(call.query("cursor") or call.query("p") or 0), 0)
        size = min(max(int(call.query("limit") or default_size), 1), default_size)
    except ValueError as exc:
        raise BadRequest("cursor, p and limit must be integers") from exc
    return start, size


def list_commits(call: Call) -> Response:
    repo = call.readable(repo_key(call))
    sha = repo.resolve(call.params["rev"])
    page, size = _page(call, call.state.commits_page_size)
    formatted = "formatted" in call.request.query_params.getlist("expand[]")
    items, more = [], False
    for index, record in enumerate(repo.log(sha)):
        if index < page * size:
            continue
        if len(items) == size:
            more = True
            break
        item: dict[str, Any] = {
            "id": record.id, "title": record.title, "message": record.message,
            "date": utc_iso(record.date.timestamp()), "authors": [{"user": record.author}],
            "parents": list(record.parents),
        }
        if formatted:
            item["formatted"] = {"title": html.escape(record.title),
                                 "message": html.escape(record.message)}
        items.append(item)
    headers = {"Link": call.page_link(p=page + 1)} if more else None
    return json_response(items, headers=headers)


def entry_json(entry: Entry, repo: Repository | None = None, sha: str | None = None) -> dict[str, Any]:
    """A tree entry; with ``repo`` and ``sha`` (``expand``) also its last commit and scan status."""
    if entry.type == "directory":
        item: dict[str, Any] = {"type": "directory", "path": entry.path, "oid": entry.oid, "size": 0}
    else:
        item = {"type": "file", "path": entry.path, "oid": entry.oid, "size": entry.size}
        if entry.lfs:
            item["lfs"] = {"oid": entry.lfs.oid, "size": entry.lfs.size,
                           "pointerSize": entry.lfs.pointer_size}
    if repo is not None and sha is not None:
        record = repo.last_commit_of(sha, entry.path)
        if record is not None:
            item["lastCommit"] = {"id": record.id, "title": record.title,
                                  "date": utc_iso(record.date.timestamp())}
        if entry.type == "file":
            # Nothing is scanned here; say so rather than claim "safe".
            item["securityFileStatus"] = {"status": "unscanned", "avScan": None,
                                          "pickleImportScan": None}
    return item


def list_tree(call: Call) -> Response:
    repo = call.readable(repo_key(call))
    sha = repo.resolve(call.params["rev"])
    entries = repo.list_tree(sha, call.params.get("path", ""), recursive=call.flag("recursive"))
    start, size = _page(call, call.state.page_size)
    page = entries[start:start + size]
    more = start + size < len(entries)
    headers = {"X-Repo-Commit": sha}
    if more:
        headers["Link"] = call.page_link(cursor=start + size)
    expand = call.flag("expand")
    return json_response([entry_json(e, repo if expand else None, sha) for e in page],
                         headers=headers)


def paths_info(call: Call) -> Response:
    repo = call.readable(repo_key(call))
    sha = repo.resolve(call.params["rev"])
    content_type = call.request.headers.get("content-type", "")
    if "json" in content_type:
        body = call.json()
        paths = body.get("paths") or []
        expand = body.get("expand") in (True, "true", "1")
    else:
        form = call.form()
        paths = form.get("paths", [])
        expand = (form.get("expand") or [""])[-1].lower() in ("1", "true")
    found = []
    for path in paths if isinstance(paths, list) else [paths]:
        entry = repo.get_entry(sha, str(path))
        if entry is not None:
            found.append(entry_json(entry, repo if expand else None, sha))
    return json_response(found, headers={"X-Repo-Commit": sha})


def create_branch(call: Call) -> Response:
    repo, _ = call.writable(repo_key(call))
    body = call.json()
    start = body.get("startingPoint") or DEFAULT_BRANCH
    if not isinstance(start, str):
        raise BadRequest("startingPoint must be a revision name")
    repo.create_branch(call.params["rev"], start)
    return json_response({})


def delete_branch(call: Call) -> Response:
    repo, _ = call.writable(repo_key(call))
    repo.delete_branch(call.params["rev"])
    return json_response({})


def create_tag(call: Call) -> Response:
    repo, caller = call.writable(repo_key(call))
    body = call.json()
    tag = body.get("tag")
    message = body.get("message")
    if not isinstance(tag, str) or not tag:
        raise BadRequest('Expected a JSON body with the tag name in "tag"')
    if message is not None and not isinstance(message, str):
        raise BadRequest('"message" must be a string')
    repo.create_tag(tag, call.params["rev"], message, caller.user)
    return json_response({})


def delete_tag(call: Call) -> Response:
    repo, _ = call.writable(repo_key(call))
    repo.delete_tag(call.params["rev"])
    return json_response({})


# -- uploads and commits -----------------------------------------------------------------------


def _read_text(repo: Repository, sha: str, path: str) -> str | None:
    entry = repo.get_entry(sha, path)
    if entry is None or entry.type != "file" or entry.lfs:
        return None
    return repo.read_blob(entry.oid).decode("utf-8", "replace")


def preupload(call: Call) -> Response:
    repo, _ = call.writable(repo_key(call))
    sha = repo.resolve(call.params["rev"])
    body = call.json()
    files = body.get("files")
    if not isinstance(files, list):
        raise BadRequest('Expected a JSON body with a "files" list')
    attributes = LfsAttributes(_read_text(repo, sha, ".gitattributes"))
    gitignore_text = body.get("gitIgnore")
    ignore = GitIgnore(gitignore_text if isinstance(gitignore_text, str)
                       else _read_text(repo, sha, ".gitignore"))
    answers = []
    for item in files:
        if not isinstance(item, dict):
            raise BadRequest(f"Malformed preupload entry {str(item)[:100]!r}: expected an object")
        try:
            path = clean_path(item["path"])
            size = int(item.get("size", 0))
            sample = base64.b64decode(item.get("sample") or "")
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise BadRequest(f"Malformed preupload entry {item!r}: {exc}") from exc
        existing = repo.get_entry(sha, path)
        oid = None
        if existing is not None and existing.type == "file":
            oid = existing.lfs.oid if existing.lfs else existing.oid
        answers.append({"path": path, "uploadMode": upload_mode(path, size, sample, attributes),
                        "shouldIgnore": ignore.ignores(path), "oid": oid})
    return json_response({"files": answers, "commitOid": sha})


def _parse_commit(body: bytes) -> tuple[dict[str, Any], list[CommitOp]]:
    header: dict[str, Any] | None = None
    ops: list[CommitOp] = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        if len(line) > MAX_NDJSON_LINE_BYTES:
            raise PayloadTooLarge(f"Line {number} of the commit is {len(line)} bytes; the local hub "
                                  f"takes at most {MAX_NDJSON_LINE_BYTES} bytes per line (files of "
                                  "10 MiB or more go through LFS)")
        try:
            item = json.loads(line)
            key, value = item["key"], item["value"]
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise BadRequest(f"Line {number} of the commit is not a {{key, value}} JSON object") from exc
        if not isinstance(value, dict):
            raise BadRequest(f"Line {number} of the commit: 'value' must be a JSON object")
        if key == "header":
            header = _commit_header(value)
        elif header is None:
            raise BadRequest("The commit must start with a header line")
        elif key == "file":
            ops.append(PutRegular(clean_path(value.get("path")), _file_content(value)))
        elif key == "lfsFile":
            oid = value.get("oid")
            if value.get("algo", "sha256") != "sha256" or not is_oid(oid):
                raise BadRequest(f"Invalid LFS oid for {value.get('path')!r}")
            size = value.get("size")
            if size is not None and not is_size(size):
                raise BadRequest(f"Invalid LFS size for {value.get('path')!r}")
            ops.append(PutLfs(clean_path(value.get("path")), oid, size))
        elif key == "deletedFile":
            ops.append(DeleteFile(clean_path(value.get("path"))))
        elif key == "deletedFolder":
            path = value.get("path")
            ops.append(DeleteFolder(clean_path(path.rstrip("/") if isinstance(path, str) else path)))
        else:
            raise BadRequest(f"Unknown commit operation {str(key)[:100]!r}")
    if header is None:
        raise BadRequest("The commit has no header line")
    return header, ops


def _commit_header(value: dict[str, Any]) -> dict[str, Any]:
    """The header's fields checked: strings within the limits, a 40-hex ``parentCommit``."""
    for field_name, limit in (("summary", MAX_SUMMARY_BYTES), ("description", MAX_DESCRIPTION_BYTES)):
        text = value.get(field_name)
        if text is None:
            continue
        if not isinstance(text, str):
            raise BadRequest(f"The commit's {field_name} must be a string")
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            # A pull request's title and description are the commit's: stored, they would
            # poison every answer that lists discussions.
            raise BadRequest(f"The commit's {field_name} holds text that is not valid Unicode "
                             "(a lone surrogate): send UTF-8 text") from None
        if size > limit:
            raise PayloadTooLarge(f"The commit's {field_name} is {size} bytes; the local hub takes "
                                  f"at most {limit}")
    parent = value.get("parentCommit")
    if parent is not None and not (isinstance(parent, str) and _HEX40.fullmatch(parent)):
        raise BadRequest("parentCommit must be a 40-character hexadecimal commit id")
    return value


def _file_content(value: dict[str, Any]) -> bytes:
    content = value.get("content", "")
    if not isinstance(content, str):
        raise BadRequest(f"Invalid content for {value.get('path')!r}")
    if value.get("encoding", "utf-8") == "base64":
        try:
            return base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest(f"Invalid base64 content for {value.get('path')!r}") from exc
    return content.encode()


def commit(call: Call) -> Response:
    key = repo_key(call)
    repo, caller = call.writable(key)
    header, ops = _parse_commit(call.body)
    for op in ops:
        if isinstance(op, PutRegular) and op.path == "README.md":
            result = validate_readme(op.content.decode("utf-8", "replace"))
            if not result.ok:
                raise BadRequest("Invalid metadata in README.md: " + "; ".join(result.errors))
    parent = header.get("parentCommit")
    result = repo.commit(
        call.params["rev"], ops, summary=str(header.get("summary") or ""),
        description=str(header.get("description") or ""), author=caller.user,
        parent_commit=str(parent) if parent else None, create_pr=call.flag("create_pr"),
    )
    url = repo_url(call, key)
    payload: dict[str, Any] = {"success": True, "commitOid": result.commit_id,
                               "commitUrl": f"{url}/commit/{result.commit_id}"}
    if result.pr_num is not None:
        payload["pullRequestUrl"] = f"{url}/discussions/{result.pr_num}"
    return json_response(payload)


def xet_token(call: Call) -> Response:
    raise RouteNotFound("Xet storage is not served by the local hub: set HF_HUB_DISABLE_XET=1 "
                        "so that huggingface_hub uploads large files through plain LFS")


# -- discussions -------------------------------------------------------------------------------


def _text_field(body: dict[str, Any], name: str, limit: int) -> str:
    """A text field of a request: a string (or absent), storable as UTF-8, within ``limit``.

    JSON may carry a lone surrogate (``"\\ud800"``), which has no UTF-8 form: stored, it made
    every later answer that quotes it fail to encode. Such text is refused here, at the door.
    """
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f'"{name}" must be a string')
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise BadRequest(f'"{name}" holds text that is not valid Unicode (a lone surrogate): '
                         "send UTF-8 text") from None
    if size > limit:
        raise PayloadTooLarge(f'"{name}" is {size} bytes; the local hub takes at most {limit}')
    return value


def create_discussion(call: Call) -> Response:
    repo, caller = call.writable(repo_key(call))
    body = call.json()
    title = _text_field(body, "title", MAX_SUMMARY_BYTES)
    description = _text_field(body, "description", MAX_DESCRIPTION_BYTES)
    num = repo.open_discussion(title, description, caller.user,
                               pull_request=body.get("pullRequest") is True)
    return json_response({"num": num, "url": f"{repo_url(call, repo.key)}/discussions/{num}"})


def discussion_details(call: Call) -> Response:
    repo = call.readable(repo_key(call))
    try:
        num = int(call.params["num"])
    except ValueError as exc:
        raise RouteNotFound(f"Discussion {call.params['num']} not found") from exc
    record = repo.discussion(num)
    payload: dict[str, Any] = {
        "num": record.num, "title": record.title, "status": record.status,
        "createdAt": record.created_at, "isPullRequest": record.is_pull_request,
        "repo": {"name": repo.key.id, "type": repo.key.type}, "author": {"name": record.author},
        "pinned": False, "events": [{
            "id": f"{record.num}-opened", "type": "comment", "createdAt": record.created_at,
            "author": {"name": record.author},
            "data": {"edited": False, "hidden": False, "latest": {"raw": record.description}},
        }],
    }
    if record.is_pull_request:
        payload["changes"] = {"base": record.base}
        payload["filesWithConflicts"] = []
        payload["diff"] = ""
    return json_response(payload)


def list_discussions(call: Call) -> Response:
    repo = call.readable(repo_key(call))
    items = [{"num": d.num, "title": d.title, "status": d.status, "createdAt": d.created_at,
              "isPullRequest": d.is_pull_request, "author": {"name": d.author},
              "repo": {"name": repo.key.id, "type": repo.key.type}, "pinned": False}
             for d in repo.discussions()]
    return json_response({"discussions": items, "count": len(items), "start": 0,
                          "numClosedDiscussions": 0})
