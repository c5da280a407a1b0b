"""Problems raised and followed, in MongoDB / FerretDB: one collection, `<prefix>problems`.

`_id` "plan:problem_id"; `history` holds the problem's entries as a set (one field per event
id, `services.scoring.problem_documents`), the other fields are derived from it. `ProblemStore`
is the port; `MongoProblemStore` the adapter and `InMemoryProblemStore`
(services/scoring/problem_memory_store.py) the fake; both pass
tests/unit/problem_store_contract.py.

No ownership and no fencing: adding an entry is one idempotent `$set` of its own field, and a
derived summary is written only over one derived from fewer entries (the history only grows,
and a single document's reads see it grow: the larger count is the later, fuller set). So any
replica may apply any problem event, in any order, any number of times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.scoring.problem_documents import entry_field
from shared.runtime.mongo import Document, upsert_racing

PROBLEMS = "problems"


@dataclass(frozen=True, slots=True)
class ProblemQuery:
    """Which problems to list; every filter given must match (None: any)."""

    plan: str | None = None
    states: tuple[str, ...] | None = None  # derived states: open, acknowledged, resolved, closed
    raised_by: str | None = None
    asked: str | None = None  # an agency named in `from_agencies`
    subject: str | None = None  # the target, deliverable, indicator or task id
    task: str | None = None  # the subject's task (every problem on it or on its targets)


class ProblemStore(Protocol):
    @property
    def location(self) -> str: ...

    async def drop(self) -> None: ...

    async def add_entry(self, key: str, plan: str, problem_id: str, entry: Document) -> Document:
        """Add `entry` (with its `event_id`) to problem `key`'s history, creating the document
        if absent; adding it again changes nothing. Returns the document as stored after the
        write: every entry added so far, by whichever writer."""
        ...

    async def write_summary(self, key: str, fields: Document, derived_from: int) -> bool:
        """Set the derived `fields` if the stored ones were derived from fewer entries (or none
        were); False when they were not written."""
        ...

    async def mark_escalated(self, key: str, at: str) -> bool:
        """Record that the problem's overdue alert was sent (`escalated_at`), once: True when
        this call recorded it."""
        ...

    async def problem(self, key: str) -> Document | None: ...

    async def problems(self, query: ProblemQuery) -> list[Document]:
        """Every raised problem that matches `query` (documents whose history has no raise yet
        are left out)."""
        ...


def query_filter(query: ProblemQuery) -> Document:
    """The MongoDB filter of a `ProblemQuery` (the fake reads it too)."""
    found: Document = {"state": {"$ne": None}}
    if query.states is not None:
        found["state"] = {"$in": list(query.states)}
    for name, value in (
        ("plan", query.plan),
        ("raised_by", query.raised_by),
        ("from_agencies", query.asked),
        ("subject", query.subject),
        ("task", query.task),
    ):
        if value is not None:
            found[name] = value
    return found


class MongoProblemStore:
    def __init__(self, db: AsyncDatabase[Document], prefix: str = "scoring_") -> None:
        self.db = db
        self.prefix = prefix
        self.collection: AsyncCollection[Document] = db[f"{prefix}{PROBLEMS}"]

    @property
    def location(self) -> str:
        return f"collection {self.collection.name!r} in database {self.db.name!r}"

    async def drop(self) -> None:
        await self.collection.drop()

    async def add_entry(self, key: str, plan: str, problem_id: str, entry: Document) -> Document:
        field = f"history.{entry_field(str(entry['event_id']))}"
        update = {"$set": {"plan": plan, "problem_id": problem_id, field: entry}}
        doc = await upsert_racing(
            lambda: self.collection.find_one_and_update(
                {"_id": key}, update, upsert=True, return_document=ReturnDocument.AFTER
            )
        )
        assert doc is not None  # an upsert returning the document after it
        return doc

    async def write_summary(self, key: str, fields: Document, derived_from: int) -> bool:
        fewer: Document = {
            "$or": [{"derived_from": {"$lt": derived_from}}, {"derived_from": {"$exists": False}}]
        }
        result = await self.collection.update_one(
            {"_id": key, **fewer}, {"$set": {**fields, "derived_from": derived_from}}
        )
        return result.modified_count == 1

    async def mark_escalated(self, key: str, at: str) -> bool:
        result = await self.collection.update_one(
            {"_id": key, "escalated_at": {"$exists": False}}, {"$set": {"escalated_at": at}}
        )
        return result.modified_count == 1

    async def problem(self, key: str) -> Document | None:
        return await self.collection.find_one({"_id": key})

    async def problems(self, query: ProblemQuery) -> list[Document]:
        return [doc async for doc in self.collection.find(query_filter(query))]
