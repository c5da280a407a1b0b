"""Escalating unacknowledged alerts, every tick of the loop (rules: domain/escalation.py).

For each group this replica owns whose route has an escalation chain, the steps due (alert
firing, not muted, acknowledged by no one on the chain, `starts_at + after` passed, not sent
yet) become pending notifications to the step's receiver, one per integration, delivered by
the same worker as the flushes' (retries, dead letters, the delivery log with the step).

Once per step and firing episode: the pending notification is written first (its id and
webhook-id derive from the step and the episode, so a re-run finds it), then the step is marked
sent (`notify_escalations`). Both happen before the tick's deliveries start, so a crash
between them re-creates a notification that was not sent yet. Fencing as the flusher: under
the group's lock and only while the stored epoch of its partition is still ours.
"""

from __future__ import annotations

from datetime import datetime

from services.notify.domain.acks import Acknowledgement
from services.notify.domain.alert import Alert
from services.notify.domain.config import RoutingConfig
from services.notify.domain.escalation import EscalationDue, due_escalations
from services.notify.domain.pipeline import muted, notification_id
from services.notify.domain.routing import Route
from services.notify.domain.silences import Silence
from services.notify.flushing import firing_alerts
from services.notify.group_locks import KeyedLocks
from services.notify.ownership import GroupOwnership
from services.notify.records import GroupRecord, PendingNotification
from services.notify.store import NotifyStore
from shared.runtime.logging import get_logger

log = get_logger("planwatch.notify.escalation")

_SENT_CACHE = 10_000  # escalation keys known sent, kept to spare a store read per tick


class Escalator:
    def __init__(
        self,
        config: RoutingConfig,
        store: NotifyStore,
        locks: KeyedLocks,
        *,
        ownership: GroupOwnership | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.locks = locks
        self.ownership = ownership or GroupOwnership(1)
        self.enabled = any(r.settings.escalation for r in config.route.walk())
        self._sent: set[str] = set()

    async def escalate_due(self, now: datetime) -> int:
        """Write the pending notifications of the steps due at `now`; returns how many."""
        if not self.enabled:
            return 0
        groups = await self.store.groups()
        mine = [(g, r) for g in groups if (r := self._route(g)) is not None]
        if not mine:
            return 0
        firing = firing_alerts(groups, now)
        silences = [s for s, _ in await self.store.silences()]
        acks = await self.store.acks()
        made = 0
        for group, route in mine:
            due = self._due(group, route, firing, silences, acks, now)
            if due:
                due = await self._unsent(due)
            if due:
                made += await self._escalate(group, route, due)
        return made

    def _route(self, group: GroupRecord) -> Route | None:
        route = self.config.routes_by_id.get(group.state.route_id)
        if route is None or not route.settings.escalation or not self.ownership.owns(group.id):
            return None
        return route

    def _due(  # noqa: PLR0917 - the tick's reads, passed down
        self,
        group: GroupRecord,
        route: Route,
        firing: list[Alert],
        silences: list[Silence],
        acks: list[Acknowledgement],
        now: datetime,
    ) -> list[EscalationDue]:
        visible = [
            a
            for a in group.state.alerts.values()
            if not muted(a, firing, self.config, silences, now)
        ]
        return due_escalations(route, visible, acks=acks, sent=self._sent, now=now)

    async def _unsent(self, due: list[EscalationDue]) -> list[EscalationDue]:
        sent = await self.store.escalated([d.key for d in due])
        self._remember(sent)
        return [d for d in due if d.key not in sent]

    def _remember(self, keys: set[str]) -> None:
        if len(self._sent) + len(keys) > _SENT_CACHE:
            self._sent.clear()
        self._sent |= keys

    async def _escalate(self, group: GroupRecord, route: Route, due: list[EscalationDue]) -> int:
        made = 0
        async with self.locks.hold(group.id):
            if not await self.ownership.still_owner(group.id, self.store):
                return 0  # fenced: the group's new owner escalates
            for step in due:
                for pending in self._pending(group, step):
                    await self.store.add_pending(pending)
                    made += 1
                await self.store.mark_escalated(step.key, step.at)
                self._remember({step.key})
                log.warning(
                    "alert escalated",
                    group=group.id,
                    route=route.id,
                    fingerprint=step.alert.fingerprint,
                    step=step.step,
                    receiver=step.receiver,
                )
        return made

    def _pending(self, group: GroupRecord, step: EscalationDue) -> list[PendingNotification]:
        key = step.group_key(group.state.key)
        return [
            PendingNotification(
                id=f"{group.id}:escalation:{step.key}:{integration.key}",
                webhook_id=notification_id(key, integration.key, step.at),
                group_id=group.id,
                group_key=key,
                group_labels=group.state.labels,
                receiver=step.receiver,
                integration=integration.key,
                reason=f"escalation step {step.step}",
                alerts=[step.alert],
                record_only=False,
                entry=step.entry(group.state.key, integration.key),
                created_at=step.at,
                next_attempt_at=step.at,
                escalation=step.step,
            )
            for integration in self.config.integrations(step.receiver)
        ]
