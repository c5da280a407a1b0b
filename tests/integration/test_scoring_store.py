"""The ScoringStore contract against the real FerretDB (MongoScoringStore)."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.scoring.store import MongoScoringStore
from tests.unit.scoring_store_contract import ScoringStoreContract

pytestmark = pytest.mark.integration


class TestMongoScoringStore(ScoringStoreContract):
    @pytest.fixture
    async def store(self, mongo_db: AsyncDatabase[dict[str, Any]]) -> MongoScoringStore:
        return MongoScoringStore(mongo_db, "contract_")
