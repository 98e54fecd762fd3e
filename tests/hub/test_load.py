"""A bounded load test: 4 threads x 10 operations of concurrent uploads and downloads.

Threads share two repositories, so commits to one repository really race (the server serialises
them with a per-repository lock and a compare-and-swap on the ref). Every file is checked by
sha256 and each repository's history must be one chain holding every upload exactly once.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
import uuid
from pathlib import Path

import httpx
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download

THREADS = 4
OPERATIONS = 10
TIME_LIMIT_S = 60.0


def _access_lines(hub) -> int:
    return hub.log_text().count("publisher.hub.access")


def test_concurrent_uploads_and_downloads(hub_server, tmp_path):
    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.token)
    repos = [f"tester/load-{i}-{uuid.uuid4().hex[:6]}" for i in range(2)]
    for repo_id in repos:
        api.create_repo(repo_id)
    uploaded: dict[tuple[str, str], str] = {}  # (repo, path) -> sha256
    commits: dict[str, list[str]] = {repo_id: [] for repo_id in repos}
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + TIME_LIMIT_S
    requests_before = _access_lines(hub_server)
    started = time.monotonic()

    def upload(worker: int, step: int, repo_id: str) -> None:
        weights, notes = os.urandom(96 * 1024), f"worker {worker} step {step}\n".encode()
        prefix = f"w{worker}/s{step}"
        info = api.create_commit(repo_id, commit_message=f"{prefix}", operations=[
            CommitOperationAdd(f"{prefix}/weights.bin", weights),
            CommitOperationAdd(f"{prefix}/notes.txt", notes)])
        with lock:
            uploaded[(repo_id, f"{prefix}/weights.bin")] = hashlib.sha256(weights).hexdigest()
            uploaded[(repo_id, f"{prefix}/notes.txt")] = hashlib.sha256(notes).hexdigest()
            commits[repo_id].append(info.oid)

    def download(worker: int, rng: random.Random) -> None:
        with lock:
            if not uploaded:
                return
            (repo_id, path), digest = rng.choice(sorted(uploaded.items()))
        local = hf_hub_download(repo_id, path, endpoint=hub_server.endpoint, token=hub_server.token,
                                cache_dir=str(tmp_path / f"cache-{worker}"))
        if hashlib.sha256(Path(local).read_bytes()).hexdigest() != digest:
            raise AssertionError(f"{repo_id}/{path}: downloaded content differs")

    def worker(index: int) -> None:
        rng = random.Random(index)
        for step in range(OPERATIONS):
            if time.monotonic() > deadline:
                with lock:
                    errors.append(f"worker {index}: time limit reached at step {step}")
                return
            try:
                if step % 2 == 0:
                    upload(index, step, repos[(index + step) % len(repos)])
                else:
                    download(index, rng)
            except Exception as exc:  # collected: the assertion below names every failure
                with lock:
                    errors.append(f"worker {index} step {step}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIME_LIMIT_S + 10)
    elapsed = time.monotonic() - started
    time.sleep(0.2)  # the access log line is written after the response
    requests = _access_lines(hub_server) - requests_before
    print(f"\nload: {THREADS} threads x {OPERATIONS} ops, {requests} requests in {elapsed:.1f} s "
          f"= {requests / elapsed:.0f} requests/s, {len(errors)} errors")
    assert not any(t.is_alive() for t in threads), "a worker hung"
    assert errors == []
    assert elapsed < TIME_LIMIT_S

    client = httpx.Client(trust_env=False, headers={"authorization": f"Bearer {hub_server.token}"})
    for repo_id in repos:
        history = client.get(f"{hub_server.endpoint}/api/models/{repo_id}/commits/main?limit=50").json()
        ids = [c["id"] for c in history]
        for newer, older in zip(history, history[1:]):
            assert newer["parents"] == [older["id"]]  # one chain, no lost update
        assert history[-1]["parents"] == [] and history[-1]["title"] == "initial commit"
        assert sorted(ids[:-1]) == sorted(commits[repo_id])  # each upload exactly once
        files = {f.path: f for f in api.list_repo_tree(repo_id, recursive=True) if hasattr(f, "size")}
        for (owner, path), digest in uploaded.items():
            if owner != repo_id:
                continue
            entry = files[path]
            if entry.lfs:
                assert entry.lfs.sha256 == digest
            else:
                local = hf_hub_download(repo_id, path, endpoint=hub_server.endpoint,
                                        token=hub_server.token, cache_dir=str(tmp_path / "final"))
                assert hashlib.sha256(Path(local).read_bytes()).hexdigest() == digest
