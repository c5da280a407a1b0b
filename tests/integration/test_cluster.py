"""`planwatch cluster`: N replicas of every service, detached, on the real Kafka and FerretDB;
each in its service's consumer group with its share of the partitions, `up` again changes
nothing running and restarts what exited, `down` stops them all; and the outside check of two
replicas of each (the offline method's scores, every alert delivered once). Isolated by its own
topics, groups, database, ports and state directory."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from planwatch.cluster.processes import running
from planwatch.cluster.run import ClusterConfig, MemberStatus, down, status, up
from planwatch.cluster.state import ClusterError
from planwatch.demo.run import DEFAULT_PLAN
from planwatch.infra.processes import pid_alive, wait_dead
from planwatch.infra.settings import InfraSettings
from planwatch.simulate.feed import KafkaTransport, run_feed
from planwatch.simulate.scenario import DEFAULT_SEED, Outcome, build_scenario
from shared import topics
from shared.catalog import load_catalog
from shared.contract.events import ProgressReported, ProgressRetracted
from shared.contract.keys import private_key_from_pem
from shared.contract.observation import to_observation
from shared.domain.method_v1 import plan_state_to_json, score_plan
from shared.runtime.settings import KafkaSettings
from tests.integration.chaos_support import until
from tests.integration.notify_support import HttpReceiver
from tests.integration.test_demo_run import _free_ports
from tests.integration.test_scoring_service import wait_for_state
from tests.unit.scoring_streams import firing_copies

pytestmark = pytest.mark.integration

NAMES = ["ingest", "scoring", "notify", "ingest-2", "scoring-2", "notify-2"]
SHARED = {  # the topic each service's replicas share, partition by partition
    "ingest": topics.PROGRESS,
    "scoring": topics.ACCEPTED,
    "notify": topics.ALERTS,
}


def shared_out(rows: list[MemberStatus], namespace: str) -> bool:
    """Every replica ready and in its group; each service's partitions split among its two."""
    if not all(row.ready and row.group for row in rows):
        return False
    for service, topic in SHARED.items():
        held = [r.partitions.get(f"{topic}.{namespace}", []) for r in rows]
        mine = [h for h, r in zip(held, rows, strict=True) if r.member.service == service]
        if not all(mine) or sorted(p for h in mine for p in h) != list(
            range(topics.PARTITIONS[topic])
        ):
            return False
    return True


@pytest.mark.timeout(300)
async def test_cluster_up_status_and_down(
    kafka_bootstrap: str, mongodb_uri: str, unique_id: str, tmp_path: Path
) -> None:
    infra = InfraSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_uri=mongodb_uri,
        infra_dir=tmp_path / "infra",
    )
    namespace = "cluster" + unique_id[:8]
    config = ClusterConfig(
        replicas=2,
        base_port=_free_ports(6),
        database=f"planwatch_demo_{unique_id}",
        state_dir=tmp_path / "cluster",
        namespace=namespace,
        ready_timeout_s=120,
    )
    stopped: list[str] = []
    try:
        state = await up(config, print, infra)
        assert [m.name for m in state.members] == NAMES
        assert len({m.client_id for m in state.members}) == 6

        async def split() -> bool:
            _, rows, error = await status(config, infra)
            return error is None and shared_out(rows, namespace)

        await until(split, "each service's partitions shared by its two replicas", within=120)

        # Up again: what runs is left alone; another shape is refused while it runs.
        again = await up(config, print, infra)
        assert [m.pid for m in again.members] == [m.pid for m in state.members]
        with pytest.raises(ClusterError, match="cluster down"):
            await up(dataclasses.replace(config, replicas=3), print, infra)

        # A replica that exited is started again by `up`, the others kept.
        killed = state.members[4]  # scoring-2
        os.kill(killed.pid, signal.SIGKILL)
        assert wait_dead(killed.pid, 10)
        healed = await up(config, print, infra)
        assert healed.members[4].pid != killed.pid
        assert [m.pid for i, m in enumerate(healed.members) if i != 4] == [
            m.pid for i, m in enumerate(state.members) if i != 4
        ]
        await until(split, "the restarted replica has its share again", within=120)
        state = healed
    finally:
        stopped = await asyncio.to_thread(down, config, infra)
    assert sorted(stopped) == sorted(NAMES)
    assert not any(pid_alive(m.pid) for m in state.members)
    assert not any(running(m, tmp_path / "cluster") for m in state.members)
    assert (await status(config, infra))[0] is None


ROUTING = """
route:
  receiver: hook
  group_by: [target, rule]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 24h
receivers:
  - name: hook
    webhook_configs: [{url: "URL", allow_private: true}]
"""


@pytest.mark.timeout(420)
async def test_an_outside_check_of_two_replicas_sees_the_offline_scores_delivered_once(
    kafka_bootstrap: str, mongodb_uri: str, unique_id: str, tmp_path: Path
) -> None:
    """What an operator checking the platform from outside does: `planwatch cluster up
    --replicas 2 --routing <file to their webhook>`, the seeded feed sent to its Kafka (ticks
    signed with the cluster's clock key), then the stored plan state compared with the offline
    method (`planwatch score`'s) and the webhook's posts: every firing alert delivered, no
    notification twice (no fault here, so no resend either)."""
    infra = InfraSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_uri=mongodb_uri,
        infra_dir=tmp_path / "infra",
    )
    receiver = HttpReceiver()
    await receiver.start()
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING.replace("URL", receiver.url("/hook")), "utf-8")
    config = ClusterConfig(
        replicas=2,
        base_port=_free_ports(6),
        database=f"planwatch_demo_{unique_id}",
        state_dir=tmp_path / "cluster",
        namespace="outside" + unique_id[:8],
        ready_timeout_s=120,
        routing=routing,
    )
    demo = config.demo()
    plan = load_catalog().plan(DEFAULT_PLAN)
    scenario = build_scenario(plan, DEFAULT_SEED)  # the demo agencies' keys the cluster loads
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri, tz_aware=True)
    try:
        bad = tmp_path / "bad-routing.yaml"
        bad.write_text("route:\n  receiver: nobody\n", "utf-8")
        with pytest.raises(ClusterError, match=r"bad-routing\.yaml"):  # before anything starts
            await up(dataclasses.replace(config, routing=bad), print, infra)
        assert (await status(config, infra))[0] is None
        await up(config, print, infra)
        clock_key = private_key_from_pem((tmp_path / "cluster" / "clock-key.pem").read_bytes())
        transport = KafkaTransport(
            KafkaSettings(bootstrap_servers=kafka_bootstrap),
            topic_names={name: demo.topic(name) for name in (topics.PROGRESS, topics.CLOCK)},
            clock_key=clock_key,
        )
        await transport.start()
        try:
            await run_feed(scenario.items, transport, speed=0)
            await transport.flush()
        finally:
            await transport.stop()

        accepted = [
            i.payload
            for i in scenario.items
            if i.expected.outcome is Outcome.ACCEPTED
            and isinstance(i.payload, ProgressReported | ProgressRetracted)
        ]
        offline = score_plan(
            plan, [to_observation(p, plan) for p in accepted], scenario.items[-1].at
        )
        expected = plan_state_to_json(offline)
        await wait_for_state(client[config.database], plan, expected, timeout_s=240)

        firing = set(firing_copies(plan, expected["alerts"]))
        assert firing, "the seeded feed leaves alerts firing"

        async def delivered() -> bool:
            return firing <= receiver.firing_fingerprints("/hook")

        await until(delivered, "every firing alert delivered to the webhook", within=120)
        ids = Counter(r.headers.get("webhook-id") for r in receiver.at("/hook"))
        assert [i for i, n in ids.items() if n > 1] == []
    finally:
        await asyncio.to_thread(down, config, infra)
        await receiver.stop()
        await client.drop_database(config.database)
        await client.close()
