"""Git-style routes: file downloads (``resolve``) and the LFS batch / upload / verify protocol."""

from __future__ import annotations

import mimetypes
import re
from typing import Iterator
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse

from publisher.hub.server.api import repo_key, repo_url
from publisher.hub.server.errors import BadRequest, EntryNotFound, HubApiError, PayloadError
from publisher.hub.server.lfs_store import is_oid, is_size
from publisher.hub.server.wire import Call, json_response

LFS_CONTENT_TYPE = "application/vnd.git-lfs+json"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 1024 * 1024


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end inclusive)`` of a single satisfiable range; None means the whole file."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or match.group(1) == match.group(2) == "":
        return None  # malformed or multi-range: RFC 9110 allows ignoring it
    first, last = match.group(1), match.group(2)
    if first == "":
        start, end = max(size - int(last), 0), size - 1
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise HubApiError("Requested range not satisfiable", status=416,
                          headers={"Content-Range": f"bytes */{size}"})
    return start, end


def _file_chunks(path, start: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        handle.seek(start)
        while length > 0:
            chunk = handle.read(min(_CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


def resolve(call: Call) -> Response:
    repo = call.accessible(repo_key(call))
    sha = repo.resolve(call.params["rev"])
    path = call.params.get("path", "")
    entry = repo.get_entry(sha, path) if path else None
    if entry is None or entry.type != "file":
        # X-Repo-Commit lets the client cache the miss (``.no_exist``) for this commit.
        raise EntryNotFound(f"{path} does not exist at revision {call.params['rev']}",
                            headers={"X-Repo-Commit": sha})
    headers = {
        "X-Repo-Commit": sha,
        "ETag": f'"{entry.etag}"',
        "Accept-Ranges": "bytes",
        "Content-Type": mimetypes.guess_type(path)[0] or "application/octet-stream",
    }
    if entry.lfs:
        headers["X-Linked-Etag"] = f'"{entry.lfs.oid}"'
        headers["X-Linked-Size"] = str(entry.lfs.size)
    size = entry.size
    if call.method == "HEAD":
        return Response(status_code=200, headers={**headers, "Content-Length": str(size)})
    span = _byte_range(call.request.headers.get("range"), size)
    start, end = span if span else (0, size - 1)
    length = max(end - start + 1, 0)
    status = 206 if span else 200
    if span:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(length)
    if entry.lfs:
        lfs_path = repo.lfs.path_for(entry.lfs.oid)
        if not lfs_path.is_file():
            raise HubApiError(f"The LFS object of {path} is missing from the store", status=500)
        return StreamingResponse(_file_chunks(lfs_path, start, length), status_code=status,
                                 headers=headers)
    data = repo.read_blob(entry.oid)
    return Response(data[start:start + length], status_code=status, headers=headers)


def _object_problem(oid: object, size: object) -> str | None:
    """Why an LFS object named in a batch or verify request is malformed, or None."""
    if not is_oid(oid):
        return "Invalid oid: expected a sha256 as a string of 64 lowercase hexadecimal digits"
    if not is_size(size):
        return "Invalid size: expected a non-negative integer (not a boolean, float or string)"
    return None


def _lfs_json(payload: dict, status: int = 200) -> Response:
    response = json_response(payload, status=status)
    response.headers["Content-Type"] = LFS_CONTENT_TYPE
    return response


def lfs_batch(call: Call) -> Response:
    key = repo_key(call)
    body = call.json()
    operation = body.get("operation")
    if operation != "upload":
        call.readable(key)
        raise BadRequest("Only LFS uploads are served; download files through /resolve/")
    repo, _ = call.writable(key)
    objects = body.get("objects")
    if not isinstance(objects, list):
        raise BadRequest('Expected a JSON body with an "objects" list')
    answers = []
    for item in objects:
        oid, size = (item.get("oid"), item.get("size")) if isinstance(item, dict) else (None, None)
        problem = _object_problem(oid, size)
        if problem:
            # Answered per object, as the LFS batch API does, and echoed only in a safe form.
            answers.append({"oid": oid if isinstance(oid, str) else str(oid)[:100],
                            "size": size if is_size(size) else 0,
                            "error": {"code": 422, "message": problem}})
            continue
        if repo.lfs.size_of(oid) == size:
            answers.append({"oid": oid, "size": size})  # already stored: nothing to send
            continue
        # The client PUTs without credentials, so the href carries a signature instead.
        signed = urlencode(call.state.signer.sign(oid, size))
        answers.append({"oid": oid, "size": size, "authenticated": True, "actions": {
            "upload": {"href": f"{call.endpoint}/api/lfs-upload/{oid}?{signed}"},
            "verify": {"href": f"{repo_url(call, key)}.git/info/lfs/objects/verify"},
        }})
    return _lfs_json({"transfer": "basic", "objects": answers, "hash_algo": "sha256"})


async def lfs_upload(call: Call) -> Response:
    """``PUT`` of one object, streamed to a temp file and published only if its hash matches."""
    oid = call.params["oid"]
    size = call.state.signer.check(oid, dict(call.request.query_params))
    store = call.state.storage.lfs
    if store.size_of(oid) == size:
        async for _ in call.request.stream():
            pass
        return json_response({})
    upload = store.begin(oid, size)
    try:
        async for chunk in call.request.stream():
            upload.write(chunk)
        await run_in_threadpool(upload.commit)
    except ClientDisconnect:
        upload.abort()
        raise PayloadError("The upload was interrupted; retry it") from None
    except BaseException:
        upload.abort()
        raise
    return json_response({})


def lfs_verify(call: Call) -> Response:
    repo, _ = call.writable(repo_key(call))
    body = call.json()
    oid, size = body.get("oid"), body.get("size")
    problem = _object_problem(oid, size)
    if problem:
        raise PayloadError(problem)
    stored = repo.lfs.size_of(oid)
    if stored is None or stored != size:
        raise PayloadError(f"LFS object {oid} of size {size} is not stored: upload it again")
    return _lfs_json({"oid": oid, "size": size})
