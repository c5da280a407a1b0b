"""The ScoringStore contract against the in-memory fake."""

from __future__ import annotations

import pytest

from services.scoring.memory_store import InMemoryScoringStore
from tests.unit.scoring_store_contract import ScoringStoreContract


class TestInMemoryScoringStore(ScoringStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryScoringStore:
        return InMemoryScoringStore()
