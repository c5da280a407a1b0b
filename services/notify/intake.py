"""Alert transitions in, in two stages.

1. Routing (the consumer group on `planwatch.alerts`, keyed by target, so a fingerprint's
   transitions all reach one replica): drop duplicates (by transition id) and stale ones,
   list the groups the alert belongs to or was in (its fingerprint record, written first: a
   superset), forward the alert to each of those groups, then mark the transition applied.
2. Per group (the owner of the group's partition of the internal groups topic, keyed by group
   id): the group's stored state with the alert inserted, retired or updated.

Without transactions, a crash anywhere is repaired by redelivery: stage 1 forwards again (a
group applies the same transition twice to the same state), stage 2 applies again. In one
process (tests, a lone replica) `forward` applies stage 2 directly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum

from services.notify.clock import Clock
from services.notify.domain.alert import alert_from_event
from services.notify.domain.config import RoutingConfig
from services.notify.domain.grouping import GroupState
from services.notify.domain.pipeline import dispatch, target_group_ids
from services.notify.group_locks import KeyedLocks
from services.notify.metrics import NotifyMetrics
from services.notify.records import RECENT_IDS, FingerprintRecord
from services.notify.store import NotifyStore
from shared.contract.alert_event import (
    AlertEvent,
    AlertEventError,
    decode_alert_event,
    encode_alert_event,
)
from shared.runtime.kafka import Record
from shared.runtime.logging import bound, get_logger

log = get_logger("planwatch.notify.intake")


class IntakeResult(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    REJECTED = "rejected"


# Stage 1's way to stage 2: the alert event, its encoded bytes and the ids of its groups.
Forward = Callable[[AlertEvent, bytes, Sequence[str]], Awaitable[None]]


class AlertIntake:
    def __init__(
        self,
        config: RoutingConfig,
        store: NotifyStore,
        clock: Clock,
        locks: KeyedLocks,
        metrics: NotifyMetrics,
        *,
        forward: Forward | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.locks = locks
        self.metrics = metrics
        self.forward: Forward = forward or self._apply_here

    async def apply_records(self, records: Sequence[Record]) -> list[IntakeResult]:
        """Idempotent: running a batch again after a crash changes nothing more."""
        results = []
        for record in records:
            results.append(await self.apply_record(record))
        return results

    async def apply_record(self, record: Record) -> IntakeResult:
        raw = record.value or b""
        try:
            event = decode_alert_event(raw)
        except AlertEventError as exc:
            rid = f"{record.topic}:{record.partition}:{record.offset}"
            reason = str(exc)
            log.error("alert event refused", record=rid, reason=reason)
            await self.store.record_rejected(rid, raw, reason, self.clock.now())
            self.metrics.alerts_received.labels(IntakeResult.REJECTED.value).inc()
            return IntakeResult.REJECTED
        return await self.apply(event, raw)

    async def apply(self, event: AlertEvent, raw: bytes | None = None) -> IntakeResult:
        """Stage 1: route the transition to its groups (`raw`: its bytes as received)."""
        with bound(alert_id=event.id, fingerprint=event.fingerprint):
            async with self.locks.hold(f"alert:{event.fingerprint}"):
                record = await self.store.fingerprint(event.fingerprint)
                result = await self._route(event, raw or encode_alert_event(event), record)
            self.metrics.alerts_received.labels(result.value).inc()
            log.info("alert event", result=result.value, transition=event.transition.value)
            return result

    async def _route(
        self, event: AlertEvent, raw: bytes, record: FingerprintRecord
    ) -> IntakeResult:
        alert = alert_from_event(event)
        if event.id in record.ids:
            return IntakeResult.DUPLICATE
        if record.applied_at is not None and alert.updated_at < record.applied_at:
            return IntakeResult.STALE
        wanted = target_group_ids(self.config, alert.labels)
        listed = list(dict.fromkeys([*record.groups, *wanted]))
        if listed != record.groups:
            record = record.model_copy(update={"groups": listed})
            await self.store.save_fingerprint(record)
        await self.forward(event, raw, listed)
        applied_at = alert.updated_at
        if record.applied_at is not None:
            applied_at = max(applied_at, record.applied_at)
        ids = [*record.ids, event.id][-RECENT_IDS:]
        await self.store.save_fingerprint(
            record.model_copy(update={"applied_at": applied_at, "ids": ids})
        )
        return IntakeResult.APPLIED

    async def _apply_here(self, event: AlertEvent, raw: bytes, group_ids: Sequence[str]) -> None:
        for gid in group_ids:
            await self.apply_to_group(event, gid)

    async def apply_to_group(self, event: AlertEvent, gid: str) -> bool:
        """Stage 2: the alert into one group (the caller owns it). False when nothing changed:
        the group neither wants nor holds the alert, or holds a newer version of it."""
        alert = alert_from_event(event)
        async with self.locks.hold(gid):
            stored = await self.store.group(gid)
            existing: dict[str, GroupState] = {}
            if stored is not None:
                held = stored.state.alerts.get(alert.fingerprint)
                if held is not None and held.updated_at > alert.updated_at:
                    return False  # redelivered after a newer transition
                existing[gid] = stored.state
            changed = dispatch(self.config, alert, existing, self.clock.now()).get(gid)
            if changed is None:
                return False
            await self.store.save_alert_state(changed, alert.fingerprint, self.clock.now())
            return True
