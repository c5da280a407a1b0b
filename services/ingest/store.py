"""Where accepted events are kept: the `reports` collection, one document per (source, id).

Reports, retractions and problem events alike (a problem event's document has `schema`
`planwatch.problem.v1`, `shared.accepted_problem`): ids are unique per source whatever the type.

`ReportStore` is the port; `MongoReportStore` the adapter (MongoDB or FerretDB) and
`InMemoryReportStore` the fake for unit tests. Both pass the same contract tests
(tests/unit/ingest_store_contract.py).

An event's identity is its CloudEvents `source` and `id` together (CloudEvents, and
docs/contract.md: ids are unique per source): `_id` is `report_key(agency, event id)`, so one
agency can neither take another's ids nor collide with its numbering. Exactly-once storage
without transactions: a second insert of the same key fails with a duplicate-key error and
nothing is stored twice. The caller then compares
content hashes (same: a duplicate; different: a conflict). Existing documents are looked up by
exact `_id` filters, one at a time, because FerretDB indexes only those.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from shared.accepted_problem import AnyAccepted, accepted_from_fields
from shared.contract.parsing import RawEvent
from shared.runtime.kafka import TransientError
from shared.runtime.mongo import Document

REPORTS: Final = "reports"
DUPLICATE_KEY: Final = 11000


def report_key(agency: str, event_id: str) -> str:
    """A report's `_id`: agency ids hold no `|`, so the key splits back unambiguously."""
    return f"{agency}|{event_id}"


def signed_event_json(raw: RawEvent) -> str:
    """The event as received, in structured mode: its attributes and its data JSON as sent
    (not re-canonicalized: the signature is over the canonical form, which can always be
    computed again). `shared.contract.codec.decode_structured` reads it back."""
    head = json.dumps(raw.envelope.attributes(), ensure_ascii=False, separators=(",", ":"))
    return head[:-1] + ',"data":' + raw.data.decode("utf-8") + "}"


@dataclass(frozen=True, slots=True)
class StoredReport:
    """An accepted event and the signed event it came from (structured-mode JSON text)."""

    event: AnyAccepted
    signed_event: str

    @property
    def event_id(self) -> str:
        return self.event.event_id

    @property
    def key(self) -> str:
        return report_key(self.event.agency, self.event.event_id)

    def to_document(self) -> Document:
        doc: Document = {"_id": self.key, **self.event.model_dump(mode="json")}
        doc["signed_event"] = self.signed_event
        return doc

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> StoredReport:
        fields = {k: v for k, v in doc.items() if k not in {"_id", "signed_event"}}
        return cls(accepted_from_fields(fields), str(doc["signed_event"]))


@dataclass(frozen=True, slots=True)
class InsertOutcome:
    """What happened to each report given to `insert_new`, by its key (`report_key`)."""

    inserted: frozenset[str] = frozenset()
    # Already stored before this call: the stored report (its hash tells duplicate or conflict).
    existing: Mapping[str, StoredReport] = field(default_factory=dict)
    # The database refused the document for good (not a duplicate): id -> its message.
    refused: Mapping[str, str] = field(default_factory=dict)


class ReportStore(Protocol):
    async def insert_new(self, reports: Sequence[StoredReport]) -> InsertOutcome:
        """Store each report unless its key exists. Keys must be unique within the call.

        Raises TransientError (or a transient driver error) when the database is unavailable;
        then some of the reports may be stored already, and a retry reports them as existing.
        """
        ...

    async def get(self, key: str) -> StoredReport | None:
        """The report stored under `report_key(agency, event id)`, if any."""
        ...


def _check_unique(reports: Sequence[StoredReport]) -> None:
    keys = [r.key for r in reports]
    if len(set(keys)) != len(keys):
        raise ValueError("insert_new takes each (agency, event id) at most once")


class MongoReportStore:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def insert_new(self, reports: Sequence[StoredReport]) -> InsertOutcome:
        _check_unique(reports)
        if not reports:
            return InsertOutcome()
        docs = [r.to_document() for r in reports]
        try:
            await self._collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            return await self._sort_out(docs, exc.details)
        return InsertOutcome(inserted=frozenset(d["_id"] for d in docs))

    async def _sort_out(self, docs: list[Document], details: Mapping[str, Any]) -> InsertOutcome:
        if details.get("writeConcernErrors"):
            raise TransientError(f"write concern not satisfied: {details['writeConcernErrors']}")
        failed: set[str] = set()
        duplicates: list[str] = []
        refused: dict[str, str] = {}
        for error in details.get("writeErrors", []):
            key = docs[error["index"]]["_id"]
            failed.add(key)
            if error.get("code") == DUPLICATE_KEY:
                duplicates.append(key)
            else:
                refused[key] = f"{error.get('code')}: {error.get('errmsg', '')}"
        existing: dict[str, StoredReport] = {}
        for key in duplicates:
            found = await self.get(key)
            if found is None:  # a duplicate that is gone again: let the retry sort it out
                raise TransientError(f"event {key!r} was a duplicate but is not found")
            existing[key] = found
        inserted = frozenset(d["_id"] for d in docs if d["_id"] not in failed)
        return InsertOutcome(inserted=inserted, existing=existing, refused=refused)

    async def get(self, key: str) -> StoredReport | None:
        doc = await self._collection.find_one({"_id": key})
        return None if doc is None else StoredReport.from_document(doc)


class InMemoryReportStore:
    """The fake: a dict, plus `refuse` (ids it will refuse) and `fail_next` (transient errors)."""

    def __init__(self) -> None:
        self.docs: dict[str, Document] = {}
        self.refuse: dict[str, str] = {}
        self.fail_next = 0
        self.insert_calls = 0

    def _maybe_fail(self) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise TransientError("in-memory store: simulated outage")

    async def insert_new(self, reports: Sequence[StoredReport]) -> InsertOutcome:
        _check_unique(reports)
        self._maybe_fail()
        self.insert_calls += 1
        inserted: set[str] = set()
        existing: dict[str, StoredReport] = {}
        refused: dict[str, str] = {}
        for report in reports:
            key = report.key
            if key in self.docs:
                existing[key] = StoredReport.from_document(self.docs[key])
            elif report.event_id in self.refuse:
                refused[key] = self.refuse[report.event_id]
            else:
                self.docs[key] = report.to_document()
                inserted.add(key)
        return InsertOutcome(frozenset(inserted), existing, refused)

    async def get(self, key: str) -> StoredReport | None:
        self._maybe_fail()
        doc = self.docs.get(key)
        return None if doc is None else StoredReport.from_document(doc)
