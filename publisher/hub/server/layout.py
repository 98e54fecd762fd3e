"""File names under a local hub root, shared by the server and by ``publisher.hub.local``."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_ROOT = Path("artifacts/hub")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8900

SERVER_STATE = "server.json"  # written by the running server: pid, host, port, endpoint, root
SERVER_LOCK = "server.lock"  # flock'ed by the one server that owns the root
SERVER_LOG = Path("logs") / "server.log"  # where a detached server (ensure_local_hub) writes
TOKEN_FILE = Path("auth") / "token"
LFS_SECRET_FILE = Path("auth") / "lfs-secret"
FAULTS_ENV = "PUBLISHER_HUB_FAULTS"  # test-only fault injection (faults.py), off when unset

# Where running hubs announce themselves to ``publisher hub status``, one ``<pid>.json`` each:
# a server's own root says nothing about the other roots that have servers.
REGISTRY_ENV = "PUBLISHER_HUB_REGISTRY"


def registry_dir() -> Path:
    explicit = os.environ.get(REGISTRY_ENV)
    if explicit:
        return Path(explicit)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "publisher" / "local-hubs"
