"""The scoring state in MongoDB / FerretDB: five collections under a name prefix.

- `<p>targets`  `_id` "plan:target": window (first, tail, count, max_as_of), last report, the
  current result (CLI JSON), alert states, and the outbox of the last write (points, history,
  messages) so a crash after the write re-sends exactly what that write produced.
- `<p>points`   `_id` "plan:target:as_of:event_id": an insert-only log of the events that
  became the winner of their (target, as_of); a date's winner is the greatest of its entries.
- `<p>history`  `_id` "plan:target:trigger": one record per change of a target's result.
- `<p>plans`    `_id` plan id: the whole plan state (`plan_state_to_json`) and the clock.
- `<p>meta`     `_id` "clock": the service clock (the greatest any replica has applied).
- `<p>owners`   `_id` "partition:<n>": the fencing epoch of an input partition, bumped by every
  replica that is assigned the partition (ownership itself comes from Kafka's consumer group).

Writes are inserts (points, history: a re-sent duplicate is skipped) or upserts by `_id` into
the small collections (targets, plans, meta); nothing spans two documents atomically, and every
write is idempotent.

Packed parts: a target document's parts (`PACKED_FIELDS`: window, outbox, results, alerts,
breakdown and tracked winners) and a history record's results are stored as JSON text, as a plan
document's state is, and zlib-compressed (BSON binary) from `COMPRESS_FROM` characters on.
FerretDB's SQLite backend converts every nested element of a document on each read and write,
and its cost per write grows with the document's bytes; these parts are rewritten with every
report. Measured on this machine (docs/scoring-service.md, state layout): kept nested, 8 fenced
updates of two 4 KB parts cost 51 ms, as text 11 ms; compressing the text halved FerretDB's CPU
per target write again. Nothing queries inside these parts; readers get them back as
documents, and parts stored nested or as plain text by an earlier version still load.

Fencing: a replica assigned a partition takes the next epoch of the partition and claims the
documents of its targets with it; every later write of a target document is conditional on that
epoch, so a paused replica that lost the partition meanwhile writes nothing. Plan documents and
the clock are written only forward (a later clock, or the same clock from more target writes).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pymongo import DESCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.scoring.documents import target_id_range
from shared.runtime.mongo import Document, next_epoch, upsert_racing

DEFAULT_PREFIX = "scoring_"
CLOCK_ID = "clock"
DUPLICATE_KEY = 11000


class ScoringStore(Protocol):
    """The scoring state's port: `MongoScoringStore` (this module) and `InMemoryScoringStore`
    (services/scoring/memory_store.py) both pass `tests/unit/scoring_store_contract.py`."""

    @property
    def location(self) -> str:
        """Where the state lives, for messages (collections and database)."""
        ...

    async def drop(self) -> None: ...
    async def is_empty(self) -> bool: ...
    async def load_meta(self) -> Document | None: ...
    async def load_targets(self, keys: Sequence[str] | None = None) -> list[Document]: ...
    async def plan_results(self, plan: str) -> list[Document]: ...
    async def next_epoch(self, partition: int) -> int: ...
    async def claim_targets(self, epochs: Mapping[str, int]) -> set[str]: ...
    async def load_plans(self) -> list[Document]: ...
    async def target_points(
        self, plan: str, target: str, before: str | None = None
    ) -> list[Document]: ...
    async def date_points(self, plan: str, target: str, as_of: str) -> list[Document]: ...
    async def write_targets(
        self, updates: Mapping[str, Document], epochs: Mapping[str, int] | None = None
    ) -> set[str]: ...
    async def insert_points(self, docs: Sequence[Document]) -> None: ...
    async def insert_history(self, docs: Sequence[Document]) -> None: ...
    async def write_plan(self, plan: str, fields: Document, clock_us: int, basis: int) -> bool: ...
    async def advance_clock(self, at: str, at_us: int) -> None: ...
    async def write_meta(self, fields: Document) -> None: ...
    async def plan(self, plan: str) -> Document | None: ...
    async def target(self, key: str) -> Document | None: ...
    async def target_history(
        self, plan: str, target: str, limit: int, before_seq: int | None = None
    ) -> list[Document]: ...


# Fields of a target document a roll-up needs (whichever replica wrote it).
ROLL_UP_FIELDS = ("target", "result_full", "version", "scoped", "tracked")
# A target document's machine-only parts, and a history record's results, stored as JSON text
# (see the module's docstring).
PACKED_FIELDS = frozenset(
    {"window", "outbox", "result", "result_full", "alerts", "scoped", "tracked"}
)
PACKED_HISTORY_FIELDS = frozenset({"before", "after"})
# A packed part this long or longer is stored zlib-compressed (BSON binary): a window of 64
# points is ~8 KB of JSON and ~1 KB compressed, and FerretDB's cost per write grows with bytes.
COMPRESS_FROM = 512
COMPRESS_LEVEL = 1


def pack(doc: Document, fields: frozenset[str] = PACKED_FIELDS) -> Document:
    """A document as stored: its packed parts as JSON text."""
    return {
        name: _pack(value) if name in fields and value is not None else value
        for name, value in doc.items()
    }


def unpack(doc: Document, fields: frozenset[str] = PACKED_FIELDS) -> Document:
    """A stored document as the scoring engine reads it (packed parts decoded; parts stored
    nested by an earlier version are taken as they are)."""
    return {name: _unpack(value) if name in fields else value for name, value in doc.items()}


def _pack(value: Any) -> str | bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if len(text) < COMPRESS_FROM:
        return text
    return zlib.compress(text.encode("utf-8"), COMPRESS_LEVEL)


def _unpack(value: Any) -> Any:
    if isinstance(value, bytes):
        return json.loads(zlib.decompress(value))
    if isinstance(value, str):
        return json.loads(value)
    return value  # stored nested by an earlier version


class MongoScoringStore:
    def __init__(self, db: AsyncDatabase[Document], prefix: str = DEFAULT_PREFIX) -> None:
        self.db = db
        self.prefix = prefix
        self.targets: AsyncCollection[Document] = db[f"{prefix}targets"]
        self.points: AsyncCollection[Document] = db[f"{prefix}points"]
        self.history: AsyncCollection[Document] = db[f"{prefix}history"]
        self.plans: AsyncCollection[Document] = db[f"{prefix}plans"]
        self.meta: AsyncCollection[Document] = db[f"{prefix}meta"]
        self.owners: AsyncCollection[Document] = db[f"{prefix}owners"]

    @property
    def location(self) -> str:
        return f"collections with prefix {self.prefix!r} in database {self.db.name!r}"

    def _collections(self) -> tuple[AsyncCollection[Document], ...]:
        return (self.targets, self.points, self.history, self.plans, self.meta, self.owners)

    async def drop(self) -> None:
        for collection in self._collections():
            await collection.drop()

    async def is_empty(self) -> bool:
        for collection in self._collections():
            if await collection.find_one({}, {"_id": 1}) is not None:
                return False
        return True

    # --- the service's reads and writes ---------------------------------------------------

    async def load_meta(self) -> Document | None:
        return await self.meta.find_one({"_id": CLOCK_ID})

    async def load_targets(self, keys: Sequence[str] | None = None) -> list[Document]:
        """The target documents of `keys`, or every one (one per target of the catalog: a small
        collection)."""
        query: Document = {} if keys is None else {"_id": {"$in": list(keys)}}
        return [unpack(doc) async for doc in self.targets.find(query)]

    async def plan_results(self, plan: str) -> list[Document]:
        """Each stored target of a plan: its full result, version and the clock it was
        evaluated at (what a roll-up needs, whichever replica wrote it)."""
        projection = dict.fromkeys(ROLL_UP_FIELDS, 1)
        return [unpack(doc) async for doc in self.targets.find({"plan": plan}, projection)]

    # --- fencing ---------------------------------------------------------------------------

    async def next_epoch(self, partition: int) -> int:
        return await next_epoch(self.owners, partition)

    async def claim_targets(self, epochs: Mapping[str, int]) -> set[str]:
        """Stamp each target document with its partition's epoch (creating an empty one where
        none exists yet); returns the keys a newer epoch already holds (this replica is stale
        for them)."""
        lost: set[str] = set()
        for key, epoch in sorted(epochs.items()):
            if not await _set_if(self.targets, key, _older("epoch", epoch), {"epoch": epoch}):
                lost.add(key)
        return lost

    async def load_plans(self) -> list[Document]:
        return [doc async for doc in self.plans.find({})]

    async def target_points(
        self, plan: str, target: str, before: str | None = None
    ) -> list[Document]:
        """Every points-log document of one target (dated before `before`, an ISO date, when
        given): an `_id` range, which MongoDB's `_id` index bounds (FerretDB's SQLite backend
        scans it still); the fallback path and the API's series, never the per-event path."""
        low, high = target_id_range(plan, target, before)
        query = {"_id": {"$gte": low, "$lt": high}, "plan": plan, "target": target}
        return [doc async for doc in self.points.find(query)]

    async def date_points(self, plan: str, target: str, as_of: str) -> list[Document]:
        """The points-log documents of one (target, as_of), an `_id` range: for a correction
        dated before the window."""
        low, _ = target_id_range(plan, target)
        query = {"_id": {"$gte": f"{low}{as_of}:", "$lt": f"{low}{as_of};"}, "as_of": as_of}
        return [doc async for doc in self.points.find(query)]

    async def write_targets(
        self, updates: Mapping[str, Document], epochs: Mapping[str, int] | None = None
    ) -> set[str]:
        """Write target documents (each write counts in the document's `version`); with
        `epochs`, each only where the document still carries its epoch. Returns the keys not
        written because a newer epoch holds them (fenced)."""
        if not updates:
            return set()
        stored = {key: pack(fields) for key, fields in updates.items()}
        if epochs is None:
            await _upsert_all(self.targets, stored, "$set", inc={"version": 1})
            return set()
        operations: list[Any] = [
            UpdateOne({"_id": key, "epoch": epochs[key]}, {"$set": fields, "$inc": {"version": 1}})
            for key, fields in sorted(stored.items())
        ]
        result = await self.targets.bulk_write(operations, ordered=False)
        if result.matched_count == len(operations):
            return set()
        held = {
            doc["_id"]
            async for doc in self.targets.find({"_id": {"$in": list(updates)}}, {"epoch": 1})
            if doc.get("epoch") == epochs[doc["_id"]]
        }
        return set(updates) - held

    async def insert_points(self, docs: Sequence[Document]) -> None:
        """New winners: inserted in batches (an insert is cheap on FerretDB at any size; an
        update or lookup by `_id` gets slower as the collection grows)."""
        await _insert_new(self.points, docs)

    async def insert_history(self, docs: Sequence[Document]) -> None:
        """History records: written once, never changed (a re-sent one is a no-op)."""
        await _insert_new(self.history, [pack(doc, PACKED_HISTORY_FIELDS) for doc in docs])

    async def write_plan(self, plan: str, fields: Document, clock_us: int, basis: int) -> bool:
        """Write a plan document if it is newer than the stored one: a later clock, or the same
        clock rolled up from more target writes (`basis`, the sum of their versions). False
        when the stored one is as new (another replica got there first)."""
        newer: Document = {
            "$or": [
                {"clock_us": {"$lt": clock_us}},
                {"clock_us": clock_us, "basis": {"$lt": basis}},
                {"clock_us": {"$exists": False}},
            ]
        }
        return await _set_if(
            self.plans, plan, newer, {**fields, "clock_us": clock_us, "basis": basis}
        )

    async def advance_clock(self, at: str, at_us: int) -> None:
        """Move the stored clock forward to `at` (never back: replicas write it in any order)."""
        await _set_if(self.meta, CLOCK_ID, _older("at_us", at_us), {"at": at, "at_us": at_us})

    async def write_meta(self, fields: Document) -> None:
        await upsert_racing(
            lambda: self.meta.update_one({"_id": CLOCK_ID}, {"$set": fields}, upsert=True)
        )

    # --- the read API's reads --------------------------------------------------------------

    async def plan(self, plan: str) -> Document | None:
        return await self.plans.find_one({"_id": plan})

    async def target(self, key: str) -> Document | None:
        doc = await self.targets.find_one({"_id": key}, {"outbox": 0})
        return unpack(doc) if doc is not None else None

    async def target_history(
        self, plan: str, target: str, limit: int, before_seq: int | None = None
    ) -> list[Document]:
        """The target's newest `limit` changes (older than `before_seq` when given), in its
        `_id` range."""
        low, high = target_id_range(plan, target)
        query: Document = {"_id": {"$gte": low, "$lt": high}, "plan": plan, "target": target}
        if before_seq is not None:
            query["seq"] = {"$lt": before_seq}
        cursor = self.history.find(query).sort("seq", DESCENDING).limit(limit)
        return [unpack(doc, PACKED_HISTORY_FIELDS) async for doc in cursor]


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


def _older(field: str, value: int) -> Document:
    """A filter: the document's `field` is below `value`, or it has none."""
    return {"$or": [{field: {"$lt": value}}, {field: {"$exists": False}}]}


async def _set_if(
    collection: AsyncCollection[Document], key: str, condition: Document, fields: Document
) -> bool:
    """Set `fields` on document `key` if it matches `condition`, creating it if absent. False
    when the document exists and does not match (the upsert's insert then meets its `_id`)."""
    try:
        await upsert_racing(
            lambda: collection.update_one({"_id": key, **condition}, {"$set": fields}, upsert=True)
        )
    except DuplicateKeyError:
        return False
    return True


async def _upsert_all(
    collection: AsyncCollection[Document],
    updates: Mapping[str, Document],
    operator: str,
    inc: Document | None = None,
) -> None:
    if not updates:
        return
    extra = {"$inc": inc} if inc else {}
    operations: list[Any] = [
        UpdateOne({"_id": key}, {operator: fields, **extra}, upsert=True)
        for key, fields in sorted(updates.items())
    ]
    await collection.bulk_write(operations, ordered=False)
