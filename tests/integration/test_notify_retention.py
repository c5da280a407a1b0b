"""notify's retention against FerretDB: expired log entries, long-expired silences, old
acknowledgements and escalation steps of past episodes, and the delivery log and refused input
past their retention are deleted, and nothing else; an entry written again after it was read
is kept; the loop prunes at its first tick, then hourly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pymongo.asynchronous.database import AsyncDatabase

from services.notify.domain.acks import Acknowledgement
from services.notify.domain.escalation import escalation_key
from services.notify.domain.matchers import parse_matcher
from services.notify.domain.nflog import LogEntry
from services.notify.domain.retention import Retention
from services.notify.domain.silences import Silence
from services.notify.metrics import NotifyMetrics
from services.notify.mongo_store import MongoNotifyStore
from services.notify.pruning import Pruner
from services.notify.store import NotifyStore

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
RETENTION = Retention(data=timedelta(hours=120), delivery_log=timedelta(days=30))


def entry(key: str, age: timedelta) -> LogEntry:
    return LogEntry(
        group_key=key,
        integration="hook/webhook/0",
        firing=frozenset({"f1"}),
        resolved=frozenset(),
        timestamp=NOW - age,
    )


def silence(sid: str, ended: timedelta) -> Silence:
    return Silence(
        id=sid,
        matchers=(parse_matcher('target="t-1"'),),
        starts_at=NOW - ended - timedelta(hours=1),
        ends_at=NOW - ended,
        created_by="ops",
    )


async def attempt(store: NotifyStore, aid: str, age: timedelta) -> None:
    await store.record_attempt({"_id": aid, "notification": aid, "at": NOW - age, "status": 200})


def pruned(registry: CollectorRegistry, kind: str) -> float:
    value = registry.get_sample_value("planwatch_notify_pruned_total", {"kind": kind})
    return 0.0 if value is None else value


async def test_the_retention_forgets_only_what_it_lets_go(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    store = MongoNotifyStore(mongo_db)
    registry = CollectorRegistry()
    metrics = NotifyMetrics(registry)
    await store.put_log_entry(entry("{}:{old}", timedelta(days=6)))
    await store.put_log_entry(entry("{}:{fresh}", timedelta(hours=1)))
    await store.put_silence(silence("long-gone", timedelta(days=6)), NOW - timedelta(days=6))
    await store.put_silence(silence("recent", timedelta(hours=1)), NOW - timedelta(hours=1))
    await attempt(store, "p1#1", timedelta(days=31))
    await attempt(store, "p2#1", timedelta(days=1))
    await store.record_rejected("alerts:0:1", b"{", "not JSON", NOW - timedelta(days=31))
    await store.record_rejected("alerts:0:2", b"{", "not JSON", NOW)
    # acknowledgements and escalation steps of episodes no group holds: by their age
    for fingerprint, age in (("f-old", timedelta(days=6)), ("f-new", timedelta(hours=1))):
        given = NOW - age
        ack = Acknowledgement(
            fingerprint=fingerprint, receiver="lead", by="ops", at=given, starts_at=given
        )
        await store.put_ack(ack)
        await store.mark_escalated(escalation_key("{}", fingerprint, given, 1), given)

    counts = await Pruner(store, RETENTION, metrics).prune(NOW)

    assert counts == {
        "log_entries": 1,
        "silences": 1,
        "attempts": 1,
        "rejected_alerts": 1,
        "acks": 1,
        "escalations": 1,
    }
    assert [a.fingerprint for a in await store.acks()] == ["f-new"]
    assert [k.split("|")[1] for k in await store.escalation_marks()] == ["f-new"]
    assert [e.group_key for e in await store.log_entries()] == ["{}:{fresh}"]
    assert [s.id for s, _ in await store.silences()] == ["recent"]
    assert [a["_id"] for a in await store.attempts()] == ["p2#1"]
    assert [d["_id"] async for d in mongo_db["notify_rejected_alerts"].find({})] == ["alerts:0:2"]
    assert pruned(registry, "attempts") == 1
    assert pruned(registry, "log_entries") == 1


async def test_a_log_entry_written_again_after_the_read_is_kept(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    store = MongoNotifyStore(mongo_db)
    await store.put_log_entry(entry("{}:{g}", timedelta(days=6)))
    read = await store.log_entries()
    renewed = entry("{}:{g}", timedelta(0))
    await store.put_log_entry(renewed)  # a delivery wrote it again meanwhile
    assert await store.forget_log_entries(read) == 0
    assert await store.log_entries() == [renewed]


async def test_pruning_runs_at_the_first_tick_then_hourly(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    store = MongoNotifyStore(mongo_db)
    registry = CollectorRegistry()
    metrics = NotifyMetrics(registry)
    pruner = Pruner(store, RETENTION, metrics)
    await attempt(store, "p1#1", timedelta(days=31))
    await pruner.prune_due(NOW)
    assert await store.attempts() == []
    await attempt(store, "p2#1", timedelta(days=31))
    await pruner.prune_due(NOW + timedelta(minutes=59))
    assert [a["_id"] for a in await store.attempts()] == ["p2#1"]
    await pruner.prune_due(NOW + timedelta(hours=1))
    assert await store.attempts() == []
    assert pruned(registry, "attempts") == 2
