"""The key repository and audit log contracts against the real FerretDB."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.ingest.keyring import MongoKeyRepository, register
from shared.runtime.audit import MongoAuditLog
from tests.unit.audit_log_contract import AuditLogContract
from tests.unit.ingest_support import agency_key
from tests.unit.key_repository_contract import KeyRepositoryContract

pytestmark = pytest.mark.integration


class TestMongoKeyRepository(KeyRepositoryContract):
    @pytest.fixture
    def repository(self, mongo_db: AsyncDatabase[dict[str, Any]]) -> MongoKeyRepository:
        return MongoKeyRepository(mongo_db["agency_keys"])

    async def test_a_malformed_entry_is_named_and_never_hides_the_others(
        self, mongo_db: AsyncDatabase[dict[str, Any]]
    ) -> None:
        """Only a real database can hold an entry the model refuses (written by hand)."""
        repository = MongoKeyRepository(mongo_db["agency_keys"])
        await register(repository, agency_key("qy.gov-data", "k1"))
        await mongo_db["agency_keys"].insert_one({"_id": "qy.miit/bad", "agency": "qy.miit"})
        listing = await repository.all()
        assert [k.key_id for k in listing.keys] == ["k1"]
        assert len(listing.bad) == 1 and "qy.miit/bad" in listing.bad[0]


class TestMongoAuditLog(AuditLogContract):
    @pytest.fixture
    def audit(self, mongo_db: AsyncDatabase[dict[str, Any]]) -> MongoAuditLog:
        return MongoAuditLog(mongo_db["audit"])
