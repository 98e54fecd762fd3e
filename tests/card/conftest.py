from __future__ import annotations

from typing import Iterator

import pytest

from publisher.results import Report
from tests.card.seed import seed_report


@pytest.fixture
def seed() -> Report:
    return seed_report()


@pytest.fixture(scope="session")
def isolated_hf_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Downloads from the local hub never touch the user's Hugging Face home."""
    import huggingface_hub.constants as constants

    home = tmp_path_factory.mktemp("card-hf-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HOME", str(home))
        patch.setattr(constants, "HF_HOME", str(home))
        patch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
        yield


@pytest.fixture
def client(hub_server, isolated_hf_home):
    """A publisher HubClient on the session's local hub, with its write token."""
    from publisher.hub.client import HubClient, HubTarget

    return HubClient(HubTarget(endpoint=hub_server.endpoint, kind="local", token=hub_server.token))
