"""Keep every test under tests/hub away from the user's Hugging Face home, cache and token.

huggingface_hub resolves its paths when it is imported, so the environment alone is not enough:
the resolved constants are patched too, for the whole session.
"""

from __future__ import annotations

from typing import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def isolated_hf_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    import huggingface_hub.constants as constants

    home = tmp_path_factory.mktemp("hf_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HOME", str(home))
        patch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        patch.setenv("HF_HUB_DISABLE_XET", "1")
        # Servers started by tests register in a folder of the session, not the user's cache.
        patch.setenv("PUBLISHER_HUB_REGISTRY", str(home / "hub-registry"))
        patch.delenv("HF_TOKEN", raising=False)
        patch.delenv("HF_HUB_OFFLINE", raising=False)
        patch.setattr(constants, "HF_HOME", str(home))
        patch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
        patch.setattr(constants, "HUGGINGFACE_HUB_CACHE", str(home / "hub"))
        patch.setattr(constants, "HF_ASSETS_CACHE", str(home / "assets"))
        patch.setattr(constants, "HF_XET_CACHE", str(home / "xet"))
        patch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
        patch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
        patch.setattr(constants, "HF_HUB_DISABLE_XET", True)
        patch.setattr(constants, "HF_HUB_OFFLINE", False)
        yield


@pytest.fixture
def cache_dir(tmp_path) -> str:
    """A download cache of the test's own, so each download really goes over the wire."""
    path = tmp_path / "cache"
    path.mkdir()
    return str(path)
