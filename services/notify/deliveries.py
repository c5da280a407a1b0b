"""Delivering pending notifications: attempts, retries, dead letters, disabled endpoints. The
decisions are the delivery lifecycle's (`domain/delivery_lifecycle.py`); this worker carries
out its actions (store writes, the send, Kafka records), feeds back what they learn, and counts.

After a success the notification log entry is written first — before the attempt record,
before anything else — so a crash right after a 2xx cannot make the next flush resend. A
pending notification whose log entry is already stored was delivered before a crash and is
not sent again (the log is not looked up on the first try of one this process inserted).
Every attempt is recorded in the delivery log (`notify_attempts`).

Endings that publish to Kafka (a dead letter, a disabled endpoint) are first marked on the
pending notification, so after a crash they are finished, not attempted again.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import time
from datetime import datetime
from typing import Any

from services.notify.clock import Clock
from services.notify.domain import delivery_lifecycle as lifecycle
from services.notify.domain.config import RoutingConfig
from services.notify.domain.delivery import OutcomeKind, RetryPolicy
from services.notify.domain.delivery_lifecycle import (
    Answered,
    Begin,
    CheckOwner,
    Delivery,
    DeliveryAction,
    DeliveryEvent,
    DeliveryOutcome,
    DeliveryTransition,
    End,
    FinishFinal,
    LogRead,
    OwnerChecked,
    Post,
    PutLogEntry,
    ReadLogEntry,
    RecordAttempt,
    UpdatePending,
)
from services.notify.domain.flush_records import FINAL_DISABLED
from services.notify.domain.nflog import NotifyReason
from services.notify.domain.payloads.webhook import webhook_message
from services.notify.domain.receivers import Integration
from services.notify.domain.timefmt import go_rfc3339
from services.notify.flushing import Flusher
from services.notify.metrics import NotifyMetrics
from services.notify.ownership import GroupOwnership
from services.notify.records import PendingNotification
from services.notify.senders import Attempt, Senders
from services.notify.store import NotifyStore
from shared.runtime.logging import bound, get_logger
from shared.runtime.publisher import Outbound, Publisher, text_headers

log = get_logger("planwatch.notify.delivery")

Learnt = tuple[Delivery, DeliveryEvent]  # what an action found out, to feed back


class DeliveryWorker:
    def __init__(  # noqa: PLR0917 - the worker's collaborators, wired once in app.py
        self,
        config: RoutingConfig,
        store: NotifyStore,
        senders: Senders,
        flusher: Flusher,
        publisher: Publisher,
        clock: Clock,
        metrics: NotifyMetrics,
        *,
        policy: RetryPolicy,
        notifications_topic: str,
        dlt_topic: str,
        concurrency: int = 32,
        rng: random.Random | None = None,
        ownership: GroupOwnership | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.senders = senders
        self.flusher = flusher
        self.publisher = publisher
        self.clock = clock
        self.metrics = metrics
        self.policy = policy
        self.notifications_topic = notifications_topic
        self.dlt_topic = dlt_topic
        self.rng = rng or random.Random()
        self.ownership = ownership or GroupOwnership(1)  # owns every group unless assigned
        self.semaphore = asyncio.Semaphore(concurrency)
        self.running: dict[str, asyncio.Task[None]] = {}
        self.disabled: set[str] = set()  # integration keys, reloaded every pass
        self.integrations: dict[str, Integration] = {
            i.key: i for r in config.receivers.values() for i in r.integrations
        }

    async def start_due(self, now: datetime) -> int:
        """Start a task for every pending notification due at `now` not already running."""
        pending = [p for p in await self.store.pending() if self.ownership.owns(p.group_id)]
        self.metrics.pending.set(len(pending))
        self.disabled = set(await self.store.disabled())
        started = 0
        for item in pending:
            if item.id in self.running or item.next_attempt_at > now:
                continue
            task = asyncio.create_task(self._guarded(item), name=f"deliver {item.id}")
            self.running[item.id] = task
            task.add_done_callback(functools.partial(self._forget, item.id))
            started += 1
        return started

    def _forget(self, pid: str, _: asyncio.Task[None]) -> None:
        self.running.pop(pid, None)

    async def drain(self) -> None:
        """Wait for every delivery in flight (on shutdown: finish them, start no more)."""
        while self.running:
            await asyncio.gather(*list(self.running.values()), return_exceptions=True)

    async def run_due(self, now: datetime) -> None:
        """Start what is due and wait for it (tests drive the worker step by step)."""
        await self.start_due(now)
        await self.drain()

    async def _guarded(self, item: PendingNotification) -> None:
        with bound(notification=item.id, receiver=item.receiver, integration=item.integration):
            try:
                await self.deliver(item)
            except Exception as exc:  # a store or Kafka failure: the next tick retries
                log.error("delivery step failed; will retry", error=repr(exc))

    async def deliver(self, item: PendingNotification) -> None:
        """Run the notification's delivery lifecycle (`domain/delivery_lifecycle.py` decides;
        this carries out its actions and feeds back what they learn) until it waits or ends."""
        known = item.integration in self.integrations
        begin = Begin(
            now=self.clock.now(),
            integration_known=known,
            # `first_try_here` answers True only once: asked only where a send may follow.
            first_try=(
                item.final is None
                and known
                and not item.record_only
                and self.store.first_try_here(item.id)
            ),
            disabled=item.integration in self.disabled,
        )
        delivery = Delivery(item)
        event: DeliveryEvent | None = begin
        while event is not None:
            transition = lifecycle.step(delivery, event)
            self._observe(transition, event)
            delivery, event = transition.state, None
            for action in transition.actions:
                learnt = await self._carry_out(delivery, action)
                if learnt is not None:
                    delivery, event = learnt

    async def _carry_out(self, delivery: Delivery, action: DeliveryAction) -> Learnt | None:
        """Carry out `action`; what it learnt, if anything: the state and the next event."""
        item = delivery.item
        match action:
            case ReadLogEntry():
                entry = await self.store.log_entry(item.group_key, item.integration)
                return delivery, LogRead(entry)
            case CheckOwner():
                return await self._send(delivery)
            case PutLogEntry(entry=entry):
                await self.store.put_log_entry(entry)
            case RecordAttempt():
                await self._record(item, action)
            case UpdatePending(item=updated):
                await self.store.update_pending(updated)
            case FinishFinal(item=final):
                await self._finish_final(final)
            case End(succeeded=succeeded):
                await self._ended(item, succeeded=succeeded)
            case Post():
                raise AssertionError("posted only under the send slot (_send)")
        return None

    async def _send(self, delivery: Delivery) -> Learnt | None:
        """The fencing check and the send, under one send slot: the concurrency limit is on
        sends (what receivers and the network see); the store writes after them are bounded
        by the store and overlap the next sends. Returns the answer, or None if fenced."""
        async with self.semaphore:
            owner = OwnerChecked(
                await self.ownership.still_owner(delivery.item.group_id, self.store)
            )
            checked = lifecycle.step(delivery, owner)
            self._observe(checked, owner)
            if checked.outcome is not DeliveryOutcome.POSTING:
                return None  # fenced: it stays pending, for its owner
            integration = self.integrations[delivery.item.integration]
            started = time.monotonic()
            result: Attempt = await self.senders.send(integration, delivery.item)
            elapsed = time.monotonic() - started
        now = self.clock.now()
        answer = Answered(result.outcome, result.status, now, self.policy, self.rng, elapsed)
        return checked.state, answer

    def _observe(self, transition: DeliveryTransition, event: DeliveryEvent) -> None:
        """Metrics and log lines of a transition (nothing here changes state)."""
        item = transition.state.item
        match transition.outcome:
            case DeliveryOutcome.ALREADY_DELIVERED:
                log.info("already delivered before a restart; not sent again")
            case DeliveryOutcome.SKIPPED_DISABLED:
                self.metrics.notifications.labels(item.receiver, "disabled").inc()
                log.warning("not sent: the integration is disabled (HTTP 410 earlier)")
            case DeliveryOutcome.FENCED:
                self.metrics.fenced.inc()
                log.warning("not sent: the group belongs to another replica now")
            case DeliveryOutcome.DELIVERED:
                self.metrics.attempts.labels(item.receiver, "success").inc()
                self.metrics.notifications.labels(item.receiver, "delivered").inc()
                if (
                    isinstance(event, Answered)
                    and item.arrived_at is not None
                    and item.reason != NotifyReason.REPEAT_INTERVAL
                ):
                    latency = max((event.now - item.arrived_at).total_seconds(), 0.0)
                    self.metrics.delivery_latency.labels(item.receiver).observe(latency)
                status = event.status if isinstance(event, Answered) else None
                log.info("delivered", attempt=item.attempts + 1, status=status)
            case DeliveryOutcome.RETRY:
                self.metrics.attempts.labels(item.receiver, "retry").inc()
                log.warning(
                    "delivery failed; will retry",
                    attempt=item.attempts,
                    reason=item.last_reason,
                    retry_at=item.next_attempt_at.isoformat(),
                )
            case DeliveryOutcome.DEAD_LETTERED | DeliveryOutcome.DISABLED:
                self.metrics.attempts.labels(item.receiver, "permanent").inc()
                if isinstance(event, Answered) and event.outcome.kind is OutcomeKind.FAILED:
                    self.metrics.notifications.labels(item.receiver, "failed").inc()
            case _:
                pass

    # -- endings ------------------------------------------------------------------------------

    async def _finish_final(self, item: PendingNotification) -> None:
        """Carry out a decided ending (the caller then ends the notification)."""
        now = self.clock.now()
        reason = item.final_reason or item.last_reason
        if item.final == FINAL_DISABLED:
            await self.store.disable(item.integration, item.receiver, reason, now)
            self.disabled.add(item.integration)
            self.metrics.receivers_disabled.set(len(await self.store.disabled()))
            self.metrics.notifications.labels(item.receiver, "disabled").inc()
            self.metrics.operational_alerts.labels("integration_disabled").inc()
            log.error(
                "integration disabled: the endpoint answered 410 Gone",
                reason=reason,
                operational_alert="NotifyIntegrationDisabled",
            )
            await self.publisher.publish([self._disabled_record(item, reason, now)])
        else:
            self.metrics.notifications.labels(item.receiver, "dead_lettered").inc()
            self.metrics.dead_lettered.labels(item.receiver).inc()
            log.error("notification dead-lettered", reason=reason, attempts=item.attempts)
            await self.publisher.publish([self._dead_letter_record(item, reason, now)])

    async def _ended(self, item: PendingNotification, *, succeeded: bool) -> None:
        if not succeeded:
            await self.flusher.notification_failed(item)  # before the removal: see flushing
        await self.store.delete_pending(item.id)
        await self.flusher.notification_ended(item)

    # -- records ------------------------------------------------------------------------------

    async def _record(self, item: PendingNotification, attempt: RecordAttempt) -> None:
        await self.store.record_attempt(
            {
                "_id": f"{item.id}#{attempt.number}",
                "notification": item.id,
                "webhook_id": item.webhook_id,
                "receiver": item.receiver,
                "integration": item.integration,
                "group_key": item.group_key,
                "attempt": attempt.number,
                "at": self.clock.now(),
                "status": attempt.status,
                "reason": attempt.reason,
                "step": attempt.step,
                "elapsed_s": round(attempt.elapsed_s, 6),
                "escalation": item.escalation,
            }
        )

    def _message(self, item: PendingNotification) -> dict[str, Any]:
        return webhook_message(
            item.receiver,
            item.group_key,
            item.group_labels,
            item.alerts,
            now=item.created_at,
            external_url=self.senders.external_url,
        )

    def _dead_letter_record(
        self, item: PendingNotification, reason: str, now: datetime
    ) -> Outbound:
        body = {
            "kind": "planwatch.notify.dead_letter",
            "notification": item.id,
            "webhookId": item.webhook_id,
            "receiver": item.receiver,
            "integration": item.integration,
            "groupKey": item.group_key,
            "reason": reason,
            "attempts": item.attempts,
            "firstAttemptAt": go_rfc3339(item.first_attempt_at) if item.first_attempt_at else None,
            "deadAt": go_rfc3339(now),
            "message": self._message(item),
        }
        return Outbound(
            topic=self.dlt_topic,
            value=json.dumps(body, ensure_ascii=False).encode(),
            key=item.group_key.encode(),
            headers=text_headers(
                {
                    "content-type": "application/json",
                    "planwatch-reason": reason,
                    "webhook-id": item.webhook_id,
                }
            ),
        )

    def _disabled_record(self, item: PendingNotification, reason: str, now: datetime) -> Outbound:
        """An alert-like record (Alertmanager alert fields) for whoever runs planwatch."""
        body = {
            "kind": "planwatch.notify.operational",
            "status": "firing",
            "labels": {
                "alertname": "NotifyIntegrationDisabled",
                "receiver": item.receiver,
                "integration": item.integration,
                "severity": "critical",
            },
            "annotations": {
                "summary_zh": f"通知接收端 {item.integration} 已停用（HTTP 410）",
                "summary_en": f"notification integration {item.integration} disabled (HTTP 410)",
                "description_zh": "接收端返回 410 Gone，后续通知不再发送，需人工核实后重新启用。",
                "description_en": (
                    "The endpoint answered 410 Gone; no more notifications go to it until an "
                    "operator re-enables it."
                ),
            },
            "startsAt": go_rfc3339(now),
            "endsAt": None,
            "reason": reason,
            "notification": item.id,
        }
        return Outbound(
            topic=self.notifications_topic,
            value=json.dumps(body, ensure_ascii=False).encode(),
            key=item.integration.encode(),
            headers=text_headers(
                {"content-type": "application/json", "planwatch-kind": "operational"}
            ),
        )
