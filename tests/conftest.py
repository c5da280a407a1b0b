"""Shared pytest configuration.

Every test under tests/integration/ is marked `integration` automatically (marking it explicitly
too is fine), so `pytest -m "not integration"` runs only the fast unit tests. The servers are
started by tests/integration/conftest.py, which pytest loads only when integration tests are
collected: unit tests never start anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _INTEGRATION_DIR in item.path.parents:
            item.add_marker(pytest.mark.integration)
