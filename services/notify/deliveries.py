"""Delivering pending notifications: attempts, retries, dead letters, disabled endpoints.

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
from services.notify.domain.config import RoutingConfig
from services.notify.domain.delivery import OutcomeKind, RetryPolicy, StepKind, next_step
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

FINAL_DEAD = "dead_letter"
FINAL_DISABLED = "disabled"


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
        if item.final is not None:
            await self._finish_final(item)
            return
        integration = self.integrations.get(item.integration)
        if integration is None:
            await self._dead_letter(item, "the integration is no longer in the routing file")
            return
        if item.record_only:
            # Nothing to send (resolved alerts without send_resolved): just record.
            await self.store.put_log_entry(item.entry)
            await self._ended(item, succeeded=True)
            return
        if not self.store.first_try_here(item.id):
            stored = await self.store.log_entry(item.group_key, item.integration)
            if stored == item.entry:
                log.info("already delivered before a restart; not sent again")
                await self._ended(item, succeeded=True)
                return
        if item.integration in self.disabled:
            self.metrics.notifications.labels(item.receiver, "disabled").inc()
            await self._record(
                item, number=item.attempts, status=None, reason="skipped: disabled", elapsed_s=0
            )
            log.warning("not sent: the integration is disabled (HTTP 410 earlier)")
            await self._ended(item, succeeded=False)
            return
        await self._attempt(integration, item)

    async def _attempt(self, integration: Integration, item: PendingNotification) -> None:
        number = item.attempts + 1
        first = item.first_attempt_at or self.clock.now()
        # The concurrency limit is on sends (what receivers and the network see); the store
        # writes after them are bounded by the store and overlap the next sends.
        async with self.semaphore:
            if not await self.ownership.still_owner(item.group_id, self.store):
                # Fenced: the group's partition moved to another replica (this one was
                # paused past its session, or a rebalance overtook it). Its owner sends.
                self.metrics.fenced.inc()
                log.warning("not sent: the group belongs to another replica now")
                return
            started = time.monotonic()
            result: Attempt = await self.senders.send(integration, item)
            elapsed = time.monotonic() - started
        now = self.clock.now()
        outcome = result.outcome
        if outcome.kind is OutcomeKind.SUCCESS:
            await self.store.put_log_entry(item.entry)  # first, before anything else
            await self._record(
                item, number=number, status=result.status, reason=outcome.reason, elapsed_s=elapsed
            )
            self.metrics.attempts.labels(item.receiver, "success").inc()
            self.metrics.notifications.labels(item.receiver, "delivered").inc()
            if item.arrived_at is not None and item.reason != "repeat interval elapsed":
                latency = max((now - item.arrived_at).total_seconds(), 0.0)
                self.metrics.delivery_latency.labels(item.receiver).observe(latency)
            log.info("delivered", attempt=number, status=result.status)
            await self._ended(item, succeeded=True)
            return
        step = next_step(
            self.policy, outcome, attempt=number, first_attempt_at=first, now=now, rng=self.rng
        )
        await self._record(
            item,
            number=number,
            status=result.status,
            reason=outcome.reason,
            elapsed_s=elapsed,
            step=step.kind.value,
        )
        if step.kind is StepKind.RETRY and step.retry_at is not None:
            self.metrics.attempts.labels(item.receiver, "retry").inc()
            await self.store.update_pending(
                item.model_copy(
                    update={
                        "attempts": number,
                        "first_attempt_at": first,
                        "next_attempt_at": step.retry_at,
                        "last_reason": outcome.reason,
                    }
                )
            )
            log.warning(
                "delivery failed; will retry",
                attempt=number,
                reason=outcome.reason,
                retry_at=step.retry_at.isoformat(),
            )
            return
        self.metrics.attempts.labels(item.receiver, "permanent").inc()
        update = {"attempts": number, "first_attempt_at": first, "last_reason": outcome.reason}
        item = item.model_copy(update=update)
        if step.kind is StepKind.DISABLE:
            await self._disable(item, step.reason)
        else:
            if outcome.kind is OutcomeKind.FAILED:
                self.metrics.notifications.labels(item.receiver, "failed").inc()
            await self._dead_letter(item, step.reason)

    # -- endings ------------------------------------------------------------------------------

    async def _dead_letter(self, item: PendingNotification, reason: str) -> None:
        item = item.model_copy(update={"final": FINAL_DEAD, "final_reason": reason})
        await self.store.update_pending(item)
        await self._finish_final(item)

    async def _disable(self, item: PendingNotification, reason: str) -> None:
        item = item.model_copy(update={"final": FINAL_DISABLED, "final_reason": reason})
        await self.store.update_pending(item)
        await self._finish_final(item)

    async def _finish_final(self, item: PendingNotification) -> None:
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
        await self._ended(item, succeeded=False)

    async def _ended(self, item: PendingNotification, *, succeeded: bool) -> None:
        if not succeeded:
            await self.flusher.notification_failed(item)  # before the removal: see flushing
        await self.store.delete_pending(item.id)
        await self.flusher.notification_ended(item)

    # -- records ------------------------------------------------------------------------------

    async def _record(
        self,
        item: PendingNotification,
        *,
        number: int,
        status: int | None,
        reason: str,
        elapsed_s: float,
        step: str = "done",
    ) -> None:
        await self.store.record_attempt(
            {
                "_id": f"{item.id}#{number}",
                "notification": item.id,
                "webhook_id": item.webhook_id,
                "receiver": item.receiver,
                "integration": item.integration,
                "group_key": item.group_key,
                "attempt": number,
                "at": self.clock.now(),
                "status": status,
                "reason": reason,
                "step": step,
                "elapsed_s": round(elapsed_s, 6),
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
