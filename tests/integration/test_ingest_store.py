"""The ReportStore contract against the real FerretDB (MongoReportStore)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.ingest.store import MongoReportStore
from tests.unit.ingest_store_contract import ReportStoreContract

pytestmark = pytest.mark.integration


class TestMongoReportStore(ReportStoreContract):
    @pytest.fixture
    async def store(
        self, mongo_db: AsyncDatabase[dict[str, Any]]
    ) -> AsyncIterator[MongoReportStore]:
        yield MongoReportStore(mongo_db["reports"])
