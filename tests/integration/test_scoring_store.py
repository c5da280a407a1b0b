"""The ScoringStore contract against the real FerretDB (MongoScoringStore)."""

from __future__ import annotations

import json
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


async def test_bulky_parts_are_stored_as_text_and_read_back_as_documents(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    """The representation the engine never sees: a target document's window, outbox, results,
    alerts and winners are JSON text in the collection, compressed when long (FerretDB converts
    every nested element on each write; see store.py), and documents again when read."""
    store = MongoScoringStore(mongo_db, "packed_")
    tail = [{"as_of": f"2022-01-{day:02d}", "value": day * 1.5} for day in range(1, 29)]
    window = {"first": None, "tail": tail, "count": 28}  # long: compressed
    outbox = {"points": [], "history": [], "messages": [{"topic": "t", "value": "v"}]}  # short
    await store.write_targets({"p:t": {"plan": "p", "window": window, "outbox": outbox}})
    raw = await mongo_db["packed_targets"].find_one({"_id": "p:t"})
    assert raw is not None
    assert isinstance(raw["window"], bytes) and isinstance(raw["outbox"], str)
    assert raw["plan"] == "p"  # what is queried stays a field
    [loaded] = await store.load_targets(["p:t"])
    assert loaded["window"] == window and loaded["outbox"] == outbox
    shown = await store.target("p:t")
    assert shown is not None and shown["window"] == window and "outbox" not in shown
    after = {"status": "on_track", "score": 0.5}
    record = {"_id": "p:t:e1", "plan": "p", "target": "t", "seq": 1, "before": None}
    await store.insert_history([{**record, "after": after}])
    raw_record = await mongo_db["packed_history"].find_one({"_id": "p:t:e1"})
    assert raw_record is not None and isinstance(raw_record["after"], str)
    assert raw_record["before"] is None
    assert await store.target_history("p", "t", limit=5) == [{**record, "after": after}]


async def test_parts_stored_by_an_earlier_version_still_load(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    store = MongoScoringStore(mongo_db, "nested_")
    window: dict[str, Any] = {"first": None, "tail": [], "count": 0}
    nested = {"_id": "p:t", "plan": "p", "window": window}
    as_text = {"_id": "p:u", "plan": "p", "window": json.dumps(window)}  # uncompressed text
    await mongo_db["nested_targets"].insert_many([nested, as_text])
    assert [doc["window"] for doc in await store.load_targets(["p:t", "p:u"])] == [window] * 2
    await store.insert_history([{"_id": "p:t:e1", "plan": "p", "target": "t", "seq": 1}])
    await mongo_db["nested_history"].insert_one(
        {"_id": "p:t:e2", "plan": "p", "target": "t", "seq": 2, "after": {"status": "on_track"}}
    )
    newest, oldest = await store.target_history("p", "t", limit=2)
    assert newest["after"] == {"status": "on_track"} and oldest["seq"] == 1
