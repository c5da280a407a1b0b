"""notify's MongoDB collections. Every lookup is by exact `_id` (the one filter FerretDB
indexes) or a scan of a small collection (groups, pending notifications, silences); there are
no multi-document transactions, so the callers order their writes to be safe on a crash."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, KeysView, Mapping
from datetime import datetime
from typing import Any, TypeVar

from pymongo import DeleteOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, OperationFailure

from services.notify.domain.acks import Acknowledgement
from services.notify.domain.grouping import GroupState
from services.notify.domain.nflog import LogEntry
from services.notify.domain.silences import Silence
from services.notify.group_commit import GroupCommit
from services.notify.records import FingerprintRecord, GroupRecord, PendingNotification
from shared.runtime.audit import MongoAuditLog, audit_entry
from shared.runtime.mongo import Document, next_epoch, upsert_racing

GROUPS = "notify_groups"
FINGERPRINTS = "notify_fingerprints"
NFLOG = "notify_nflog"
PENDING = "notify_pending"
ATTEMPTS = "notify_attempts"  # the delivery log: one document per attempt
DISABLED = "notify_disabled_integrations"
SILENCES = "notify_silences"
REJECTED = "notify_rejected_alerts"
AUDIT = "notify_audit"  # who changed which silence (or re-enabled which integration), when
OWNERS = "notify_owners"  # the fencing epoch of each partition of the groups topic
ACKS = "notify_acks"  # acknowledgements, by `<fingerprint>|<receiver>|<by>`
ESCALATIONS = "notify_escalations"  # escalation steps sent, by escalation key


T = TypeVar("T")
_BUSY = ("SQLITE_BUSY", "database is locked")
_DUPLICATE_KEY = 11000
_MAX_UNLOGGED = 100_000  # past this, absent log entries are not remembered (writes upsert)


async def _busy(operation: Callable[[], Awaitable[T]], *, tries: int = 40) -> T:
    """Run one MongoDB call, again while FerretDB's SQLite backend answers "database is
    locked" (SQLITE_BUSY, under concurrent writes): a write after a 2xx must not be lost."""
    delay = 0.005
    for attempt in range(1, tries + 1):
        try:
            # An upsert that lost the race to create its _id is tried once more (a plain insert
            # of a known _id fails the same way again and is raised).
            return await upsert_racing(operation)
        except OperationFailure as exc:
            if attempt == tries or not any(marker in str(exc) for marker in _BUSY):
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)
    raise AssertionError("unreachable")


def _json(model: Any) -> Document:
    doc: Document = model.model_dump(mode="json")
    return doc


def nflog_id(group_key: str, integration: str) -> str:
    return hashlib.sha256(f"{integration}\x00{group_key}".encode()).hexdigest()[:40]


class MongoNotifyStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db
        # FerretDB's SQLite backend has one writer: many writes at once only collide and wait
        # in SQLite's busy handler. So at most three at once, and the kinds each delivery
        # writes (log entry, attempt, pending removal; the close of a flush with resolved
        # alerts) are group-committed: the writes of concurrent deliveries go out together.
        # Reads do not block in WAL mode.
        self.write_slots = asyncio.Semaphore(3)
        self._log_entries = GroupCommit(self._write_log_entries)
        self._attempts = GroupCommit(self._write_attempts)
        self._deletes = GroupCommit(self._delete_pending)
        self._closed_flushes = GroupCommit(self._write_closed_flushes)
        # Pending notifications this process inserted and has not tried to send yet: no
        # earlier process can have sent them, so their first try needs no log lookup.
        self._never_tried: set[str] = set()
        # Groups as this process last wrote them with a flush in flight (until it closes).
        self._flushing: dict[str, GroupRecord] = {}
        # Log entries looked up and absent: the first write of each is an insert.
        self._unlogged: set[str] = set()
        # The pending collection, read once and then kept as this process writes it (only the
        # owner of a group writes its pending notifications; read again on every change of
        # ownership): the loop's every tick and each delivery's end read it.
        self._pending: dict[str, PendingNotification] | None = None
        self._pending_loading = asyncio.Lock()

    async def _read(self, operation: Callable[[], Awaitable[T]]) -> T:
        return await _busy(operation)

    async def _write(self, operation: Callable[[], Awaitable[T]]) -> T:
        async with self.write_slots:
            return await _busy(operation)

    # -- ownership ----------------------------------------------------------------------------

    async def next_epoch(self, partition: int) -> int:
        return await self._write(lambda: next_epoch(self.db[OWNERS], partition))

    async def epoch(self, partition: int) -> int | None:
        doc = await self._read(lambda: self.db[OWNERS].find_one({"_id": f"partition:{partition}"}))
        return None if doc is None else int(doc["epoch"])

    def forget_caches(self) -> None:
        """On a change of ownership: what this process remembers of groups and pending
        notifications may have been changed by their previous owner; read them again."""
        self._pending = None
        self._flushing.clear()
        self._never_tried.clear()

    # -- groups -------------------------------------------------------------------------------

    async def group(self, gid: str) -> GroupRecord | None:
        doc = await self._read(lambda: self.db[GROUPS].find_one({"_id": gid}))
        return None if doc is None else _group(doc)

    async def groups(self) -> list[GroupRecord]:
        return [_group(doc) async for doc in self.db[GROUPS].find({})]

    async def save_alert_state(
        self, state: GroupState, fingerprint: str, arrived: datetime
    ) -> None:
        """The group's state after an incoming alert (its flush bookkeeping is left alone)."""
        self._flushing.pop(state.id, None)
        await self._write(
            lambda: self.db[GROUPS].update_one(
                {"_id": state.id},
                {
                    "$set": {"state": _json(state), f"arrived.{fingerprint}": arrived.isoformat()},
                    "$setOnInsert": {"seq": 0, "inflight": None},
                },
                upsert=True,
            )
        )

    async def save_flush(self, saved: GroupRecord) -> None:
        """The group after a flush: its state, `seq` and the flush in flight (the caller holds
        the group's lock, read the record under it, and passes what it is now)."""
        self._flushing.pop(saved.id, None)
        inflight = saved.inflight
        await self._write(
            lambda: self.db[GROUPS].update_one(
                {"_id": saved.id},
                {
                    "$set": {
                        "state": _json(saved.state),
                        "seq": saved.seq,
                        "inflight": None if inflight is None else _json(inflight),
                    }
                },
            )
        )
        if inflight is not None:
            self._flushing[saved.id] = saved

    async def flushing_group(self, gid: str) -> GroupRecord | None:
        """`group(gid)`, from memory when this process wrote it last, with a flush in flight
        (only the group's owner writes it; the memory is dropped on every change of ownership)."""
        return self._flushing.get(gid) or await self.group(gid)

    async def mark_inflight_failed(self, record: GroupRecord) -> None:
        """Mark the flush in flight of `record` (as just read, under the group's lock) failed."""
        if record.inflight is None:
            return
        await self._write(
            lambda: self.db[GROUPS].update_one(
                {"_id": record.id}, {"$set": {"inflight.failed": True}}
            )
        )
        failed = record.inflight.model_copy(update={"failed": True})
        self._flushing[record.id] = record.model_copy(update={"inflight": failed})

    def flush_closed(self, gid: str) -> None:
        """The group's flush closed without a write (its notifications are all gone)."""
        self._flushing.pop(gid, None)

    async def finish_flush(self, state: GroupState, forget: list[str]) -> None:
        """Clear the in-flight flush with the group's new state, or delete an empty group.
        `forget`: fingerprints no longer in the group (their arrival times go)."""
        self._flushing.pop(state.id, None)
        if state.is_empty():
            await self._write(lambda: self.db[GROUPS].delete_one({"_id": state.id}))
            return
        update: Document = {"$set": {"state": _json(state), "inflight": None}}
        if forget:
            update["$unset"] = {f"arrived.{fp}": "" for fp in forget}
        await self._closed_flushes.submit({"q": {"_id": state.id}, "u": update})

    async def _write_closed_flushes(self, updates: list[Document]) -> None:
        await self._update_each(GROUPS, updates)

    # -- fingerprints -------------------------------------------------------------------------

    async def fingerprint(self, fp: str) -> FingerprintRecord:
        doc = await self._read(lambda: self.db[FINGERPRINTS].find_one({"_id": fp}))
        if doc is None:
            return FingerprintRecord(fingerprint=fp)
        doc.pop("_id")
        return FingerprintRecord.model_validate({**doc, "fingerprint": fp})

    async def save_fingerprint(self, record: FingerprintRecord) -> None:
        doc = _json(record)
        doc.pop("fingerprint")
        await self._write(
            lambda: self.db[FINGERPRINTS].replace_one({"_id": record.fingerprint}, doc, upsert=True)
        )

    # -- notification log ---------------------------------------------------------------------

    async def log_entry(self, group_key: str, integration: str) -> LogEntry | None:
        lid = nflog_id(group_key, integration)
        doc = await self._read(lambda: self.db[NFLOG].find_one({"_id": lid}))
        if doc is None:
            if len(self._unlogged) < _MAX_UNLOGGED:
                self._unlogged.add(lid)
            return None
        return _log_entry(doc)

    async def put_log_entry(self, entry: LogEntry) -> None:
        await self._log_entries.submit(entry)

    async def _write_log_entries(self, entries: list[LogEntry]) -> None:
        """The first entry of a (group, integration) this process found absent is inserted
        (one insert for the batch: a fraction of an upsert's cost on FerretDB); the others, and
        any insert that finds the entry there after all, are upserted, in order."""
        fresh: dict[str, Document] = {}
        updates: list[Document] = []
        for entry in entries:
            lid = nflog_id(entry.group_key, entry.integration)
            if lid in self._unlogged and lid not in fresh:
                fresh[lid] = {"_id": lid, **_json(entry)}
            else:
                updates.append({"q": {"_id": lid}, "u": _json(entry), "upsert": True})
        if fresh:
            there = await self._insert_new(NFLOG, list(fresh.values()))
            updates[:0] = [{"q": {"_id": d["_id"]}, "u": d, "upsert": True} for d in there]
            self._unlogged.difference_update(fresh)
        if updates:
            await self._update_each(NFLOG, updates)

    async def _insert_new(self, collection: str, docs: list[Document]) -> list[Document]:
        """One unordered insert; returns the documents whose `_id` was there already."""
        try:
            await self._write(lambda: self.db[collection].insert_many(docs, ordered=False))
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != _DUPLICATE_KEY for error in errors):
                raise
            return [docs[error["index"]] for error in errors]
        return []

    async def _update_each(self, collection: str, updates: list[Document]) -> None:
        """Each update statement as its own command, in order, holding one write slot. One
        command of many statements would save round trips, but FerretDB 1.24 keeps each
        statement's read open until the command ends: past its pool of 100 connections it
        deadlocks (a command that never answers)."""

        async def each() -> None:
            for update in updates:
                command = {"update": collection, "updates": [update], "ordered": True}
                reply = await self.db.command(command)
                errors = reply.get("writeErrors") or []
                if update.get("upsert") and any(e.get("code") == _DUPLICATE_KEY for e in errors):
                    reply = await self.db.command(command)  # an upsert race lost (see _busy)
                if reply.get("writeErrors"):
                    raise OperationFailure(f"{collection}: update failed: {reply['writeErrors']}")

        await self._write(each)

    # -- pending notifications ----------------------------------------------------------------

    async def _pending_index(self) -> dict[str, PendingNotification]:
        """The pending notifications by id: read from MongoDB on first use (under a lock, so a
        write cannot slip between the read and the index), then kept up to date by this
        store's writes, each applied after MongoDB acknowledged it."""
        if self._pending is None:
            async with self._pending_loading:
                if self._pending is None:
                    docs = [doc async for doc in self.db[PENDING].find({})]
                    self._pending = {p.id: p for p in map(_pending, docs)}
        return self._pending

    async def add_pending(self, pending: PendingNotification) -> None:
        """Insert unless a notification with this id exists (a flush re-run after a crash
        keeps the first one: same webhook-id, possibly already sent)."""
        index = await self._pending_index()
        doc = _json(pending)
        doc["_id"] = doc.pop("id")
        result = await self._write(
            lambda: self.db[PENDING].update_one(
                {"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True
            )
        )
        if result.upserted_id is not None:
            index[pending.id] = pending
            self._never_tried.add(pending.id)
        elif pending.id not in index:  # written by a process that ran alongside this one
            stored = await self._read(lambda: self.db[PENDING].find_one({"_id": doc["_id"]}))
            if stored is not None:
                index[pending.id] = _pending(stored)

    def first_try_here(self, pid: str) -> bool:
        """True, once, for a notification inserted by this process and never tried: it cannot
        have been delivered before (after a restart, every one is looked up in the log)."""
        if pid in self._never_tried:
            self._never_tried.discard(pid)
            return True
        return False

    async def pending(self) -> list[PendingNotification]:
        return list((await self._pending_index()).values())

    async def pending_ids(self) -> KeysView[str]:
        """The ids of the pending notifications (a live view)."""
        return (await self._pending_index()).keys()

    async def update_pending(self, pending: PendingNotification) -> None:
        index = await self._pending_index()
        doc = _json(pending)
        doc["_id"] = doc.pop("id")
        result = await self._write(lambda: self.db[PENDING].replace_one({"_id": doc["_id"]}, doc))
        if result.matched_count:  # a notification deleted meanwhile stays deleted
            index[pending.id] = pending

    async def delete_pending(self, pid: str) -> None:
        index = await self._pending_index()
        await self._deletes.submit(pid)
        index.pop(pid, None)
        # Ended without a send (recorded only, dead-lettered before a try): not kept forever.
        self._never_tried.discard(pid)

    async def _delete_pending(self, pids: list[str]) -> None:
        # Exact-`_id` statements in one command (an `$in` filter would make FerretDB scan).
        await self._delete_each(PENDING, [DeleteOne({"_id": pid}) for pid in pids])

    # -- delivery log -------------------------------------------------------------------------

    async def record_attempt(self, attempt: Document) -> None:
        await self._attempts.submit(attempt)

    async def _write_attempts(self, attempts: list[Document]) -> None:
        """Insert the batch; an attempt already recorded (its step re-run after a crash) is
        replaced by the newer record."""
        again = await self._insert_new(ATTEMPTS, attempts)
        if again:
            await self._update_each(
                ATTEMPTS, [{"q": {"_id": doc["_id"]}, "u": doc} for doc in again]
            )

    async def attempts(self, pid: str | None = None) -> list[Document]:
        query: Document = {} if pid is None else {"notification": pid}
        return [doc async for doc in self.db[ATTEMPTS].find(query)]

    # -- retention ----------------------------------------------------------------------------

    async def log_entries(self) -> list[LogEntry]:
        return [_log_entry(doc) async for doc in self.db[NFLOG].find({})]

    async def forget_log_entries(self, entries: list[LogEntry]) -> int:
        """Delete these log entries, each unless it was written again since it was read."""
        deletes = [
            DeleteOne(
                {"_id": nflog_id(e.group_key, e.integration), "timestamp": _json(e)["timestamp"]}
            )
            for e in entries
        ]
        return await self._delete_each(NFLOG, deletes)

    async def forget_silences(self, silences: list[tuple[Silence, datetime]]) -> int:
        """Delete these silences (with the update time read), each unless updated since."""
        deletes = [
            DeleteOne({"_id": silence.id, "updated_at": updated.isoformat()})
            for silence, updated in silences
        ]
        return await self._delete_each(SILENCES, deletes)

    async def forget_delivery_log(self, before: datetime) -> tuple[int, int]:
        """Delete the attempts and refused input recorded before `before` (a scan of each:
        FerretDB has no index on `at`, which is why this runs seldom); returns both counts."""
        query: Document = {"at": {"$lt": before}}
        attempts = await self._write(lambda: self.db[ATTEMPTS].delete_many(query))
        rejected = await self._write(lambda: self.db[REJECTED].delete_many(query))
        return attempts.deleted_count, rejected.deleted_count

    async def _delete_each(self, collection: str, deletes: list[DeleteOne]) -> int:
        """The delete statements in one unordered command; returns how many deleted."""
        if not deletes:
            return 0
        result = await self._write(lambda: self.db[collection].bulk_write(deletes, ordered=False))
        return result.deleted_count

    # -- disabled integrations ----------------------------------------------------------------

    async def disabled(self) -> dict[str, Document]:
        return {doc["_id"]: doc async for doc in self.db[DISABLED].find({})}

    async def disable(self, key: str, receiver: str, reason: str, at: datetime) -> None:
        await self._write(
            lambda: self.db[DISABLED].replace_one(
                {"_id": key}, {"receiver": receiver, "reason": reason, "at": at}, upsert=True
            )
        )

    async def enable(self, key: str) -> bool:
        result = await self._write(lambda: self.db[DISABLED].delete_one({"_id": key}))
        return result.deleted_count > 0

    # -- the audit log (silence changes, integrations re-enabled) ------------------------------

    async def record(
        self, actor: str, action: str, subject: str, details: Mapping[str, Any], at: datetime
    ) -> None:
        entry = audit_entry(actor, action, subject, details, at)
        await self._write(lambda: self.db[AUDIT].insert_one(entry))

    async def entries(self, limit: int = 100) -> list[Document]:
        return await self._read(lambda: MongoAuditLog(self.db[AUDIT]).entries(limit))

    # -- silences -----------------------------------------------------------------------------

    async def put_silence(self, silence: Silence, updated_at: datetime) -> None:
        doc = _json(silence)
        doc["_id"] = doc.pop("id")
        doc["updated_at"] = updated_at.isoformat()
        await self._write(
            lambda: self.db[SILENCES].replace_one({"_id": doc["_id"]}, doc, upsert=True)
        )

    async def silence(self, sid: str) -> tuple[Silence, datetime] | None:
        doc = await self._read(lambda: self.db[SILENCES].find_one({"_id": sid}))
        return None if doc is None else _silence(doc)

    async def silences(self) -> list[tuple[Silence, datetime]]:
        return [_silence(doc) async for doc in self.db[SILENCES].find({})]

    # -- acknowledgements and escalation steps sent ---------------------------------------------

    async def put_ack(self, ack: Acknowledgement) -> None:
        doc = {"_id": ack.id, **_json(ack)}
        await self._write(lambda: self.db[ACKS].replace_one({"_id": ack.id}, doc, upsert=True))

    async def delete_ack(self, aid: str) -> Acknowledgement | None:
        doc = await self._write(lambda: self.db[ACKS].find_one_and_delete({"_id": aid}))
        return None if doc is None else _ack(doc)

    async def acks(self) -> list[Acknowledgement]:
        docs = await self._read(lambda: self.db[ACKS].find({}).to_list())
        return [_ack(doc) for doc in docs]

    async def escalated(self, keys: list[str]) -> set[str]:
        if not keys:
            return set()
        query = {"_id": {"$in": keys}}
        docs = await self._read(lambda: self.db[ESCALATIONS].find(query, {"_id": 1}).to_list())
        return {doc["_id"] for doc in docs}

    async def mark_escalated(self, key: str, at: datetime) -> None:
        doc = {"at": at.isoformat()}
        await self._write(lambda: self.db[ESCALATIONS].replace_one({"_id": key}, doc, upsert=True))

    async def forget_acks(self, acks: list[Acknowledgement]) -> int:
        """Delete these acknowledgements, each unless given again since it was read."""
        deletes = [DeleteOne({"_id": ack.id, "at": _json(ack)["at"]}) for ack in acks]
        return await self._delete_each(ACKS, deletes)

    async def escalation_marks(self) -> dict[str, datetime]:
        docs = await self._read(lambda: self.db[ESCALATIONS].find({}).to_list())
        return {doc["_id"]: datetime.fromisoformat(doc["at"]) for doc in docs}

    async def forget_escalations(self, keys: list[str]) -> int:
        return await self._delete_each(ESCALATIONS, [DeleteOne({"_id": k}) for k in set(keys)])

    # -- refused input ------------------------------------------------------------------------

    async def record_rejected(self, rid: str, raw: bytes, reason: str, at: datetime) -> None:
        doc = {"raw": raw.decode("utf-8", "replace"), "reason": reason, "at": at}
        await self._write(lambda: self.db[REJECTED].replace_one({"_id": rid}, doc, upsert=True))


def _group(doc: Document) -> GroupRecord:
    doc.pop("_id", None)
    return GroupRecord.model_validate(doc)


def _log_entry(doc: Document) -> LogEntry:
    doc.pop("_id", None)
    return LogEntry.model_validate(doc)


def _pending(doc: Document) -> PendingNotification:
    doc["id"] = doc.pop("_id")
    return PendingNotification.model_validate(doc)


def _ack(doc: Document) -> Acknowledgement:
    doc.pop("_id", None)
    return Acknowledgement.model_validate(doc)


def _silence(doc: Document) -> tuple[Silence, datetime]:
    doc["id"] = doc.pop("_id")
    updated = datetime.fromisoformat(doc.pop("updated_at"))
    return Silence.model_validate(doc), updated
