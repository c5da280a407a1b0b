"""The scoring state in MongoDB / FerretDB: five collections under a name prefix.

- `<p>targets`  `_id` "plan:target": window (first, tail, count, max_as_of), last report, the
  current result (CLI JSON), alert states, and the outbox of the last write (points, history,
  messages) so a crash after the write re-sends exactly what that write produced.
- `<p>points`   `_id` "plan:target:as_of": the winning event of each (target, as_of).
- `<p>history`  `_id` "plan:target:trigger": one record per change of a target's result.
- `<p>plans`    `_id` plan id: the whole plan state (`plan_state_to_json`) and the clock.
- `<p>meta`     `_id` "clock": the service clock.

Every write is an upsert by `_id` (FerretDB indexes only exact `_id` filters); nothing spans
two documents atomically, and every write is idempotent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from shared.runtime.mongo import Document

DEFAULT_PREFIX = "scoring_"
CLOCK_ID = "clock"
# At most this many exact-`_id` reads in flight at once.
READ_CONCURRENCY = 32


class ScoringStore:
    def __init__(self, db: AsyncDatabase[Document], prefix: str = DEFAULT_PREFIX) -> None:
        self.db = db
        self.prefix = prefix
        self.targets: AsyncCollection[Document] = db[f"{prefix}targets"]
        self.points: AsyncCollection[Document] = db[f"{prefix}points"]
        self.history: AsyncCollection[Document] = db[f"{prefix}history"]
        self.plans: AsyncCollection[Document] = db[f"{prefix}plans"]
        self.meta: AsyncCollection[Document] = db[f"{prefix}meta"]

    async def drop(self) -> None:
        for collection in (self.targets, self.points, self.history, self.plans, self.meta):
            await collection.drop()

    async def is_empty(self) -> bool:
        for collection in (self.targets, self.points, self.history, self.plans, self.meta):
            if await collection.find_one({}, {"_id": 1}) is not None:
                return False
        return True

    # --- the service's reads and writes ---------------------------------------------------

    async def load_meta(self) -> Document | None:
        return await self.meta.find_one({"_id": CLOCK_ID})

    async def load_targets(self) -> list[Document]:
        """Every target document (one per target of the catalog: a small collection)."""
        return [doc async for doc in self.targets.find({})]

    async def load_plans(self) -> list[Document]:
        return [doc async for doc in self.plans.find({})]

    async def read_points(self, ids: Iterable[str]) -> dict[str, Document]:
        """Points by exact `_id` (indexed on FerretDB, unlike `$in`), read concurrently."""
        wanted = sorted(set(ids))
        limit = asyncio.Semaphore(READ_CONCURRENCY)

        async def one(point_id: str) -> Document | None:
            async with limit:
                return await self.points.find_one({"_id": point_id})

        found = await asyncio.gather(*(one(i) for i in wanted))
        return {doc["_id"]: doc for doc in found if doc is not None}

    async def target_points(self, plan: str, target: str) -> list[Document]:
        """Every point of one target, sorted by `as_of`. A scan on FerretDB: the fallback path
        (and the API's series), never the per-event path."""
        cursor = self.points.find({"plan": plan, "target": target}).sort("as_of", ASCENDING)
        return [doc async for doc in cursor]

    async def write_targets(self, updates: Mapping[str, Document]) -> None:
        await _upsert_all(self.targets, updates, "$set")

    async def write_points(self, docs: Sequence[Document]) -> None:
        await _upsert_all(self.points, {d["_id"]: _without_id(d) for d in docs}, "$set")

    async def write_history(self, docs: Sequence[Document]) -> None:
        # $setOnInsert: a record, once written, never changes (a re-sent one is a no-op).
        await _upsert_all(self.history, {d["_id"]: _without_id(d) for d in docs}, "$setOnInsert")

    async def write_plans(self, updates: Mapping[str, Document]) -> None:
        await _upsert_all(self.plans, updates, "$set")

    async def write_meta(self, fields: Document) -> None:
        await self.meta.update_one({"_id": CLOCK_ID}, {"$set": fields}, upsert=True)

    # --- the read API's reads --------------------------------------------------------------

    async def plan(self, plan: str) -> Document | None:
        return await self.plans.find_one({"_id": plan})

    async def target(self, key: str) -> Document | None:
        return await self.targets.find_one({"_id": key}, {"outbox": 0})

    async def target_history(self, plan: str, target: str, limit: int) -> list[Document]:
        cursor = (
            self.history.find({"plan": plan, "target": target}).sort("at", DESCENDING).limit(limit)
        )
        return [doc async for doc in cursor]


def _without_id(doc: Document) -> Document:
    return {k: v for k, v in doc.items() if k != "_id"}


async def _upsert_all(
    collection: AsyncCollection[Document], updates: Mapping[str, Document], operator: str
) -> None:
    if not updates:
        return
    operations: list[Any] = [
        UpdateOne({"_id": key}, {operator: fields}, upsert=True)
        for key, fields in sorted(updates.items())
    ]
    await collection.bulk_write(operations, ordered=False)
