"""The NotifyStore contract against the in-memory fake."""

from __future__ import annotations

import pytest
from bson.errors import InvalidDocument

from services.notify.memory_store import InMemoryNotifyStore
from tests.unit.notify_fixtures import T0
from tests.unit.notify_store_contract import NotifyStoreContract


class TestInMemoryNotifyStore(NotifyStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryNotifyStore:
        return InMemoryNotifyStore()


async def test_what_bson_cannot_hold_is_refused_as_mongodb_would() -> None:
    store = InMemoryNotifyStore()
    with pytest.raises(InvalidDocument):
        await store.record("ops", "silence.create", "s1", {"by_number": {1: "one"}}, T0)
    assert await store.entries() == []


async def test_refused_input_is_kept_with_its_reason() -> None:
    store = InMemoryNotifyStore()
    await store.record_rejected("r1", b"\xffnot json", "not_utf8", T0)
    assert store.rejected() == {"r1": {"raw": "\ufffdnot json", "reason": "not_utf8", "at": T0}}
