"""`NotifyStore` in memory, for fast tests: the semantics of `MongoNotifyStore` (the contract in
tests/unit/notify_store_contract.py holds for both). Every record goes through BSON on its way
in and out, as it would to MongoDB: what MongoDB refuses fails here too, instants keep
MongoDB's millisecond precision, and a caller never holds the stored copy."""

from __future__ import annotations

from collections.abc import KeysView, Mapping
from datetime import UTC, datetime
from typing import Any

import bson
from bson.codec_options import CodecOptions
from pydantic import BaseModel

from services.notify.domain.acks import Acknowledgement
from services.notify.domain.grouping import GroupState
from services.notify.domain.nflog import LogEntry
from services.notify.domain.silences import Silence
from services.notify.records import FingerprintRecord, GroupRecord, PendingNotification
from shared.runtime.audit import InMemoryAuditLog
from shared.runtime.mongo import Document

_CODEC: CodecOptions[Document] = CodecOptions(tz_aware=True)  # as the services' client reads


def _through_bson(doc: Mapping[str, Any]) -> Document:
    return dict(bson.decode(bson.encode(dict(doc)), codec_options=_CODEC))


def _json(model: BaseModel) -> Document:
    return _through_bson(model.model_dump(mode="json"))


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class InMemoryNotifyStore:
    def __init__(self) -> None:
        self._epochs: dict[int, int] = {}
        self._groups: dict[str, Document] = {}
        self._fingerprints: dict[str, Document] = {}
        self._log: dict[tuple[str, str], Document] = {}
        self._pending: dict[str, PendingNotification] = {}
        self._never_tried: set[str] = set()
        self._attempts: dict[str, Document] = {}
        self._disabled: dict[str, Document] = {}
        self._silences: dict[str, Document] = {}
        self._rejected: dict[str, Document] = {}
        self._acks: dict[str, Document] = {}
        self._escalations: dict[str, Document] = {}
        self._audit = InMemoryAuditLog()

    # -- ownership ----------------------------------------------------------------------------

    async def next_epoch(self, partition: int) -> int:
        self._epochs[partition] = self._epochs.get(partition, 0) + 1
        return self._epochs[partition]

    async def epoch(self, partition: int) -> int | None:
        return self._epochs.get(partition)

    def forget_caches(self) -> None:
        self._never_tried.clear()

    # -- groups -------------------------------------------------------------------------------

    async def group(self, gid: str) -> GroupRecord | None:
        doc = self._groups.get(gid)
        return None if doc is None else GroupRecord.model_validate(_through_bson(doc))

    async def groups(self) -> list[GroupRecord]:
        return [GroupRecord.model_validate(_through_bson(doc)) for doc in self._groups.values()]

    async def save_alert_state(
        self, state: GroupState, fingerprint: str, arrived: datetime
    ) -> None:
        doc = self._groups.setdefault(state.id, {"seq": 0, "inflight": None, "arrived": {}})
        doc["state"] = _json(state)
        doc["arrived"][fingerprint] = arrived.isoformat()

    async def save_flush(self, saved: GroupRecord) -> None:
        doc = self._groups.get(saved.id)
        if doc is None:  # an update, never an insert
            return
        inflight = None if saved.inflight is None else _json(saved.inflight)
        doc.update(state=_json(saved.state), seq=saved.seq, inflight=inflight)

    async def flushing_group(self, gid: str) -> GroupRecord | None:
        return await self.group(gid)

    async def mark_inflight_failed(self, record: GroupRecord) -> None:
        doc = self._groups.get(record.id)
        if record.inflight is not None and doc is not None and doc["inflight"] is not None:
            doc["inflight"]["failed"] = True

    def flush_closed(self, gid: str) -> None:
        return None  # nothing cached

    async def finish_flush(self, state: GroupState, forget: list[str]) -> None:
        if state.is_empty():
            self._groups.pop(state.id, None)
            return
        doc = self._groups.get(state.id)
        if doc is None:
            return
        doc.update(state=_json(state), inflight=None)
        for fingerprint in forget:
            doc["arrived"].pop(fingerprint, None)

    # -- fingerprints and the notification log ------------------------------------------------

    async def fingerprint(self, fp: str) -> FingerprintRecord:
        doc = self._fingerprints.get(fp)
        if doc is None:
            return FingerprintRecord(fingerprint=fp)
        return FingerprintRecord.model_validate(_through_bson(doc))

    async def save_fingerprint(self, record: FingerprintRecord) -> None:
        self._fingerprints[record.fingerprint] = _json(record)

    async def log_entry(self, group_key: str, integration: str) -> LogEntry | None:
        doc = self._log.get((group_key, integration))
        return None if doc is None else LogEntry.model_validate(_through_bson(doc))

    async def put_log_entry(self, entry: LogEntry) -> None:
        self._log[(entry.group_key, entry.integration)] = _json(entry)

    async def log_entries(self) -> list[LogEntry]:
        return [LogEntry.model_validate(_through_bson(doc)) for doc in self._log.values()]

    async def forget_log_entries(self, entries: list[LogEntry]) -> int:
        forgotten = 0
        for entry in entries:
            key = (entry.group_key, entry.integration)
            stored = self._log.get(key)
            if stored is not None and stored["timestamp"] == _json(entry)["timestamp"]:
                del self._log[key]
                forgotten += 1
        return forgotten

    # -- pending notifications and their attempts ---------------------------------------------

    async def add_pending(self, pending: PendingNotification) -> None:
        if pending.id not in self._pending:
            self._pending[pending.id] = PendingNotification.model_validate(_json(pending))
            self._never_tried.add(pending.id)

    def first_try_here(self, pid: str) -> bool:
        if pid in self._never_tried:
            self._never_tried.discard(pid)
            return True
        return False

    async def pending(self) -> list[PendingNotification]:
        return list(self._pending.values())  # frozen models: safe to share

    async def pending_ids(self) -> KeysView[str]:
        return self._pending.keys()

    async def update_pending(self, pending: PendingNotification) -> None:
        if pending.id in self._pending:  # a replacement, never an insert
            self._pending[pending.id] = PendingNotification.model_validate(_json(pending))

    async def delete_pending(self, pid: str) -> None:
        self._pending.pop(pid, None)
        self._never_tried.discard(pid)

    async def record_attempt(self, attempt: Document) -> None:
        self._attempts[str(attempt["_id"])] = _through_bson(attempt)

    async def attempts(self, pid: str | None = None) -> list[Document]:
        return [
            _through_bson(doc)
            for doc in self._attempts.values()
            if pid is None or doc.get("notification") == pid
        ]

    async def forget_delivery_log(self, before: datetime) -> tuple[int, int]:
        counts = []
        for records in (self._attempts, self._rejected):
            old = [key for key, doc in records.items() if _aware(doc["at"]) < before]
            for key in old:
                del records[key]
            counts.append(len(old))
        return counts[0], counts[1]

    # -- disabled integrations, silences, the audit log, refused input ------------------------

    async def disabled(self) -> dict[str, Document]:
        return {key: {"_id": key, **_through_bson(doc)} for key, doc in self._disabled.items()}

    async def disable(self, key: str, receiver: str, reason: str, at: datetime) -> None:
        self._disabled[key] = _through_bson({"receiver": receiver, "reason": reason, "at": at})

    async def enable(self, key: str) -> bool:
        return self._disabled.pop(key, None) is not None

    async def put_silence(self, silence: Silence, updated_at: datetime) -> None:
        self._silences[silence.id] = {**_json(silence), "updated_at": updated_at.isoformat()}

    async def silence(self, sid: str) -> tuple[Silence, datetime] | None:
        doc = self._silences.get(sid)
        return None if doc is None else _silence(doc)

    async def silences(self) -> list[tuple[Silence, datetime]]:
        return [_silence(doc) for doc in self._silences.values()]

    async def forget_silences(self, silences: list[tuple[Silence, datetime]]) -> int:
        forgotten = 0
        for silence, updated in silences:
            stored = self._silences.get(silence.id)
            if stored is not None and stored["updated_at"] == updated.isoformat():
                del self._silences[silence.id]
                forgotten += 1
        return forgotten

    async def record(
        self, actor: str, action: str, subject: str, details: Mapping[str, Any], at: datetime
    ) -> None:
        _through_bson(details)  # refused as MongoDB would
        await self._audit.record(actor, action, subject, details, at)

    async def entries(self, limit: int = 100) -> list[Document]:
        return [_through_bson(entry) for entry in await self._audit.entries(limit)]

    async def put_ack(self, ack: Acknowledgement) -> None:
        self._acks[ack.id] = _json(ack)

    async def delete_ack(self, aid: str) -> Acknowledgement | None:
        doc = self._acks.pop(aid, None)
        return None if doc is None else Acknowledgement.model_validate(_through_bson(doc))

    async def acks(self) -> list[Acknowledgement]:
        return [Acknowledgement.model_validate(_through_bson(d)) for d in self._acks.values()]

    async def escalated(self, keys: list[str]) -> set[str]:
        return {key for key in keys if key in self._escalations}

    async def mark_escalated(self, key: str, at: datetime) -> None:
        self._escalations[key] = _through_bson({"at": at.isoformat()})

    async def forget_acks(self, acks: list[Acknowledgement]) -> int:
        forgotten = 0
        for ack in acks:
            stored = self._acks.get(ack.id)
            if stored is not None and stored["at"] == _json(ack)["at"]:
                del self._acks[ack.id]
                forgotten += 1
        return forgotten

    async def escalation_marks(self) -> dict[str, datetime]:
        return {key: datetime.fromisoformat(doc["at"]) for key, doc in self._escalations.items()}

    async def forget_escalations(self, keys: list[str]) -> int:
        return sum(self._escalations.pop(key, None) is not None for key in set(keys))

    async def record_rejected(self, rid: str, raw: bytes, reason: str, at: datetime) -> None:
        raw_text = raw.decode("utf-8", "replace")
        self._rejected[rid] = _through_bson({"raw": raw_text, "reason": reason, "at": at})

    def rejected(self) -> dict[str, Document]:
        """What `record_rejected` kept (MongoNotifyStore has no reader: ops query MongoDB)."""
        return {key: _through_bson(doc) for key, doc in self._rejected.items()}


def _silence(doc: Document) -> tuple[Silence, datetime]:
    fields = _through_bson(doc)
    updated = datetime.fromisoformat(fields.pop("updated_at"))
    return Silence.model_validate(fields), updated
