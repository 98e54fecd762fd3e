from __future__ import annotations

import pytest

from publisher.results import Report
from tests.card.seed import seed_report


@pytest.fixture
def seed() -> Report:
    return seed_report()
