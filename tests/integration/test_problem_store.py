"""The problem store contract against the real FerretDB (MongoProblemStore)."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.scoring.problem_store import MongoProblemStore
from tests.unit.problem_store_contract import ProblemStoreContract

pytestmark = pytest.mark.integration


class TestMongoProblemStore(ProblemStoreContract):
    @pytest.fixture
    async def store(self, mongo_db: AsyncDatabase[dict[str, Any]]) -> MongoProblemStore:
        return MongoProblemStore(mongo_db, "contract_")
