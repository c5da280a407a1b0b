"""How a flush ends (real Kafka and FerretDB, manual clock): a flush of firing alerts ends
without a write once its notifications are gone; one with resolved alerts removes them when
its last notification ends, or, after a crash between that notification's removal and the
close, at the group's next flush; a failure marked before the removal keeps them. And the
pending notifications a store keeps in memory are what MongoDB holds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.notify.mongo_store import GROUPS, MongoNotifyStore
from tests.integration import notify_harness
from tests.integration.notify_harness import ONE_HOOK_ROUTING, T0, Harness, MakeHarness
from tests.integration.notify_support import HttpReceiver, Reply, alert_event

pytestmark = pytest.mark.integration
make_harness = notify_harness.make_harness  # the fixture, for pytest to find here

ROUTING = ONE_HOOK_ROUTING


def crash_after_removal(h: Harness) -> None:
    """From now on, `h` dies (as far as the store can tell) right after it removes a pending
    notification: the flush's close never runs."""

    async def never(*_: object, **__: object) -> None:
        return None

    h.service.flusher.notification_ended = never  # type: ignore[method-assign]


async def restarted(make: MakeHarness, before: Harness) -> Harness:
    """A new process on the same database, receiver and clock instant."""
    after = await make(ROUTING, http=before.http)
    after.clock.set(before.clock.now())
    return after


async def test_a_flush_of_firing_alerts_ends_without_a_write(make_harness: MakeHarness) -> None:
    h = await make_harness(ROUTING)
    await h.send(alert_event(target="t-1", at=T0))
    await h.tick(10)
    assert len(h.http.at("/hook")) == 1
    [doc] = await h.db[GROUPS].find({}).to_list()
    assert doc["inflight"]["notifications"]  # the flush is still recorded...
    fresh = MongoNotifyStore(h.db)
    [group] = await fresh.groups()
    assert not group.flush_open(await fresh.pending_ids())  # ...but it is over
    # The group flushes again at group_interval with what is new.
    await h.send(alert_event(target="t-1", rule="deadline_near", at=T0 + timedelta(seconds=20)))
    await h.tick(300)
    assert len(h.http.at("/hook")) == 2


async def test_resolved_alerts_leave_at_the_close_or_at_the_next_flush_after_a_crash(
    make_harness: MakeHarness,
) -> None:
    first = await make_harness(ROUTING)
    await first.send(alert_event(target="t-1", at=T0))
    await first.tick(10)
    resolved_at = T0 + timedelta(seconds=20)
    first.clock.set(resolved_at)
    await first.send(alert_event(target="t-1", at=resolved_at, starts_at=T0, resolved=True))
    crash_after_removal(first)
    await first.tick(300)
    assert len(first.http.at("/hook")) == 2  # the firing, then the resolved notification
    [group] = await first.service.store.groups()
    assert group.inflight is not None and group.inflight.snapshot  # not closed: the "crash"
    assert await first.service.store.pending() == []

    second = await restarted(make_harness, first)
    await second.tick(300)
    assert await second.service.store.groups() == []  # closed, and empty: deleted
    assert len(second.http.at("/hook")) == 2  # nothing sent again


async def test_a_failure_marked_before_the_removal_keeps_the_resolved_alerts(
    make_harness: MakeHarness,
) -> None:
    receiver = HttpReceiver()
    await receiver.start()
    first = await make_harness(ROUTING, http=receiver)
    await first.send(alert_event(target="t-1", at=T0))
    await first.tick(10)
    resolved_at = T0 + timedelta(seconds=20)
    first.clock.set(resolved_at)
    await first.send(alert_event(target="t-1", at=resolved_at, starts_at=T0, resolved=True))
    receiver.script("/hook", Reply(400))  # permanent: dead-lettered at once
    crash_after_removal(first)
    await first.tick(300)
    [group] = await first.service.store.groups()
    assert group.inflight is not None and group.inflight.failed

    second = await restarted(make_harness, first)
    await second.tick(300)  # closed as failed: the resolved alert stays, and is sent again
    messages = receiver.at("/hook")
    assert len(messages) == 3
    assert messages[2].headers["webhook-id"] != messages[1].headers["webhook-id"]
    assert await second.service.store.groups() == []  # this time it succeeded


async def test_the_pending_notifications_in_memory_are_those_in_mongodb(
    make_harness: MakeHarness,
) -> None:
    h = await make_harness(ROUTING)
    h.http.script("/hook", Reply(500), Reply(500))
    for target in ("t-1", "t-2", "t-3"):
        await h.send(alert_event(target=target, at=T0))
    await h.tick(10)  # three sends: two fail (retries), one succeeds
    live = sorted(await h.service.store.pending(), key=lambda p: p.id)
    stored = sorted(await MongoNotifyStore(h.db).pending(), key=lambda p: p.id)
    assert len(live) == 2 and all(p.attempts == 1 for p in live)
    assert live == stored
    await h.tick(60)
    assert await h.service.store.pending() == []
    assert await MongoNotifyStore(h.db).pending() == []
