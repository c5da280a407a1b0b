"""Flushing due aggregation groups into pending notifications, and closing a flush once all of
its notifications ended: the adapter of the group's flush lifecycle
(`domain/flush_lifecycle.py`, which decides everything and documents the phases). Here, under
the group's lock: read the group and what the flush needs, run the fencing check, feed one
event, carry out the actions in order, count and log.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.notify.clock import Clock
from services.notify.domain import flush_lifecycle as lifecycle
from services.notify.domain.acks import Acknowledgement
from services.notify.domain.alert import Alert
from services.notify.domain.config import RoutingConfig
from services.notify.domain.flush_lifecycle import (
    AddPending,
    CloseFlush,
    CountMuted,
    FlushAction,
    FlushOutcome,
    FlushTick,
    FlushTransition,
    ForgetFlush,
    GroupFlush,
    MarkFailed,
    NotificationEnded,
    NotificationFailed,
    SaveFlush,
)
from services.notify.domain.nflog import LogEntry
from services.notify.domain.silences import Silence
from services.notify.group_locks import KeyedLocks
from services.notify.metrics import NotifyMetrics
from services.notify.ownership import GroupOwnership
from services.notify.records import GroupRecord, PendingNotification
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
        due = [g for g in mine if lifecycle.wants_flush(GroupFlush.of(g, pending), now)]
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
            owner = await self.ownership.still_owner(gid, self.store)
            state = GroupFlush(None)
            entries: dict[str, LogEntry] = {}
            if owner:  # a fenced replica reads nothing more: a newer owner flushes it
                record = await self.store.group(gid)  # again, under the lock: intake may have run
                state = GroupFlush.of(record, await self.store.pending_ids())
                if record is not None and lifecycle.wants_flush(state, now):
                    entries = await self._log_entries(record)
            tick = FlushTick(now, owner, self.config, entries, firing, silences, acks)
            transition = lifecycle.step(state, tick)
            await self._execute(transition)
            made = transition.made
            if transition.outcome is FlushOutcome.ROUTE_GONE:
                log.warning("group of a route no longer in the routing file; dropped")
            elif transition.outcome is FlushOutcome.FLUSHED and transition.state.record:
                log.info(
                    "group flushed",
                    notifications=[(p.integration, p.reason) for p in made],
                    alerts=len(transition.state.record.state.alerts),
                )
            return len(made)

    async def _log_entries(self, record: GroupRecord) -> dict[str, LogEntry]:
        entries = {}
        for key in lifecycle.log_keys(self.config, record):
            entry = await self.store.log_entry(record.state.key, key)
            if entry is not None:
                entries[key] = entry
        return entries

    async def notification_failed(self, pending: PendingNotification) -> None:
        """Called before a failed notification is removed: its flush, if it has resolved
        alerts to remove at the close, is marked failed (so they stay in the group)."""
        async with self.locks.hold(pending.group_id):
            state = await self._flush_state(pending.group_id)
            await self._execute(lifecycle.step(state, NotificationFailed(pending.id)))

    async def notification_ended(self, pending: PendingNotification) -> None:
        """Called once a pending notification was delivered, dead-lettered or dropped (and
        removed from the pending collection). The last one to end closes the flush."""
        async with self.locks.hold(pending.group_id):
            state = await self._flush_state(pending.group_id)
            event = NotificationEnded(pending.id, self.clock.now())
            await self._execute(lifecycle.step(state, event))

    async def _flush_state(self, gid: str) -> GroupFlush:
        """The group with a flush in flight, from memory when this process wrote it last."""
        record = await self.store.flushing_group(gid)
        return GroupFlush.of(record, await self.store.pending_ids())

    async def _execute(self, transition: FlushTransition) -> None:
        for action in transition.actions:
            await self._carry_out(action)

    async def _carry_out(self, action: FlushAction) -> None:
        match action:
            case AddPending(pending=pending):
                await self.store.add_pending(pending)
            case SaveFlush(record=record):
                await self.store.save_flush(record)
            case MarkFailed(record=record):
                await self.store.mark_inflight_failed(record)
            case CloseFlush(state=state, forget=forget):
                await self.store.finish_flush(state, list(forget))
                if state.is_empty():
                    log.info("group closed", group=state.id)
            case ForgetFlush(group_id=gid):
                self.store.flush_closed(gid)
            case CountMuted(silenced=silenced, inhibited=inhibited):
                self.metrics.silenced.inc(silenced)
                self.metrics.inhibited.inc(inhibited)
