"""The engine cases (tests/unit/scoring_engine_cases.py) against FerretDB: the Mongo adapter
under the very cases the in-memory run checks in milliseconds."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.scoring.store import MongoScoringStore, ScoringStore
from tests.unit.scoring_engine_cases import EngineCases, Stores, catalog, plan

pytestmark = pytest.mark.integration

__all__ = ["catalog", "plan"]  # the cases' fixtures


class TestEngineOnFerretDB(EngineCases):
    @pytest.fixture
    def stores(self, mongo_db: AsyncDatabase[dict[str, Any]]) -> Stores:
        def store(prefix: str = "scoring_") -> ScoringStore:
            return MongoScoringStore(mongo_db, prefix)

        return store
