"""`planwatch cluster`: N replicas of every service, detached, on the real Kafka and FerretDB;
each in its service's consumer group with its share of the partitions, `up` again changes
nothing running and restarts what exited, `down` stops them all. Isolated by its own topics,
groups, database, ports and state directory."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from pathlib import Path

import pytest

from planwatch.cluster.processes import running
from planwatch.cluster.run import ClusterConfig, MemberStatus, down, status, up
from planwatch.cluster.state import ClusterError
from planwatch.infra.processes import pid_alive, wait_dead
from planwatch.infra.settings import InfraSettings
from shared import topics
from tests.integration.chaos_support import until
from tests.integration.test_demo_run import _free_ports

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
