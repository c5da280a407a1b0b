"""The loop with acknowledgements and escalation, in memory: an acknowledged alert stops
repeating to its receiver while another one escalates step by step, once, each step in the
delivery log; a group another replica owns is not escalated here."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import pytest_asyncio
from prometheus_client import CollectorRegistry

from services.notify.app import NotifyService, build_service
from services.notify.clock import ManualClock
from services.notify.config import NotifySettings
from services.notify.domain.acks import Acknowledgement
from services.notify.domain.config import load_routing
from services.notify.domain.pipeline import dispatch
from services.notify.memory_store import InMemoryNotifyStore
from services.notify.ownership import GroupOwnership
from shared.runtime.publisher import Outbound
from tests.unit.notify_fixtures import T0, make_alert

ROUTING = """\
route:
  receiver: lead
  group_by: [rule]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
  escalation:
    - {after: 2h, receiver: coordinator}
    - {after: 3h, receiver: leadership}
receivers:
  - {name: lead, kafka_configs: [{topic: lead}]}
  - {name: coordinator, kafka_configs: [{topic: coordinator}]}
  - {name: leadership, kafka_configs: [{topic: leadership}]}
"""
ACKED = make_alert("t1", "status_degraded")
OTHER = make_alert("t2", "deadline_near")


class Recorder:
    def __init__(self) -> None:
        self.records: list[Outbound] = []

    async def publish(self, records: Sequence[Outbound]) -> None:
        self.records.extend(records)

    def sent(self, topic: str) -> list[set[str]]:
        """The fingerprints of each message on `topic`."""
        return [
            {a["fingerprint"] for a in json.loads(r.value)["alerts"]}
            for r in self.records
            if r.topic == topic
        ]


Built = tuple[NotifyService, ManualClock, Recorder]


async def _build(ownership: GroupOwnership | None = None) -> Built:
    config = load_routing(ROUTING)
    store = InMemoryNotifyStore()
    for alert in (ACKED, OTHER):
        for state in dispatch(config, alert, {}, T0).values():
            await store.save_alert_state(state, alert.fingerprint, T0)
    clock, publisher = ManualClock(T0), Recorder()
    service = build_service(
        NotifySettings(),
        config,
        store=store,
        publisher=publisher,
        registry=CollectorRegistry(),
        clock=clock,
        ownership=ownership or GroupOwnership(1),
    )
    return service, clock, publisher


@pytest_asyncio.fixture
async def built() -> AsyncIterator[Built]:
    made = await _build()
    yield made
    await made[0].http_client.aclose()


async def tick(service: NotifyService, clock: ManualClock, to: timedelta) -> None:
    clock.advance(T0 + to - clock.now())
    await service.loop.step()
    await service.worker.drain()


async def test_acked_alert_stops_repeating_while_the_other_escalates(built: Built) -> None:
    service, clock, out = built
    await tick(service, clock, timedelta(seconds=30))
    assert sorted(map(sorted, out.sent("lead"))) == [[ACKED.fingerprint], [OTHER.fingerprint]]
    ack = Acknowledgement(
        fingerprint=ACKED.fingerprint,
        receiver="lead",
        by="clerk",
        at=T0 + timedelta(minutes=5),
        starts_at=ACKED.starts_at,
    )
    await service.store.put_ack(ack)
    out.records.clear()
    await tick(service, clock, timedelta(hours=1, minutes=6))  # a flush after repeat_interval
    assert out.sent("lead") == [{OTHER.fingerprint}]  # the acknowledged one is quiet
    assert out.sent("coordinator") == []
    await tick(service, clock, timedelta(hours=2))
    assert out.sent("coordinator") == [{OTHER.fingerprint}]
    await tick(service, clock, timedelta(hours=2, seconds=1))  # not twice
    assert out.sent("coordinator") == [{OTHER.fingerprint}]
    await tick(service, clock, timedelta(hours=3))
    assert out.sent("leadership") == [{OTHER.fingerprint}]
    steps = [
        (a["receiver"], a["escalation"], a["step"])
        for a in await service.store.attempts()
        if a["escalation"] is not None
    ]
    assert sorted(steps) == [("coordinator", 1, "done"), ("leadership", 2, "done")]
    message = json.loads(next(r for r in out.records if r.topic == "coordinator").value)
    assert message["groupKey"].endswith(f"/escalation/1/{OTHER.fingerprint}")
    assert message["receiver"] == "coordinator"


async def test_an_ack_by_the_coordinator_stops_the_next_step(built: Built) -> None:
    service, clock, out = built
    await tick(service, clock, timedelta(hours=2))
    assert sorted(map(sorted, out.sent("coordinator"))) == [
        [ACKED.fingerprint],
        [OTHER.fingerprint],
    ]
    for alert in (ACKED, OTHER):
        await service.store.put_ack(
            Acknowledgement(
                fingerprint=alert.fingerprint,
                receiver="coordinator",
                by="coordinator-1",
                at=T0 + timedelta(hours=2, minutes=1),
            )
        )
    await tick(service, clock, timedelta(hours=4))
    assert out.sent("leadership") == []


async def test_a_replica_escalates_only_the_groups_it_owns() -> None:
    service, clock, out = await _build(GroupOwnership(6, owned=frozenset()))
    try:
        await tick(service, clock, timedelta(hours=4))
        assert out.records == []
        assert await service.store.pending() == []
    finally:
        await service.http_client.aclose()
