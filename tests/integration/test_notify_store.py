"""The NotifyStore contract against the real FerretDB (MongoNotifyStore)."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.notify.mongo_store import MongoNotifyStore
from tests.unit.notify_store_contract import NotifyStoreContract

pytestmark = pytest.mark.integration


class TestMongoNotifyStore(NotifyStoreContract):
    @pytest.fixture
    async def store(self, mongo_db: AsyncDatabase[dict[str, Any]]) -> MongoNotifyStore:
        return MongoNotifyStore(mongo_db)
