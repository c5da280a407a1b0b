"""notify's delivery against misbehaving local receivers (real Kafka and FerretDB, manual clock):
500, 429 with Retry-After, 410, a hang past the timeout, a reset connection, a permanent 4xx,
the retry budget ending in the dead-letter topic, the SSRF rule, and a restart that resumes a
pending retry without resending what was delivered."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from services.notify.config import DeliverySettings
from tests.integration import notify_harness
from tests.integration.notify_harness import ONE_HOOK_ROUTING, T0, Harness, MakeHarness, read_topic
from tests.integration.notify_support import HttpReceiver, Reply, alert_event

pytestmark = pytest.mark.integration
make_harness = notify_harness.make_harness  # the fixture, for pytest to find here

ROUTING = ONE_HOOK_ROUTING
DELIVERY = DeliverySettings(
    http_timeout_s=0.5, backoff_base_s=10, backoff_cap_s=60, max_attempts=3, concurrency=4
)


async def flushed(make: MakeHarness, *replies: Reply, routing: str = ROUTING) -> Harness:
    """A harness whose receiver answers `replies` (then 200), after one alert's first flush."""
    h = await make(routing, delivery=DELIVERY)
    h.http.script("/hook", *replies)
    await h.send(alert_event(target="t-1", at=T0))
    await h.tick(10)
    return h


async def attempt_steps(h: Harness) -> list[tuple[int | None, str, str]]:
    docs = sorted(await h.service.store.attempts(), key=lambda d: d["attempt"])
    return [(d["status"], d["step"], d["reason"]) for d in docs]


async def test_500_is_retried_with_backoff_and_same_id(make_harness: MakeHarness) -> None:
    h = await flushed(make_harness, Reply(500))
    [pending] = await h.service.store.pending()
    assert pending.attempts == 1 and pending.last_reason == "HTTP 500"
    wait = pending.next_attempt_at - h.clock.now()
    assert timedelta(0) <= wait <= timedelta(seconds=10)  # full jitter of base 10 s
    await h.tick(10)
    first, second = h.http.at("/hook")
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert await h.service.store.pending() == []
    assert await attempt_steps(h) == [(500, "retry", "HTTP 500"), (200, "done", "HTTP 200")]
    assert (
        h.metric(
            "planwatch_notify_delivery_attempts_total", {"receiver": "hook", "result": "retry"}
        )
        == 1
    )
    assert (
        h.metric(
            "planwatch_notify_notifications_total", {"receiver": "hook", "outcome": "delivered"}
        )
        == 1
    )


async def test_429_retry_after_is_honoured(make_harness: MakeHarness) -> None:
    h = await flushed(make_harness, Reply(429, {"Retry-After": "120"}))
    [pending] = await h.service.store.pending()
    assert pending.next_attempt_at == h.clock.now() + timedelta(seconds=120)
    await h.tick(119)
    assert len(h.http.at("/hook")) == 1
    await h.tick(1)
    assert len(h.http.at("/hook")) == 2
    assert await h.service.store.pending() == []


async def test_hang_times_out_and_reset_is_retried(make_harness: MakeHarness) -> None:
    h = await flushed(make_harness, Reply(hang_s=2.0), Reply(reset=True))
    await h.tick(10)
    await h.tick(20)
    timeout, reset, success = await attempt_steps(h)
    assert timeout == (None, "retry", "transport error: timeout")
    assert reset[:2] == (None, "retry") and reset[2].startswith("transport error: connection")
    assert success == (200, "done", "HTTP 200")
    assert len(h.http.at("/hook")) == 3


async def test_budget_exhausted_goes_to_the_dead_letter_topic(make_harness: MakeHarness) -> None:
    h = await flushed(make_harness, Reply(503), Reply(503), Reply(503))
    await h.tick(10)
    await h.tick(20)
    assert len(h.http.at("/hook")) == 3
    assert await h.service.store.pending() == []
    [(key, value, headers)] = await read_topic(h.bootstrap, h.settings.dlt_topic, 1)
    record = json.loads(value)
    assert record["reason"] == "gave up after 3 attempts; last: HTTP 503"
    assert headers["planwatch-reason"].decode() == record["reason"]
    assert record["attempts"] == 3 and record["integration"] == "hook/webhook/0"
    assert [a["labels"]["target"] for a in record["message"]["alerts"]] == ["t-1"]
    assert key is not None and key.decode() == record["groupKey"]
    assert h.metric("planwatch_notify_dead_lettered_total", {"receiver": "hook"}) == 1
    # The flush failed: the group keeps its alerts and flushes again later.
    [group] = await h.service.store.groups()
    assert not group.flush_open(await h.service.store.pending_ids())
    assert len(group.state.alerts) == 1


async def test_permanent_4xx_is_dead_lettered_at_once(make_harness: MakeHarness) -> None:
    h = await flushed(make_harness, Reply(400))
    [(_, value, _)] = await read_topic(h.bootstrap, h.settings.dlt_topic, 1)
    assert json.loads(value)["reason"] == "permanent failure: HTTP 400: the request was refused"
    assert (
        h.metric("planwatch_notify_notifications_total", {"receiver": "hook", "outcome": "failed"})
        == 1
    )


async def test_410_disables_the_endpoint_and_raises_an_operational_alert(
    make_harness: MakeHarness,
) -> None:
    h = await flushed(make_harness, Reply(410))
    disabled = await h.service.store.disabled()
    assert list(disabled) == ["hook/webhook/0"]
    assert h.metric("planwatch_notify_receivers_disabled") == 1
    [(_, value, headers)] = await read_topic(h.bootstrap, h.settings.notifications_topic, 1)
    record = json.loads(value)
    assert record["labels"]["alertname"] == "NotifyIntegrationDisabled"
    assert record["labels"]["integration"] == "hook/webhook/0"
    assert headers["planwatch-kind"] == b"operational"
    # Later notifications to it are not sent.
    await h.send(alert_event(target="t-2", at=h.clock.now()))
    await h.tick(10)
    assert len(h.http.at("/hook")) == 1
    assert (
        h.metric(
            "planwatch_notify_notifications_total", {"receiver": "hook", "outcome": "disabled"}
        )
        == 2
    )
    assert await h.service.store.enable("hook/webhook/0")


async def test_ssrf_rule_refuses_loopback_without_allow_private(
    make_harness: MakeHarness,
) -> None:
    routing = ROUTING.replace(", allow_private: true", "")
    h = await flushed(make_harness, routing=routing)
    assert h.http.at("/hook") == []
    [(_, value, _)] = await read_topic(h.bootstrap, h.settings.dlt_topic, 1)
    reason = json.loads(value)["reason"]
    assert "destination refused" in reason and "loopback" in reason


async def test_restart_resumes_pending_retry_and_never_resends(
    make_harness: MakeHarness,
) -> None:
    receiver = HttpReceiver()
    await receiver.start()
    first = await make_harness(ROUTING, delivery=DELIVERY, http=receiver)
    receiver.script("/hook", Reply(500))
    await first.send(alert_event(target="t-1", at=T0))
    await first.tick(10)
    [pending] = await first.service.store.pending()

    # "Restart": a new service on the same database, receiver and clock instant.
    second = await make_harness(ROUTING, delivery=DELIVERY, http=receiver)
    second.clock.set(first.clock.now())
    await second.tick(10)
    one, two = receiver.at("/hook")
    assert two.headers["webhook-id"] == one.headers["webhook-id"] == pending.webhook_id
    assert await second.service.store.pending() == []

    # A crash after the 2xx and the log entry but before the pending one was removed: put
    # it back; the next run finds the log entry and does not send again.
    await second.service.store.add_pending(pending)
    third = await make_harness(ROUTING, delivery=DELIVERY, http=receiver)
    third.clock.set(second.clock.now())
    await third.tick(1)
    assert len(receiver.at("/hook")) == 2
    assert await third.service.store.pending() == []
