"""Group ownership in notify, step by step in-process on the real FerretDB: a replica that lost
a group's partition to a newer owner sends nothing for it (the fencing check before each send),
and the new owner delivers it exactly once."""

from __future__ import annotations

import pytest

from services.notify.intake import IntakeResult
from tests.integration import notify_harness
from tests.integration.notify_harness import ONE_HOOK_ROUTING, T0, MakeHarness
from tests.integration.notify_support import alert_event

pytestmark = pytest.mark.integration
make_harness = notify_harness.make_harness  # the fixture, for pytest to find here

ALL = range(6)


async def test_a_replica_that_lost_the_group_does_not_send_it(make_harness: MakeHarness) -> None:
    old = await make_harness(ONE_HOOK_ROUTING)
    new = await make_harness(ONE_HOOK_ROUTING, http=old.http)  # same database and receiver
    await old.service.ownership.assign(ALL, old.service.store)
    assert await old.send(alert_event(target="t-a", at=T0)) is IntakeResult.APPLIED
    old.clock.advance(10)  # group_wait
    assert await old.service.flusher.flush_due(old.clock.now()) == 1  # one notification pending

    # The old owner is paused; Kafka gives the partitions to a new replica (newer epochs).
    await new.service.ownership.assign(ALL, new.service.store)
    new.service.store.forget_caches()

    # The old one resumes and tries to send what it flushed: fenced, nothing goes out.
    await old.service.worker.run_due(old.clock.now())
    assert old.http.at("/hook") == []
    assert old.metric("planwatch_notify_fenced_sends_total") == 1
    # Nor does it flush the group again.
    old.clock.advance(3600)
    assert await old.service.flusher.flush_due(old.clock.now()) == 0

    # The new owner delivers the pending notification, once.
    new.clock.advance(10)
    await new.service.worker.run_due(new.clock.now())
    [post] = new.http.at("/hook")
    assert b"t-a" in post.body
    await new.service.worker.run_due(new.clock.now())
    assert len(new.http.at("/hook")) == 1
