"""Chaos under load: two replicas of every service over a Kafka and a FerretDB of the test's
own (free ports, own data: the shared servers are never touched) while the seeded demo feed
flows with a steady load of copies of its reports beside it (about 200 events/s in all), and
six faults, each a named step, each while both are still sending: a scoring replica and an
ingest replica killed with SIGKILL mid-stream (and restarted), a notify replica stopped with
SIGSTOP past its session and resumed, the Kafka broker restarted, a scoring replica added (a
rebalance), MongoDB (FerretDB) stopped for 20 s. Once settled, the state equals the offline
method's for the same events, every accepted event is stored once, the alert stream folds to
exactly what is firing, and every firing alert reached a webhook, none twice but for notify's
documented resend of a send it could not log. Every wait is on a condition, bounded. About two
minutes: part of `make test` (`make test-chaos` alone).

Its record (2026-12-04, a 2-core machine shared with other test runs): adding the broker
restart and the MongoDB outage found four faults in the services, each fixed in
shared/runtime: aiokafka's rebalance timeout defaulted to the session timeout, so a member
whose batch outlasted it was expelled (now max.poll.interval, 300 s); aiokafka sends no
heartbeat while `on_partitions_assigned` runs, and scoring loads its targets there, so a slow
load got the replica expelled at every join, a rebalance that never settled (the handler now
runs beside the join, the first batch waits for it; it is retried while MongoDB is away, which
notify needed: it took no epoch and flushed none of its groups); a producer refused for its
sequence numbers after the restart (OutOfOrderSequenceNumber) failed every later send, and is
now replaced; a service starting while the broker restarted exited on aiokafka's stray
CancelledError. Then 5 runs of 6 passed; the sixth delivered a notification twice under one
webhook-id (sent, then not logged while MongoDB was away: the documented at-least-once
window), which this test now accepts as an identical resend; 3 runs of 3 passed since. Later
that day the load of copies was added (~180 events/s beside the feed's ~20 items/s, about
10,000 events; before, the feed alone): its first run passed in 95 s, the state settled 7 s
after the feed ended."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from planwatch.demo.problems import PROBLEM_RAISED, open_at_end
from planwatch.infra.manager import FERRETDB, KAFKA
from planwatch.simulate.agencies import write_keys_file
from planwatch.simulate.scenario import Outcome, build_scenario
from shared import topics
from shared.catalog import load_catalog
from shared.contract.alert_event import decode_alert_event
from shared.contract.events import ProgressReported, ProgressRetracted
from shared.contract.observation import to_observation
from shared.domain.method_v1 import plan_state_to_json, score_plan
from shared.kafka_admin import ensure_topics
from tests.clock_identity import CLOCK_KEY
from tests.integration.chaos_support import (
    PatientFeed,
    PrivateInfra,
    log_step,
    report_copies,
    until,
)
from tests.integration.notify_support import HttpReceiver
from tests.integration.service_process import ServiceProcess
from tests.integration.test_notify_service import metric_value
from tests.integration.test_scoring_replicas import _port
from tests.integration.test_scoring_service import fold_alerts, read_topic, wait_for_state
from tests.unit.scoring_streams import firing_copies

pytestmark = pytest.mark.integration

Doc = dict[str, Any]
SEED = 5
# Simulated days per second: the ~700 days' 1,134 items (414 accepted events) in about a
# minute, ~20 items/s, long enough for every fault to happen while the feed is still sending.
SPEED = 12.0
# Beside it, copies of the reports it has sent (chaos_support.report_copies): ~200 events/s in
# all, the load the issue asks the faults to happen under (about 10,000 copies).
COPIES_PER_S = 180.0
MONGO_OUTAGE_S = 20.0
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


def failed_batches(services: list[ServiceProcess]) -> int:
    """Batches the services have logged as failed so far (a store or broker outage)."""
    return sum(
        s.log.read_text(encoding="utf-8", errors="replace").count("batch failed")
        for s in services
        if s.log.exists()
    )


@pytest_asyncio.fixture
async def private_infra(tmp_path: Path) -> AsyncIterator[PrivateInfra]:
    infra = PrivateInfra(tmp_path / "infra")
    try:
        await infra.up()
        yield infra
    finally:
        infra.down()


@pytest.mark.timeout(600)
async def test_two_replicas_of_each_service_under_faults_give_one_replicas_results(
    private_infra: PrivateInfra, db_name: str, unique_id: str, tmp_path: Path
) -> None:
    infra = private_infra
    bootstrap = infra.bootstrap
    plan = load_catalog().plan("qingyuan-digital-economy-2021")
    scenario = build_scenario(plan, SEED)
    t = Names(unique_id)
    await ensure_topics(bootstrap, {t(name): n for name, n in topics.PARTITIONS.items()})
    receiver = HttpReceiver()
    await receiver.start()
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING.replace("URL", receiver.url("/hook")), "utf-8")
    keys = write_keys_file(tmp_path / "keys.jsonl", scenario.keys)
    common = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "MONGODB_URI": infra.mongodb_uri,
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

    def all_running() -> None:
        exited = [
            f"{s.log.name} (exit {s.proc.returncode}):\n{s.log_tail()}"
            for group in processes.values()
            for s in group
            if s.proc is not None and s.proc.poll() is not None
        ]
        assert exited == [], "a replica exited: " + "\n".join(exited)

    client: AsyncMongoClient[Doc] = AsyncMongoClient(
        infra.mongodb_uri, tz_aware=True, serverSelectionTimeoutMS=5000
    )
    reports = client[db_name]["reports"]

    def stored_at_least(count: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return await reports.count_documents({}) >= count

        return check

    feed_topics = {topics.PROGRESS: t(topics.PROGRESS), topics.CLOCK: t(topics.CLOCK)}
    # The clock the replicas trust (auth_env): ticks are signed.
    feed = PatientFeed(scenario.items, bootstrap, feed_topics, CLOCK_KEY, SPEED)
    copies = report_copies(scenario, SPEED, COPIES_PER_S)
    load = PatientFeed(copies, bootstrap, feed_topics, CLOCK_KEY, SPEED)

    def under_load(fault: str) -> None:
        assert feed.sent < len(scenario.items), f"{fault}: the feed had already ended"
        assert load.sent < len(copies), f"{fault}: the copies had all been sent"
        log_step(
            f"{fault} ({feed.sent} of {len(scenario.items)} items and {load.sent} of "
            f"{len(copies)} copies sent)"
        )

    def fed(fraction: float) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return feed.fraction >= fraction

        return check

    feeds: list[asyncio.Task[int]] = []
    try:
        for name in envs:
            for _ in range(2):
                replica(name).start()
        for group in processes.values():
            for service in group:
                await service.ready(timeout_s=120)
        sending = asyncio.create_task(feed.run())
        loading = asyncio.create_task(load.run())
        feeds.extend([sending, loading])

        # Fault 1: a scoring replica killed mid-stream, then restarted.
        await until(stored_at_least(60), "60 reports stored")
        await until(fed(0.12), "12 % of the feed sent")
        under_load("fault 1: scoring replica killed (SIGKILL) and restarted")
        processes["scoring"][0].kill()
        processes["scoring"][0].start()

        # Fault 2: an ingest replica killed mid-stream, then restarted.
        await until(stored_at_least(120), "120 reports stored")
        await until(fed(0.24), "24 % of the feed sent")
        under_load("fault 2: ingest replica killed (SIGKILL) and restarted")
        processes["ingest"][0].kill()
        processes["ingest"][0].start()

        # Fault 3: a notify replica stopped past its session, resumed once the other owns all.
        stopped = processes["notify"][0]
        assert stopped.proc is not None
        under_load("fault 3: notify replica stopped (SIGSTOP) past its session")
        os.kill(stopped.proc.pid, signal.SIGSTOP)

        async def other_owns_all() -> bool:
            return await metric(processes["notify"][1], "planwatch_notify_partitions_owned") == 6

        await until(other_owns_all, "the running notify replica owns every group partition")
        os.kill(stopped.proc.pid, signal.SIGCONT)
        log_step("fault 3: notify replica resumed (SIGCONT)")

        # Fault 4: the Kafka broker restarted (SIGTERM, then started on the same data).
        before = await reports.count_documents({})
        under_load("fault 4: Kafka broker restarted")
        await infra.stop(KAFKA)
        await infra.up()
        log_step("fault 4: the broker answers again")
        await until(stored_at_least(before + 20), "20 more reports stored after the restart")
        all_running()

        # Fault 5: a scoring replica added while events flow (a rebalance).
        under_load("fault 5: a third scoring replica added")
        replica("scoring").start()

        # Fault 6: MongoDB (FerretDB) stopped for 20 s while events flow.
        await until(stored_at_least(before + 40), "40 more reports stored")
        under_load(f"fault 6: MongoDB (FerretDB) stopped for {MONGO_OUTAGE_S:g} s")
        posts_before_outage = len(receiver.at("/hook"))
        failed_before = failed_batches(processes["ingest"])
        at_outage = await reports.count_documents({})
        await infra.stop(FERRETDB)
        down_at = time.monotonic()

        async def outage_over() -> bool:
            # The outage lasts its length, and an ingest batch failed on it (it was felt).
            felt = failed_batches(processes["ingest"]) > failed_before
            return felt and time.monotonic() - down_at >= MONGO_OUTAGE_S

        await until(outage_over, "an ingest batch failed during the outage", within=90)
        await infra.up()
        log_step(
            f"fault 6: MongoDB answers again after {time.monotonic() - down_at:.0f} s "
            f"({feed.sent} items sent)"
        )
        await until(stored_at_least(at_outage + 1), "reports stored again after the outage")
        all_running()

        sent = await sending
        assert sent == len(scenario.items)
        assert await loading == len(copies)
        log_step(
            f"feed done: {sent} items and {len(copies)} copies, "
            f"{feed.resent_batches + load.resent_batches} batches sent again"
        )

        # Settled: the plan state is the offline method's for the accepted events.
        accepted = [
            i.payload
            for i in [*scenario.items, *copies]
            if i.expected.outcome is Outcome.ACCEPTED
            and isinstance(i.payload, ProgressReported | ProgressRetracted)
        ]
        at = scenario.items[-1].at
        offline = score_plan(plan, [to_observation(p, plan) for p in accepted], at)
        expected = plan_state_to_json(offline)
        await wait_for_state(client[db_name], plan, expected, timeout_s=240)

        # Every accepted event, reports and problem steps alike, is stored exactly once.
        stored = [d["event_id"] async for d in reports.find({}, {"event_id": 1})]
        all_accepted = [
            i for i in [*scenario.items, *copies] if i.expected.outcome is Outcome.ACCEPTED
        ]
        assert len(stored) == len(set(stored)) == len(all_accepted)

        # The alert stream, duplicates dropped by id, folds to exactly what is firing: the
        # method's alerts as the offline state has them, and problem_raised for each problem
        # the feed leaves open (problem_overdue depends on the clock: left to the unit tests).
        firing = firing_copies(plan, expected["alerts"])
        left_open = set(open_at_end(scenario))

        async def alerts_folded() -> bool:
            records = await read_topic(bootstrap, t(topics.ALERTS))
            method = [r for r in records if not _is_problem_alert(r[1].value)]
            raised = {
                alert.labels.problem
                for alert in (decode_alert_event(r[1].value) for r in records)
                if alert.labels.alertname == PROBLEM_RAISED
            }
            return fold_alerts(method) == firing and left_open <= raised

        await until(alerts_folded, "the alert stream folds to what is firing", within=120)

        # Every firing alert reached the webhook; no notification was delivered twice.
        missing: set[str] = set()

        async def delivered() -> bool:
            missing.clear()
            missing.update(set(firing) - receiver.firing_fingerprints("/hook"))
            return not missing

        try:
            await until(delivered, "every firing alert delivered to the webhook", within=120)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; {len(missing)} not, e.g. {sorted(missing)[:3]}") from None
        # No notification was delivered twice, but for notify's documented at-least-once
        # window (docs/notify.md): a send whose log entry could not be written (MongoDB away)
        # goes again, the same notification under the same webhook-id, which receivers
        # deduplicate. So: none twice before the outage; after it, a repeat is a resend.
        posts = receiver.at("/hook")
        early = Counter(r.headers.get("webhook-id") for r in posts[:posts_before_outage])
        assert [i for i, n in early.items() if n > 1] == []
        by_id: dict[str | None, set[str]] = {}
        for r in posts:
            body = json.loads(r.body)
            content = json.dumps(
                [body["groupKey"], sorted(a["fingerprint"] for a in body["alerts"])]
            )
            by_id.setdefault(r.headers.get("webhook-id"), set()).add(content)
        assert [i for i, contents in by_id.items() if len(contents) > 1] == []
        log_step(f"{len(posts)} webhook posts, {len(posts) - len(by_id)} of them resends")
        all_running()
    finally:
        for task in feeds:
            task.cancel()
        for group in processes.values():
            for service in group:
                if service.proc is not None and service.proc.poll() is None:
                    os.kill(service.proc.pid, signal.SIGCONT)
                service.stop()
        await receiver.stop()
        with contextlib.suppress(Exception):
            await client.drop_database(db_name)
        await client.close()


def _is_problem_alert(value: bytes) -> bool:
    return decode_alert_event(value).labels.alertname.startswith("problem_")
