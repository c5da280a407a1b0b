"""The ReportStore contract against the in-memory fake."""

from __future__ import annotations

import pytest

from services.ingest.store import InMemoryReportStore
from tests.unit.ingest_store_contract import ReportStoreContract


class TestInMemoryReportStore(ReportStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryReportStore:
        return InMemoryReportStore()
