"""Chaos under load: two replicas of every service over the real Kafka and FerretDB while the
seeded demo feed plays at about 200 items/s, and faults, each named: a scoring replica and an
ingest replica killed with SIGKILL mid-stream (and restarted), a notify replica stopped with
SIGSTOP past its session and resumed, a scoring replica added (a rebalance). Once settled, the
state equals the offline method's for the same events, every accepted event is stored once,
the alert stream folds to exactly what is firing, and every firing alert reached a webhook,
none twice. (A broker restart and a 20 s MongoDB outage are covered for ingest in
test_ingest_faults.py, on a private FerretDB; not yet here.)"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from planwatch.simulate.agencies import write_keys_file
from planwatch.simulate.feed import KafkaTransport, run_feed
from planwatch.simulate.scenario import Outcome, build_scenario
from shared import topics
from shared.catalog import load_catalog
from shared.contract.events import ProgressReported, ProgressRetracted
from shared.contract.observation import to_observation
from shared.domain.method_v1 import plan_state_to_json, score_plan
from shared.kafka_admin import ensure_topics
from shared.runtime.settings import KafkaSettings
from tests.clock_identity import CLOCK_KEY
from tests.integration.notify_support import HttpReceiver
from tests.integration.service_process import ServiceProcess
from tests.integration.test_notify_service import metric_value
from tests.integration.test_scoring_replicas import _port
from tests.integration.test_scoring_service import (
    fold_alerts,
    read_topic,
    wait_for_state,
)
from tests.unit.scoring_streams import firing_copies

# Opt-in for now (`make test-chaos`). On 2026-12-04 it failed three ways, each fixed: its ticks
# were unsigned since ticks are checked (the clock never reached the last one); a replica taking
# partitions left targets a previous owner had evaluated at an earlier clock unwritten (the
# engine now writes what it loads); a batch retried across a rebalance failed on a target a
# newer owner held and was dead-lettered (those events are now left to that owner). Its routing
# now flushes a group's late joiners after 2 s, not 1 h. Since the last fix 2 runs of 2 passed
# locally (2 of 3 before it); it joins the default suite once it has a record on CI's machine.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        os.environ.get("PLANWATCH_CHAOS") != "1", reason="chaos suite: PLANWATCH_CHAOS=1"
    ),
]

Doc = dict[str, Any]
SEED = 5
SPEED = 120.0  # simulated days per second: the ~700 days' items at about 200 per second
ROUTING = """
route:
  receiver: hook
  group_by: [target, rule]
  group_wait: 1s
  group_interval: 2s  # an alert joining a flushed group goes out at its next flush
  repeat_interval: 24h
receivers:
  - name: hook
    webhook_configs: [{url: "URL", allow_private: true}]
"""


class Names:
    def __init__(self, unique: str) -> None:
        self.unique = unique

    def __call__(self, name: str) -> str:
        return f"chaos{self.unique}.{name}"  # the kind last, as read_topic expects


async def metric(service: ServiceProcess, name: str) -> float:
    async with httpx.AsyncClient(timeout=5) as http:
        return metric_value((await http.get(f"{service.management_url}/metrics")).text, name)


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = 180) -> None:
    try:
        async with asyncio.timeout(within):
            while not await check():  # noqa: ASYNC110 - state of other processes
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"not reached within {within:g} s: {what}") from None


@pytest.mark.timeout(600)
async def test_two_replicas_of_each_service_under_faults_give_one_replicas_results(
    kafka_bootstrap: str,
    mongodb_uri: str,
    mongo_db: AsyncDatabase[Doc],
    db_name: str,
    unique_id: str,
    tmp_path: Path,
) -> None:
    plan = load_catalog().plan("qingyuan-digital-economy-2021")
    scenario = build_scenario(plan, SEED)
    t = Names(unique_id)
    await ensure_topics(kafka_bootstrap, {t(name): n for name, n in topics.PARTITIONS.items()})
    receiver = HttpReceiver()
    await receiver.start()
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING.replace("URL", receiver.url("/hook")), "utf-8")
    keys = write_keys_file(tmp_path / "keys.jsonl", scenario.keys)
    common = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "MONGODB_URI": mongodb_uri,
        "MONGODB_DATABASE": db_name,
        "KAFKA_SESSION_TIMEOUT_MS": "6000",
        "LOG_LEVEL": "INFO",
    }
    envs = {
        "ingest": {
            "INGEST_GROUP_ID": t("ingest"),
            "INGEST_INPUT_TOPIC": t(topics.PROGRESS),
            "INGEST_ACCEPTED_TOPIC": t(topics.ACCEPTED),
            "INGEST_DEAD_LETTER_TOPIC": t(topics.PROGRESS_DLT),
            "INGEST_KEYS_FILE": str(keys),
        },
        "scoring": {
            "SCORING_GROUP_ID": t("scoring"),
            "SCORING_INPUT_TOPIC": t(topics.ACCEPTED),
            "SCORING_CLOCK_TOPIC": t(topics.CLOCK),
            "SCORING_SYNC_TOPIC": t(topics.SCORING_CLOCK),
            "SCORING_SCORES_TOPIC": t(topics.SCORES),
            "SCORING_ALERTS_TOPIC": t(topics.ALERTS),
            "SCORING_DLT_TOPIC": t(topics.SCORING_DLT),
        },
        "notify": {
            "NOTIFY_GROUP_ID": t("notify"),
            "NOTIFY_INPUT_TOPIC": t(topics.ALERTS),
            "NOTIFY_GROUPS_TOPIC": t(topics.NOTIFY_GROUPS),
            "NOTIFY_NOTIFICATIONS_TOPIC": t(topics.NOTIFICATIONS),
            "NOTIFY_DLT_TOPIC": t(topics.NOTIFICATIONS_DLT),
            "NOTIFY_ROUTING_FILE": str(routing),
            "NOTIFY_TICK_S": "0.1",
        },
    }
    processes: dict[str, list[ServiceProcess]] = {name: [] for name in envs}

    def replica(name: str) -> ServiceProcess:
        n = len(processes[name])
        port = _port()
        env = {**common, **envs[name], f"{name.upper()}_HTTP__PORT": str(port)}
        env["KAFKA_CLIENT_ID"] = f"{name}-{n}"
        service = ServiceProcess(name, env, tmp_path / f"{name}-{n}.log", port)
        processes[name].append(service)
        return service

    reports = mongo_db["reports"]

    async def stored_at_least(count: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return await reports.count_documents({}) >= count

        return check

    try:
        for name in envs:
            for _ in range(2):
                replica(name).start()
        for group in processes.values():
            for service in group:
                await service.ready(timeout_s=120)

        transport = KafkaTransport(
            KafkaSettings(bootstrap_servers=kafka_bootstrap),
            topic_names={topics.PROGRESS: t(topics.PROGRESS), topics.CLOCK: t(topics.CLOCK)},
            clock_key=CLOCK_KEY,  # the clock the replicas trust (auth_env): ticks are signed
        )
        await transport.start()
        feed = asyncio.create_task(run_feed(scenario.items, transport, speed=SPEED))

        # Fault 1: a scoring replica killed mid-stream, then restarted.
        await until(await stored_at_least(100), "100 reports stored")
        processes["scoring"][0].kill()
        processes["scoring"][0].start()
        # Fault 2: an ingest replica killed mid-stream, then restarted.
        await until(await stored_at_least(250), "250 reports stored")
        processes["ingest"][0].kill()
        processes["ingest"][0].start()
        # Fault 3: a notify replica stopped past its session, resumed once the other owns all.
        stopped = processes["notify"][0]
        assert stopped.proc is not None
        os.kill(stopped.proc.pid, signal.SIGSTOP)

        async def other_owns_all() -> bool:
            return await metric(processes["notify"][1], "planwatch_notify_partitions_owned") == 6

        await until(other_owns_all, "the running notify replica owns every group partition")
        os.kill(stopped.proc.pid, signal.SIGCONT)
        # Fault 4: a scoring replica added while events flow (a rebalance).
        replica("scoring").start()

        progress = await feed
        await transport.stop()
        assert progress.sent == len(scenario.items)

        # Settled: the plan state is the offline method's for the accepted events.
        accepted = [
            i.payload
            for i in scenario.items
            if i.expected.outcome is Outcome.ACCEPTED
            and isinstance(i.payload, ProgressReported | ProgressRetracted)
        ]
        at = scenario.items[-1].at
        offline = score_plan(plan, [to_observation(p, plan) for p in accepted], at)
        expected = plan_state_to_json(offline)
        await wait_for_state(mongo_db, plan, expected, timeout_s=240)

        # Every accepted event is stored exactly once.
        stored = [d["event_id"] async for d in reports.find({}, {"event_id": 1})]
        assert len(stored) == len(set(stored)) == len(accepted)

        # The alert stream, duplicates dropped by id, folds to exactly what is firing.
        firing = firing_copies(plan, expected["alerts"])

        async def alerts_folded() -> bool:
            return fold_alerts(await read_topic(kafka_bootstrap, t(topics.ALERTS))) == firing

        await until(alerts_folded, "the alert stream folds to what is firing", within=120)

        # Every firing alert reached the webhook; no notification was delivered twice.
        async def delivered() -> bool:
            seen = {
                a["fingerprint"]
                for r in receiver.at("/hook")
                for a in json.loads(r.body)["alerts"]
                if a["status"] == "firing"
            }
            return set(firing) <= seen

        await until(delivered, "every firing alert delivered to the webhook", within=120)
        ids = Counter(r.headers.get("webhook-id") for r in receiver.at("/hook"))
        assert [i for i, n in ids.items() if n > 1] == []
    finally:
        for group in processes.values():
            for service in group:
                if service.proc is not None and service.proc.poll() is None:
                    os.kill(service.proc.pid, signal.SIGCONT)
                service.stop()
        await receiver.stop()
