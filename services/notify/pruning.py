"""Forgetting what notify no longer needs (`domain.retention`): expired notification log
entries, silences expired for the data retention, and the delivery log and refused input past
theirs. Run by the flush loop at its first tick and then every `every`."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.notify.domain.retention import (
    Retention,
    delivery_log_cutoff,
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
        counts = {
            "log_entries": await self.store.forget_log_entries(entries),
            "silences": await self.store.forget_silences(silences),
            "attempts": attempts,
            "rejected_alerts": rejected,
        }
        for kind, count in counts.items():
            self.metrics.pruned.labels(kind).inc(count)
        if any(counts.values()):
            log.info("retention: forgotten", **counts)
        return counts
