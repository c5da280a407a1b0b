"""Flushing due aggregation groups into pending notifications, and closing a flush once all of
its notifications ended.

A flush writes, in order: each pending notification (id `<group>:<seq>:<integration>`, kept if
it already exists), then the group with `seq + 1` and the flush (`inflight`). After a crash in
between, the group is still due with the same `seq`; the re-run finds the notifications
already there (same webhook-id) and the log entries of those already delivered, so nothing is
lost and nothing is sent twice.

A flush is in flight while any of its notifications is pending, and the group does not flush
again until then (as an Alertmanager group waits for its pipeline). Closing a flush removes
the resolved alerts it notified (if every integration succeeded): a flush of firing alerts
only closes with nothing to write. One with resolved alerts is closed when its last
notification ends, or, after a crash between that and the close, at the group's next flush.
A failure is marked on the flush before the failed notification is removed, so that a late
close knows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.notify.clock import Clock
from services.notify.domain.acks import Acknowledgement
from services.notify.domain.alert import Alert
from services.notify.domain.config import RoutingConfig
from services.notify.domain.grouping import flush, flush_due, remove_notified_resolved
from services.notify.domain.inhibit import inhibited
from services.notify.domain.pipeline import Notification, prepare_notifications
from services.notify.domain.silences import Silence, silenced
from services.notify.group_locks import KeyedLocks
from services.notify.metrics import NotifyMetrics
from services.notify.ownership import GroupOwnership
from services.notify.records import GroupRecord, Inflight, PendingNotification, pending_id
from services.notify.store import NotifyStore
from shared.runtime.logging import bound, get_logger

log = get_logger("planwatch.notify.flush")


def firing_alerts(groups: Iterable[GroupRecord], now: datetime) -> list[Alert]:
    """Every stored alert firing at `now`, the latest version of each fingerprint."""
    latest: dict[str, Alert] = {}
    for group in groups:
        for alert in group.state.alerts.values():
            seen = latest.get(alert.fingerprint)
            if seen is None or alert.updated_at > seen.updated_at:
                latest[alert.fingerprint] = alert
    return [a for a in latest.values() if not a.resolved_at(now)]


class Flusher:
    def __init__(
        self,
        config: RoutingConfig,
        store: NotifyStore,
        clock: Clock,
        locks: KeyedLocks,
        metrics: NotifyMetrics,
        *,
        ownership: GroupOwnership | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.locks = locks
        self.metrics = metrics
        self.ownership = ownership or GroupOwnership(1)  # owns every group unless assigned

    async def flush_due(self, now: datetime) -> int:
        """Flush every due group this replica owns without a flush in flight; returns the
        notifications made. Every replica reads all groups: inhibition needs every firing
        alert, whichever replica owns its group."""
        groups = await self.store.groups()
        mine = [g for g in groups if self.ownership.owns(g.id)]
        self.metrics.groups_active.set(sum(1 for g in mine if not g.state.is_empty()))
        pending = await self.store.pending_ids()
        due = [g for g in mine if not g.flush_open(pending) and flush_due(g.state, now)]
        if not due:
            return 0
        firing = firing_alerts(groups, now)
        silences = [s for s, _ in await self.store.silences()]
        acks = await self.store.acks()
        made = 0
        for group in due:
            with bound(group=group.id, group_key=group.state.key):
                made += await self._flush_one(group.id, firing, silences, acks, now)
        return made

    async def _flush_one(
        self,
        gid: str,
        firing: list[Alert],
        silences: list[Silence],
        acks: list[Acknowledgement],
        now: datetime,
    ) -> int:
        async with self.locks.hold(gid):
            if not await self.ownership.still_owner(gid, self.store):
                return 0  # fenced: a newer owner flushes it
            record = await self.store.group(gid)  # again, under the lock: intake may have run
            if record is None or record.flush_open(await self.store.pending_ids()):
                return 0
            if record.inflight is not None:
                record = await self._close_ended(record)
            if record is None or not flush_due(record.state, now):
                return 0
            route = self.config.routes_by_id.get(record.state.route_id)
            if route is None:
                log.warning("group of a route no longer in the routing file; dropped")
                await self.store.finish_flush(record.state.model_copy(update={"alerts": {}}), [])
                return 0
            state, snapshot = flush(record.state, route, now)
            entries = {}
            for integration in self.config.integrations(route.receiver):
                entry = await self.store.log_entry(state.key, integration.key)
                if entry is not None:
                    entries[integration.key] = entry
            self._count_muted(snapshot, firing, silences, now)
            notes = prepare_notifications(
                self.config,
                state,
                route,
                snapshot,
                log_entries=entries,
                firing_alerts=firing,
                silences=silences,
                now=now,
                acks=acks,
            )
            pending = [self._pending(record, n) for n in notes]
            for item in pending:
                await self.store.add_pending(item)
            seq = record.seq + 1
            if pending:
                # Only alerts with an end can leave the group when the flush closes
                # (remove_notified_resolved): the firing ones are not kept twice.
                ended = [a for a in snapshot if a.ends_at is not None]
                inflight = Inflight(
                    seq=record.seq, at=now, snapshot=ended, notifications=[p.id for p in pending]
                )
                await self.store.save_flush(
                    record.model_copy(update={"state": state, "seq": seq, "inflight": inflight})
                )
                log.info(
                    "group flushed",
                    notifications=[(p.integration, p.reason) for p in pending],
                    alerts=len(snapshot),
                )
            else:
                saved = record.model_copy(update={"state": state, "seq": seq, "inflight": None})
                await self.store.save_flush(saved)
                await self._close(saved, snapshot, succeeded=True, now=now)
            return len(pending)

    def _count_muted(
        self, snapshot: list[Alert], firing: list[Alert], silences: list[Silence], now: datetime
    ) -> None:
        """Alerts left out of this flush: silenced first (as Alertmanager checks), then
        inhibited."""
        for alert in snapshot:
            if silenced(alert.labels, silences, now):
                self.metrics.silenced.inc()
            elif inhibited(alert, firing, self.config.inhibit_rules):
                self.metrics.inhibited.inc()

    def _pending(self, record: GroupRecord, note: Notification) -> PendingNotification:
        arrivals = [
            record.arrived[a.fingerprint] for a in note.alerts if a.fingerprint in record.arrived
        ]
        return PendingNotification(
            id=pending_id(record.id, record.seq, note.integration.key),
            webhook_id=note.id,
            group_id=note.group_id,
            group_key=note.group_key,
            group_labels=note.group_labels,
            receiver=note.receiver,
            integration=note.integration.key,
            reason=note.reason.value,
            alerts=list(note.alerts),
            record_only=note.record_only,
            entry=note.entry,
            created_at=note.created_at,
            arrived_at=max(arrivals) if arrivals else None,
            next_attempt_at=note.created_at,
        )

    async def notification_failed(self, pending: PendingNotification) -> None:
        """Called before a failed notification is removed: its flush, if it has resolved
        alerts to remove at the close, is marked failed (so they stay in the group)."""
        async with self.locks.hold(pending.group_id):
            found = await self._flush_of(pending)
            if found is None:
                return
            record, inflight = found
            if inflight.snapshot and not inflight.failed:
                await self.store.mark_inflight_failed(record)

    async def notification_ended(self, pending: PendingNotification) -> None:
        """Called once a pending notification was delivered, dead-lettered or dropped (and
        removed from the pending collection). The last one to end closes the flush."""
        async with self.locks.hold(pending.group_id):
            found = await self._flush_of(pending)
            if found is None:
                return
            record, inflight = found
            if record.flush_open(await self.store.pending_ids()):
                return
            if not inflight.snapshot:
                self.store.flush_closed(record.id)  # nothing in the group changes
                return
            await self._close(
                record, inflight.snapshot, succeeded=not inflight.failed, now=self.clock.now()
            )

    async def _flush_of(self, pending: PendingNotification) -> tuple[GroupRecord, Inflight] | None:
        """The group and its recorded flush, if that flush made `pending` (the caller holds
        the group's lock); None if the group is gone or has flushed since."""
        record = await self.store.flushing_group(pending.group_id)
        inflight = None if record is None else record.inflight
        if record is None or inflight is None or pending.id not in inflight.notifications:
            return None
        return record, inflight

    async def _close_ended(self, record: GroupRecord) -> GroupRecord | None:
        """The group with its last flush, whose notifications all ended, closed (the caller
        holds the group's lock); None if that left it empty (deleted). Writes only when the
        close changes the group: after a crash before a close with resolved alerts."""
        inflight = record.inflight
        if inflight is None or not inflight.snapshot:
            return record.model_copy(update={"inflight": None})
        await self._close(record, inflight.snapshot, succeeded=not inflight.failed, now=inflight.at)
        return await self.store.group(record.id)

    async def _close(
        self, record: GroupRecord, snapshot: list[Alert], *, succeeded: bool, now: datetime
    ) -> None:
        """End a flush (the caller holds the group's lock and has just read `record`): if
        every integration succeeded, its resolved alerts leave the group (unless they changed
        since); an empty group is deleted."""
        gid = record.id
        state = record.state
        if succeeded:
            state = remove_notified_resolved(state, snapshot, now)
        forget = [fp for fp in record.state.alerts if fp not in state.alerts]
        await self.store.finish_flush(state, forget)
        if state.is_empty():
            log.info("group closed", group=gid)
