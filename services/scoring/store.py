"""The scoring state in MongoDB / FerretDB: five collections under a name prefix.

- `<p>targets`  `_id` "plan:target": window (first, tail, count, max_as_of), last report, the
  current result (CLI JSON), alert states, and the outbox of the last write (points, history,
  messages) so a crash after the write re-sends exactly what that write produced.
- `<p>points`   `_id` "plan:target:as_of:event_id": an insert-only log of the events that
  became the winner of their (target, as_of); a date's winner is the greatest of its entries.
- `<p>history`  `_id` "plan:target:trigger": one record per change of a target's result.
- `<p>plans`    `_id` plan id: the whole plan state (`plan_state_to_json`) and the clock.
- `<p>meta`     `_id` "clock": the service clock.

Writes are inserts (points, history: a re-sent duplicate is skipped) or upserts by `_id` into
the small collections (targets, plans, meta); nothing spans two documents atomically, and every
write is idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import DESCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from shared.runtime.mongo import Document

DEFAULT_PREFIX = "scoring_"
CLOCK_ID = "clock"
DUPLICATE_KEY = 11000


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

    async def target_points(self, plan: str, target: str) -> list[Document]:
        """Every points-log document of one target. A scan on FerretDB (it indexes `_id`
        equality only, and even that costs more as a collection grows): the fallback path and
        the API's series, never the per-event path."""
        return [doc async for doc in self.points.find({"plan": plan, "target": target})]

    async def date_points(self, plan: str, target: str, as_of: str) -> list[Document]:
        """The points-log documents of one (target, as_of): a scan, for a correction dated
        before the window."""
        query = {"plan": plan, "target": target, "as_of": as_of}
        return [doc async for doc in self.points.find(query)]

    async def write_targets(self, updates: Mapping[str, Document]) -> None:
        await _upsert_all(self.targets, updates, "$set")

    async def insert_points(self, docs: Sequence[Document]) -> None:
        """New winners: inserted in batches (an insert is cheap on FerretDB at any size; an
        update or lookup by `_id` gets slower as the collection grows)."""
        await _insert_new(self.points, docs)

    async def insert_history(self, docs: Sequence[Document]) -> None:
        """History records: written once, never changed (a re-sent one is a no-op)."""
        await _insert_new(self.history, docs)

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
            self.history.find({"plan": plan, "target": target}).sort("seq", DESCENDING).limit(limit)
        )
        return [doc async for doc in cursor]


async def _insert_new(collection: AsyncCollection[Document], docs: Sequence[Document]) -> None:
    """Insert; documents already there (a re-sent outbox: same `_id`, same content) are
    skipped. Any other write error is raised."""
    if not docs:
        return
    try:
        await collection.insert_many(list(docs), ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if not errors or any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise


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
