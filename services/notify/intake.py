"""Alert transitions in: each is stored into its aggregation groups in MongoDB (then it is
durable and the Kafka offset may be committed); delivery happens later, from the stored state.

Write order, with no transactions, so that a crash anywhere is repaired by redelivery:
1. the fingerprint's group list (a superset: groups may be listed that do not hold it),
2. the groups themselves,
3. the fingerprint's "applied" mark (transition id and instant).
A transition whose id was applied, or older than the last applied one, is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from services.notify.clock import Clock
from services.notify.domain.alert import Alert, alert_from_event
from services.notify.domain.config import RoutingConfig
from services.notify.domain.grouping import GroupState
from services.notify.domain.pipeline import dispatch, target_group_ids
from services.notify.group_locks import KeyedLocks
from services.notify.metrics import NotifyMetrics
from services.notify.records import RECENT_IDS, FingerprintRecord
from services.notify.store import NotifyStore
from shared.contract.alert_event import AlertEvent, AlertEventError, decode_alert_event
from shared.runtime.kafka import Record
from shared.runtime.logging import bound, get_logger

log = get_logger("planwatch.notify.intake")


class IntakeResult(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    REJECTED = "rejected"


class AlertIntake:
    def __init__(
        self,
        config: RoutingConfig,
        store: NotifyStore,
        clock: Clock,
        locks: KeyedLocks,
        metrics: NotifyMetrics,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.locks = locks
        self.metrics = metrics

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
        return await self.apply(event)

    async def apply(self, event: AlertEvent) -> IntakeResult:
        with bound(alert_id=event.id, fingerprint=event.fingerprint):
            # The fingerprint's lock first (its record says which groups it is in), then the
            # locks of every group the alert may touch.
            async with self.locks.hold(f"alert:{event.fingerprint}"):
                record = await self.store.fingerprint(event.fingerprint)
                alert = alert_from_event(event)
                wanted = target_group_ids(self.config, alert.labels)
                async with self.locks.hold(*wanted, *record.groups):
                    result = await self._apply_locked(event, alert, record, wanted)
            self.metrics.alerts_received.labels(result.value).inc()
            log.info("alert event", result=result.value, transition=event.transition.value)
            return result

    async def _apply_locked(
        self, event: AlertEvent, alert: Alert, record: FingerprintRecord, wanted: list[str]
    ) -> IntakeResult:
        now = self.clock.now()
        if event.id in record.ids:
            return IntakeResult.DUPLICATE
        if record.applied_at is not None and alert.updated_at < record.applied_at:
            return IntakeResult.STALE
        existing: dict[str, GroupState] = {}
        for gid in dict.fromkeys([*wanted, *record.groups]):
            stored = await self.store.group(gid)
            if stored is not None and (gid in wanted or alert.fingerprint in stored.state.alerts):
                existing[gid] = stored.state
        changed = dispatch(self.config, alert, existing, now)
        listed = list(dict.fromkeys([*record.groups, *changed]))
        if listed != record.groups:
            record = record.model_copy(update={"groups": listed})
            await self.store.save_fingerprint(record)
        for state in changed.values():
            await self.store.save_alert_state(state, alert.fingerprint, now)
        applied_at = alert.updated_at
        if record.applied_at is not None:
            applied_at = max(applied_at, record.applied_at)
        ids = [*record.ids, event.id][-RECENT_IDS:]
        await self.store.save_fingerprint(
            record.model_copy(update={"applied_at": applied_at, "ids": ids})
        )
        return IntakeResult.APPLIED
