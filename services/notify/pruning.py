"""Forgetting what notify no longer needs (`domain.retention`): expired notification log
entries, silences expired for the data retention, acknowledgements and escalation steps sent
of episodes no group holds any more (or ended) past it, and the delivery log and refused input
past theirs. Run by the flush loop at its first tick and then every `every`."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.notify.domain.acks import Acknowledgement
from services.notify.domain.retention import (
    Retention,
    ack_forgotten,
    delivery_log_cutoff,
    escalation_forgotten,
    live_episodes,
    log_entry_expired,
    silence_forgotten,
)
from services.notify.metrics import NotifyMetrics
from services.notify.store import NotifyStore
from shared.runtime.logging import get_logger

log = get_logger("planwatch.notify.pruning")


class Pruner:
    def __init__(
        self,
        store: NotifyStore,
        retention: Retention,
        metrics: NotifyMetrics,
        every: timedelta = timedelta(hours=1),
    ) -> None:
        self.store = store
        self.retention = retention
        self.metrics = metrics
        self.every = every
        self._last: datetime | None = None

    async def prune_due(self, now: datetime) -> None:
        if self._last is not None and now - self._last < self.every:
            return
        self._last = now
        await self.prune(now)

    async def prune(self, now: datetime) -> dict[str, int]:
        """Delete what the retention lets go; returns the counts by kind."""
        entries = [
            e for e in await self.store.log_entries() if log_entry_expired(e, now, self.retention)
        ]
        silences = [
            (s, updated)
            for s, updated in await self.store.silences()
            if silence_forgotten(s, now, self.retention)
        ]
        attempts, rejected = await self.store.forget_delivery_log(
            delivery_log_cutoff(now, self.retention)
        )
        acks, escalations = await self._episode_records(now)
        counts = {
            "log_entries": await self.store.forget_log_entries(entries),
            "silences": await self.store.forget_silences(silences),
            "attempts": attempts,
            "rejected_alerts": rejected,
            "acks": await self.store.forget_acks(acks),
            "escalations": await self.store.forget_escalations(escalations),
        }
        for kind, count in counts.items():
            self.metrics.pruned.labels(kind).inc(count)
        if any(counts.values()):
            log.info("retention: forgotten", **counts)
        return counts

    async def _episode_records(self, now: datetime) -> tuple[list[Acknowledgement], list[str]]:
        """The acknowledgements and escalation steps to forget. Read before the groups: an
        acknowledgement or a step is written only for an alert a group already holds, so one
        read first finds its episode in the groups read after, while the episode lasts."""
        acks = await self.store.acks()
        marks = await self.store.escalation_marks()
        groups = await self.store.groups()
        episodes = live_episodes(a for g in groups for a in g.state.alerts.values())
        return (
            [a for a in acks if ack_forgotten(a, episodes, now, self.retention)],
            [
                key
                for key, at in marks.items()
                if escalation_forgotten(key, at, episodes, now, self.retention)
            ],
        )
