"""The two doors' work: judge each event, settle duplicates against the store, publish.

Kafka door (`kafka_batch`, the DurableBatchProcessor's work): decode and validate every
record (a bad record never raises), store the accepted ones with one unordered insert, then
publish accepted and duplicate events to the accepted topic and every rejection to the
dead-letter topic, awaiting all confirmations. Only after that does the processor commit.
Running it again on the same records (after a crash or a transient failure) stores nothing
twice and publishes the same accepted events again, which scoring absorbs by event id.

HTTP door (`http_events`): the same checks, with duplicates and conflicts looked up in the
store; accepted events go to the progress topic unchanged (the Kafka door then stores them),
rejected ones to the dead-letter topic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

from services.ingest.metrics import IngestMetrics
from services.ingest.outbound import accepted_record, http_dead_letter_record, progress_record
from services.ingest.store import ReportStore, StoredReport, report_key, signed_event_json
from services.ingest.validation import (
    Accepted,
    AcceptedProblem,
    KeySnapshot,
    Limits,
    Passed,
    Rejected,
    Unverified,
    Verdict,
    check_after_signature,
    check_before_signature,
    content_hash,
)
from services.ingest.verifier import InlineVerifier, SignatureVerifier, SignedItem
from shared.accepted_problem import AnyAccepted
from shared.contract.codec import decode_kafka
from shared.contract.parsing import RawEvent
from shared.contract.reasons import ContractError, Reason
from shared.domain.catalog import Catalog
from shared.runtime.dead_letters import dead_letter_record
from shared.runtime.kafka import Record
from shared.runtime.logging import bound, get_logger
from shared.runtime.publisher import Outbound, Publisher

log = get_logger("planwatch.ingest")

# Signatures go to the verifier in chunks of this many events, so that it verifies a chunk
# while the next one is parsed and checked.
VERIFY_CHUNK: Final = 50

# Refusals that depend on state that changes (keys, catalog): an event that was stored while
# it passed is a duplicate when it comes again, not a rejection. Never BAD_SIGNATURE or the
# content checks: those cannot have passed before.
_STATEFUL_REASONS: Final = frozenset(
    {
        Reason.UNKNOWN_KEY,
        Reason.REVOKED_KEY,
        Reason.UNKNOWN_PLAN,
        Reason.UNKNOWN_TARGET,
        Reason.UNKNOWN_AGENCY,
        Reason.NOT_RESPONSIBLE,
        Reason.NOT_REPORTER,
        Reason.UNKNOWN_SCOPE,
    }
)


class Door(StrEnum):
    KAFKA = "kafka"
    HTTP = "http"


class Status(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class EventResult:
    status: Status
    event_id: str | None = None
    reason: Reason | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class Topics:
    progress: str
    accepted: str
    dead_letter: str


@dataclass(frozen=True, slots=True)
class HttpItem:
    """One event of an HTTP request: its bytes (for the dead letter) and what decoding gave."""

    body: bytes
    content_type: str
    decoded: RawEvent | ContractError


@dataclass
class _Judged:
    verdict: Verdict
    raw: RawEvent | None


@dataclass(frozen=True, slots=True)
class JudgedBatch:
    """A Kafka batch after the checks: each record's verdict, judged at `now`."""

    records: Sequence[Record]
    judged: list[_Judged]
    now: datetime


def _internal_error(raw: RawEvent, exc: Exception) -> Rejected:
    log.exception("validation failed unexpectedly", event_id=raw.envelope.id)
    message = f"internal validation error: {exc!r}"
    return Rejected(Reason.MALFORMED, message, raw.envelope.id)


def _key(accepted: Passed) -> str:
    """The report's identity: its agency (CloudEvents source) and its id, together."""
    return report_key(accepted.event.agency, accepted.event.event_id)


def _conflict(event_id: str) -> Rejected:
    return Rejected(
        Reason.CONFLICT,
        f"event id {event_id!r} is stored with different content (ids are never reused)",
        event_id,
    )


@dataclass
class Intake:
    catalog: Catalog
    keys: Callable[[], KeySnapshot]
    store: ReportStore
    publisher: Publisher
    topics: Topics
    limits: Limits
    clock: Callable[[], datetime]
    metrics: IngestMetrics | None = None
    verifier: SignatureVerifier = field(default_factory=InlineVerifier)

    # --- judging ------------------------------------------------------------------------

    async def _judge_all(
        self, decoded: Sequence[RawEvent | ContractError], now: datetime
    ) -> list[_Judged]:
        """Every event's verdict, in order. The checks before the signature run chunk by
        chunk, each chunk's signatures going to the verifier meanwhile; the checks after it
        run once its answers are in."""
        keys = self.keys()
        judged: list[_Judged | None] = [None] * len(decoded)
        chunks: list[tuple[list[int], list[Unverified], Awaitable[list[bool]]]] = []
        for start in range(0, len(decoded), VERIFY_CHUNK):
            indices: list[int] = []
            unverified: list[Unverified] = []
            for index in range(start, min(start + VERIFY_CHUNK, len(decoded))):
                first = self._before_signature(decoded[index], keys)
                if isinstance(first, Unverified):
                    indices.append(index)
                    unverified.append(first)
                else:
                    judged[index] = first
            items: list[SignedItem] = [(u.public_key, u.signature, u.signed) for u in unverified]
            chunks.append((indices, unverified, self.verifier.submit(items)))
        for indices, unverified, answers in chunks:
            for index, item, valid in zip(indices, unverified, await answers, strict=True):
                judged[index] = self._after_signature(item, valid, now)
        return [item for item in judged if item is not None]

    def _before_signature(
        self, decoded: RawEvent | ContractError, keys: KeySnapshot
    ) -> Unverified | _Judged:
        if isinstance(decoded, ContractError):
            return _Judged(Rejected(decoded.reason, decoded.message), None)
        try:
            checked = check_before_signature(decoded, keys)
        except Exception as exc:  # a bug must not block the partition: reject, log loudly
            return _Judged(_internal_error(decoded, exc), decoded)
        return _Judged(checked, decoded) if isinstance(checked, Rejected) else checked

    def _after_signature(self, unverified: Unverified, valid: bool, now: datetime) -> _Judged:
        raw = unverified.raw
        try:
            verdict = check_after_signature(unverified, valid, self.catalog, now, self.limits)
        except Exception as exc:  # a bug must not block the partition: reject, log loudly
            return _Judged(_internal_error(raw, exc), raw)
        return _Judged(verdict, raw)

    def _decode_kafka(self, record: Record) -> RawEvent | ContractError:
        try:
            return decode_kafka(record.value, record.headers, max_bytes=self.limits.max_event_bytes)
        except ContractError as exc:
            return exc
        except Exception as exc:
            log.exception("decoding failed unexpectedly", offset=record.offset)
            return ContractError(Reason.MALFORMED, f"internal decoding error: {exc!r}")

    async def _recheck_stored(self, judged: Sequence[_Judged]) -> dict[int, StoredReport]:
        """Rejections for a reason that may not have held when the event was stored: those
        whose stored twin has the same content hash are duplicates (index -> stored)."""
        found: dict[int, StoredReport] = {}
        for index, item in enumerate(judged):
            verdict, raw = item.verdict, item.raw
            if not isinstance(verdict, Rejected) or verdict.reason not in _STATEFUL_REASONS:
                continue
            if raw is None or raw.envelope.sigkeyid is None or raw.envelope.agency is None:
                continue
            stored = await self.store.get(report_key(raw.envelope.agency, raw.envelope.id))
            if stored is not None and stored.event.content_hash == content_hash(raw):
                found[index] = stored
        return found

    # --- Kafka door ---------------------------------------------------------------------

    async def kafka_batch(self, records: Sequence[Record]) -> list[EventResult]:
        """Process one batch until its effects are durable; raises only transient errors."""
        return await self.settle_kafka(await self.judge_kafka(records))

    async def judge_kafka(self, records: Sequence[Record]) -> JudgedBatch:
        """The first stage: every record decoded and judged (no store, no Kafka)."""
        now = self.clock()
        judged = await self._judge_all([self._decode_kafka(record) for record in records], now)
        return JudgedBatch(records, judged, now)

    async def settle_kafka(self, batch: JudgedBatch) -> list[EventResult]:
        """The second stage: store the accepted events, publish, dead-letter; idempotent, so
        it may run again on the same judged batch after a transient failure."""
        records, now = batch.records, batch.now
        judged = [_Judged(item.verdict, item.raw) for item in batch.judged]  # settling edits
        results, published = await self._store_accepted(judged)
        for index, stored in (await self._recheck_stored(judged)).items():
            results[index] = EventResult(Status.DUPLICATE, stored.event_id)
            published[index] = stored.event

        outbound: list[Outbound] = []
        for index, record in enumerate(records):
            event = published[index]
            if event is not None:
                outbound.append(accepted_record(self.topics.accepted, event))
            elif results[index] is None:
                verdict = judged[index].verdict
                assert isinstance(verdict, Rejected)
                outbound.append(
                    dead_letter_record(
                        self.topics.dead_letter,
                        record,
                        verdict.reason,
                        verdict.message,
                        at=now,
                        event_id=verdict.event_id,
                    )
                )
                results[index] = EventResult(
                    Status.REJECTED, verdict.event_id, verdict.reason, verdict.message
                )
        await self.publisher.publish(outbound)
        final = [r for r in results if r is not None]
        self._count(Door.KAFKA, final, judged, now)
        return final

    async def _store_accepted(
        self, judged: list[_Judged]
    ) -> tuple[list[EventResult | None], list[AnyAccepted | None]]:
        """Insert the accepted events (the first of each id) in one call and sort out what
        was there already. Returns per index: the result so far (None: rejected) and the
        event to publish (None: nothing). Verdicts of conflicts and refusals are replaced."""
        results: list[EventResult | None] = [None] * len(judged)
        published: list[AnyAccepted | None] = [None] * len(judged)
        firsts: dict[str, Passed] = {}
        first_index: dict[str, int] = {}
        repeats: list[tuple[int, Passed]] = []
        for index, item in enumerate(judged):
            if isinstance(item.verdict, Accepted | AcceptedProblem):
                key = _key(item.verdict)
                if key in firsts:
                    repeats.append((index, item.verdict))
                else:
                    firsts[key] = item.verdict
                    first_index[key] = index
        outcome = await self.store.insert_new(
            [StoredReport(a.event, signed_event_json(a.raw)) for a in firsts.values()]
        )
        stored_hash: dict[str, str] = {}  # report key -> the content hash stored now
        for key, accepted in firsts.items():
            index, event_id = first_index[key], accepted.event.event_id
            if key in outcome.inserted:
                results[index] = EventResult(Status.ACCEPTED, event_id)
                published[index] = accepted.event
                stored_hash[key] = accepted.event.content_hash
            elif key in outcome.existing:
                stored = outcome.existing[key]
                stored_hash[key] = stored.event.content_hash
                if stored.event.content_hash == accepted.event.content_hash:
                    results[index] = EventResult(Status.DUPLICATE, event_id)
                    published[index] = stored.event
                else:
                    judged[index].verdict = _conflict(event_id)
            else:
                message = outcome.refused.get(key, "not stored")
                judged[index].verdict = Rejected(
                    Reason.MALFORMED, f"the database refused the event: {message}", event_id
                )
        for index, accepted in repeats:
            key, event_id = _key(accepted), accepted.event.event_id
            if key not in stored_hash:  # the first was refused: so is the repeat
                judged[index].verdict = judged[first_index[key]].verdict
            elif stored_hash[key] == accepted.event.content_hash:
                results[index] = EventResult(Status.DUPLICATE, event_id)
            else:
                judged[index].verdict = _conflict(event_id)
        return results, published

    # --- HTTP door ----------------------------------------------------------------------

    async def http_events(self, items: Sequence[HttpItem]) -> list[EventResult]:
        """Judge the events of one request; publish accepted ones to the progress topic and
        dead-letter the rejected ones. Raises only transient errors (nothing published then
        is lost: the client retries, and repeats are duplicates)."""
        now = self.clock()
        judged = await self._judge_all([item.decoded for item in items], now)
        results: list[EventResult | None] = [None] * len(items)
        firsts: dict[str, int] = {}  # report key -> index of its first accepted event
        for index, item in enumerate(judged):
            if isinstance(item.verdict, Accepted | AcceptedProblem):
                firsts.setdefault(_key(item.verdict), index)
        stored_list = await asyncio.gather(*(self.store.get(key) for key in firsts))
        stored_by_key = dict(zip(firsts, stored_list, strict=True))

        for index, item in enumerate(judged):
            verdict = item.verdict
            if not isinstance(verdict, Accepted | AcceptedProblem):
                continue
            key, event_id = _key(verdict), verdict.event.event_id
            stored = stored_by_key[key]
            first = judged[firsts[key]].verdict
            reference = stored.event.content_hash if stored is not None else None
            if (
                reference is None
                and firsts[key] != index
                and isinstance(first, Accepted | AcceptedProblem)
            ):
                reference = first.event.content_hash
            if reference is None:
                results[index] = EventResult(Status.ACCEPTED, event_id)
            elif reference == verdict.event.content_hash:
                results[index] = EventResult(Status.DUPLICATE, event_id)
            else:
                item.verdict = _conflict(event_id)
        for index, stored in (await self._recheck_stored(judged)).items():
            results[index] = EventResult(Status.DUPLICATE, stored.event_id)

        outbound: list[Outbound] = []
        for index, item in enumerate(judged):
            result = results[index]
            if result is not None:
                if result.status is Status.ACCEPTED:
                    assert item.raw is not None
                    outbound.append(progress_record(self.topics.progress, item.raw))
                continue
            verdict = item.verdict
            assert isinstance(verdict, Rejected)
            raw = item.raw
            outbound.append(
                http_dead_letter_record(
                    self.topics.dead_letter,
                    items[index].body,
                    items[index].content_type,
                    verdict.reason,
                    verdict.message,
                    at=now,
                    event_id=verdict.event_id,
                    key=raw.envelope.subject.encode() if raw and raw.envelope.subject else None,
                )
            )
            results[index] = EventResult(
                Status.REJECTED, verdict.event_id, verdict.reason, verdict.message
            )
        await self.publisher.publish(outbound)
        final = [r for r in results if r is not None]
        self._count(Door.HTTP, final, judged, now)
        return final

    # --- accounting ---------------------------------------------------------------------

    def _count(
        self, door: Door, results: Sequence[EventResult], judged: Sequence[_Judged], now: datetime
    ) -> None:
        for result in results:
            if result.status is Status.REJECTED:
                with bound(event_id=result.event_id):
                    log.warning(
                        "event rejected",
                        door=door.value,
                        reason=result.reason.value if result.reason else None,
                        detail=result.message,
                    )
        metrics = self.metrics
        if metrics is None:
            return
        metrics.received.labels(door.value).inc(len(results))
        # One counter update per status (and reason) and batch, not one per event.
        accepted = duplicate = 0
        rejected: dict[str, int] = {}
        for result, item in zip(results, judged, strict=True):
            if result.status is Status.ACCEPTED:
                accepted += 1
                if isinstance(item.verdict, Accepted | AcceptedProblem):
                    age = (now - item.verdict.event.reported_at).total_seconds()
                    metrics.event_age.observe(max(0.0, age))
            elif result.status is Status.DUPLICATE:
                duplicate += 1
            else:
                reason = result.reason.value if result.reason else "unknown"
                rejected[reason] = rejected.get(reason, 0) + 1
        if accepted:
            metrics.accepted.labels(door.value).inc(accepted)
        if duplicate:
            metrics.duplicate.labels(door.value).inc(duplicate)
        for reason, count in rejected.items():
            metrics.rejected.labels(door.value, reason).inc(count)
