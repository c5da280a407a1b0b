"""The problem store contract against its in-memory fake."""

from __future__ import annotations

import pytest

from services.scoring.problem_memory_store import InMemoryProblemStore
from tests.unit.problem_store_contract import ProblemStoreContract


class TestInMemoryProblemStore(ProblemStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryProblemStore:
        return InMemoryProblemStore()
