"""The engine cases (tests/unit/scoring_engine_cases.py) in memory: the engine's logic (fold,
windows, fallbacks, roll-ups, tracked subjects, alerts, crash recovery) against the
ScoringStore fake, in milliseconds."""

from __future__ import annotations

import pytest

from services.scoring.memory_store import InMemoryScoringStore
from services.scoring.store import ScoringStore
from tests.unit.scoring_engine_cases import EngineCases, Stores, catalog, plan

__all__ = ["catalog", "plan"]  # the cases' fixtures


class TestEngineInMemory(EngineCases):
    @pytest.fixture
    def stores(self) -> Stores:
        made: dict[str, InMemoryScoringStore] = {}

        def store(prefix: str = "scoring_") -> ScoringStore:
            return made.setdefault(prefix, InMemoryScoringStore())

        return store
