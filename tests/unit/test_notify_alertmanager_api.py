"""notify's Alertmanager API v2 (`alertmanager_api.py`, and the silences' `filter` in
`api.py`) over an in-memory store: Alertmanager's filter semantics (state flags, label
matchers, anchored receiver regex), the status of each alert (silenced by, inhibited by), the
order of alerts, groups and silences, and what is refused with a reason."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from services.notify.alertmanager_api import (
    ALERTMANAGER_ERROR_PATHS,
    alertmanager_router,
    masked_routing,
)
from services.notify.api import api_router
from services.notify.clock import ManualClock
from services.notify.domain.alert import Alert
from services.notify.domain.alert_marks import labelset_key
from services.notify.domain.config import RoutingConfig, load_routing
from services.notify.domain.grouping import GroupState
from services.notify.domain.matchers import MatcherError, parse_filter
from services.notify.domain.silences import Silence
from services.notify.memory_store import InMemoryNotifyStore
from services.notify.metrics import NotifyMetrics
from shared.runtime.auth import Authenticator, install
from shared.runtime.problems import install_problem_handlers
from tests.unit.notify_fixtures import at, make_alert

NOW = at(3600)
ROUTING = """
route:
  receiver: ops
  group_by: [agency, target]
  routes:
    - receiver: miit
      matchers: ['agency="qy.miit"']
receivers:
  - name: ops
    webhook_configs: [{url: "https://hooks.example.org/ops?access_token=abc"}]
  - name: miit
    dingtalk_configs: [{url_ref: env:DINGTALK_URL, secret: env:DINGTALK_SECRET}]
inhibit_rules:
  - source_matchers: ['alertname="report_overdue"']
    target_matchers: ['alertname="status_degraded"']
    equal: [target]
"""


def seed_group(
    store: InMemoryNotifyStore, receiver: str, labels: dict[str, str], *alerts: Alert
) -> None:
    state = GroupState(
        id=f"{receiver}:{sorted(labels.items())}",
        key=f"{receiver}:{labels}",
        route_id="{}",
        receiver=receiver,
        labels=labels,
        alerts={a.fingerprint: a for a in alerts},
        created_at=at(0),
        next_flush_at=at(30),
    )
    for alert in alerts:
        asyncio.run(store.save_alert_state(state, alert.fingerprint, at(0)))


def seed_silence(store: InMemoryNotifyStore, silence: Silence, updated_at: datetime) -> None:
    asyncio.run(store.put_silence(silence, updated_at))


def silence(sid: str, matchers: str, starts: datetime, ends: datetime) -> Silence:
    return Silence(
        id=sid,
        matchers=tuple(parse_filter([matchers])),
        starts_at=starts,
        ends_at=ends,
        created_by="ops",
    )


DEGRADED = make_alert("t1", "status_degraded")  # inhibited by OVERDUE (same target)
OVERDUE = make_alert("t1", "report_overdue")
OTHER = make_alert("t2", "status_degraded", agency="qy.health")  # silenced
GONE = make_alert("t3", "deadline_near", ends=at(60))  # resolved: never shown


@pytest.fixture
def store() -> InMemoryNotifyStore:
    memory = InMemoryNotifyStore()
    seed_group(memory, "miit", {"agency": "qy.miit", "target": "t1"}, DEGRADED, OVERDUE)
    seed_group(memory, "ops", {"agency": "qy.health", "target": "t2"}, OTHER)
    seed_group(memory, "miit", {"agency": "qy.miit", "target": "t3"}, GONE)
    seed_silence(memory, silence("s-1", 'target="t2"', at(0), NOW + timedelta(hours=1)), at(0))
    return memory


@pytest.fixture
def config() -> RoutingConfig:
    return load_routing(ROUTING, "routing.yaml")


@pytest.fixture
def client(store: InMemoryNotifyStore, config: RoutingConfig) -> TestClient:
    app = FastAPI()
    install(app, Authenticator.development())  # the answers are tested here, not the tokens
    install_problem_handlers(app, plain_prefixes=ALERTMANAGER_ERROR_PATHS)
    clock = ManualClock(NOW)
    app.include_router(api_router(store, clock, NotifyMetrics(CollectorRegistry())))
    app.include_router(alertmanager_router(config, store, clock, started=at(0)))
    return TestClient(app)


def fingerprints(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [a["fingerprint"] for a in answer.json()]


def test_alerts_with_their_receivers_and_status_by_fingerprint(client: TestClient) -> None:
    alerts = client.get("/api/v2/alerts").json()
    assert [a["fingerprint"] for a in alerts] == sorted(
        a.fingerprint for a in (DEGRADED, OVERDUE, OTHER)
    )
    by_target = {(a["labels"]["target"], a["labels"]["alertname"]): a for a in alerts}
    degraded = by_target["t1", "status_degraded"]
    assert degraded["status"] == {
        "state": "suppressed",
        "silencedBy": [],
        "inhibitedBy": [OVERDUE.fingerprint],
        "mutedBy": [],
    }
    assert degraded["receivers"] == [{"name": "miit"}]
    assert degraded["endsAt"] == "0001-01-01T00:00:00Z"  # firing: Go's zero time
    assert degraded["startsAt"] == "2022-06-01T08:00:00Z"
    assert degraded["annotations"] == DEGRADED.annotations
    assert degraded["generatorURL"] == DEGRADED.generator_url
    other = by_target["t2", "status_degraded"]
    assert other["status"]["silencedBy"] == ["s-1"] and other["status"]["state"] == "suppressed"
    assert other["receivers"] == [{"name": "ops"}]
    assert by_target["t1", "report_overdue"]["status"]["state"] == "active"


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("", (DEGRADED, OVERDUE, OTHER)),
        ("active=true&silenced=false&inhibited=false", (OVERDUE,)),  # amtool's default
        ("active=false", (DEGRADED, OTHER)),
        ("silenced=false", (DEGRADED, OVERDUE)),
        ("inhibited=false", (OVERDUE, OTHER)),
        ("filter=target%3D%22t1%22", (DEGRADED, OVERDUE)),
        ("filter=target%3Dt1&filter=alertname%21~%22report.*%22", (DEGRADED,)),
        ("filter=%7Bagency%3D~%22qy%5C%5C.(miit%7Chealth)%22%7D", (DEGRADED, OVERDUE, OTHER)),
        ("filter=nolabel%3D%22%22", (DEGRADED, OVERDUE, OTHER)),  # missing label equals ""
        ("receiver=mi.*", (DEGRADED, OVERDUE)),
        ("receiver=mi", ()),  # the regex is anchored
        ("receiver=ops%7Cmiit&active=false&inhibited=false", (OTHER,)),
    ],
)
def test_alert_filters_as_alertmanager(
    client: TestClient, query: str, shown: tuple[Alert, ...]
) -> None:
    got = fingerprints(client.get(f"/api/v2/alerts?{query}"))
    assert got == sorted(a.fingerprint for a in shown)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("filter=target", "expected one of"),
        ("filter=a%3D1,b%3D2", "exactly one matcher"),
        ("filter=x%3D~%22(%22", "bad regular expression"),
        ("receiver=(", "bad regular expression"),
        ("&".join(["filter=a%3D1"] * 65), "more than 64"),
    ],
)
def test_a_bad_filter_or_receiver_regex_is_a_400_with_the_reason(
    client: TestClient, query: str, reason: str
) -> None:
    for path in ("/api/v2/alerts", "/api/v2/alerts/groups", "/api/v2/silences"):
        if "receiver" in query and path.endswith("silences"):
            continue
        answer = client.get(f"{path}?{query}")
        assert answer.status_code == 400 and reason in answer.json(), answer.text


def test_groups_in_alertmanagers_order_without_emptied_groups(client: TestClient) -> None:
    groups = client.get("/api/v2/alerts/groups").json()
    assert [(g["receiver"]["name"], g["labels"]) for g in groups] == [
        ("ops", {"agency": "qy.health", "target": "t2"}),  # "qy.health" < "qy.miit"
        ("miit", {"agency": "qy.miit", "target": "t1"}),  # t3's group: only a resolved alert
    ]
    assert [a["fingerprint"] for a in groups[1]["alerts"]] == sorted(
        [DEGRADED.fingerprint, OVERDUE.fingerprint]
    )
    assert groups[1]["routeLabels"] == {}
    assert groups[1]["alerts"][0]["receivers"] == [{"name": "miit"}]
    active_only = client.get("/api/v2/alerts/groups?active=true&silenced=false&inhibited=false")
    assert [g["labels"]["target"] for g in active_only.json()] == ["t1"]
    assert client.get("/api/v2/alerts/groups?receiver=ops").json()[0]["labels"]["target"] == "t2"


def test_label_sets_order_by_size_then_first_difference() -> None:
    sets = [
        {"b": "1"},
        {"a": "2", "b": "1"},
        {"a": "1"},
        {"a": "1", "c": "1"},
        {"a": "1", "b": "9"},
    ]
    # Prometheus' LabelSet.Before: at the first name of the sorted union where the sets
    # differ, the set lacking that name comes first (so {b} before {a}), else the lower value.
    assert sorted(sets, key=labelset_key) == [
        {"b": "1"},
        {"a": "1"},
        {"a": "1", "c": "1"},
        {"a": "1", "b": "9"},
        {"a": "2", "b": "1"},
    ]


def test_receivers_and_status(client: TestClient) -> None:
    assert client.get("/api/v2/receivers").json() == [{"name": "ops"}, {"name": "miit"}]
    status = client.get("/api/v2/status").json()
    assert status["cluster"] == {"status": "disabled", "peers": []}
    assert status["uptime"] == "2022-06-01T08:00:00Z"
    assert status["versionInfo"]["version"] == "0.35.0"
    assert "access_token=abc" not in status["config"]["original"]
    assert "<secret>" in status["config"]["original"]
    assert "env:DINGTALK_URL" in status["config"]["original"]  # a reference: a name, shown


def test_masked_routing_keeps_everything_but_literal_urls() -> None:
    masked = masked_routing(ROUTING)
    assert load_routing(masked.replace("<secret>", "https://x.example"), "masked").receivers


def test_posting_alerts_is_refused_with_the_reason(client: TestClient) -> None:
    answer = client.post("/api/v2/alerts", json=[{"labels": {"alertname": "x"}}])
    assert answer.status_code == 405 and answer.headers["allow"] == "GET"
    assert "planwatch.alerts" in answer.json()


def test_silences_filter_by_their_matchers_and_state(
    client: TestClient, store: InMemoryNotifyStore
) -> None:
    later = NOW + timedelta(hours=2)
    seed_silence(store, silence("s-2", 'agency="qy.miit"', later, later + timedelta(hours=1)), NOW)
    seed_silence(store, silence("s-3", 'agency="qy.miit"', at(0), at(60)), NOW)
    seed_silence(store, silence("s-4", 'agency="qy.miit"', at(0), at(120)), NOW)
    seed_silence(store, silence("s-5", 'target="t9"', at(0), NOW + timedelta(minutes=5)), NOW)

    def ids(query: str = "") -> list[str]:
        answer = client.get(f"/api/v2/silences?{query}")
        assert answer.status_code == 200, answer.text
        return [s["id"] for s in answer.json()]

    # Active (next to end first), pending (next to start first), expired (latest end first).
    assert ids() == ["s-5", "s-1", "s-2", "s-4", "s-3"]
    assert ids("filter=agency%3D%22qy.miit%22") == ["s-2", "s-4", "s-3"]
    assert ids("filter=agency%3D~%22qy.miit%22") == []  # the same operator is required
    assert ids("expired=false&pending=false") == ["s-5", "s-1"]
    assert ids("active=false&expired=false") == ["s-2"]


def test_a_silence_keeps_its_annotations_and_cannot_end_in_the_past(client: TestClient) -> None:
    body = {
        "matchers": [{"name": "target", "value": "t1", "isRegex": False}],
        "startsAt": NOW.isoformat(),
        "endsAt": (NOW + timedelta(hours=1)).isoformat(),
        "createdBy": "ignored",
        "comment": "维护",
        "annotations": {"ticket": "OPS-1"},
    }
    sid = client.post("/api/v2/silences", json=body).json()["silenceID"]
    stored = client.get(f"/api/v2/silence/{sid}").json()
    assert stored["annotations"] == {"ticket": "OPS-1"} and stored["matchers"][0]["isEqual"]
    past = {**body, "endsAt": (NOW - timedelta(seconds=1)).isoformat()}
    answer = client.post("/api/v2/silences", json=past)
    assert answer.status_code == 400 and "past" in answer.json()
    bad = {**body, "annotations": {"no-dash": "x"}}
    assert client.post("/api/v2/silences", json=bad).status_code == 400


def test_parse_filter_takes_one_matcher_per_item() -> None:
    [braced] = parse_filter(['{severity=~"warning|critical"}'])
    assert str(braced) == 'severity=~"warning|critical"'
    for bad in ("", "a=1,b=2", "=x"):
        with pytest.raises(MatcherError):
            parse_filter([bad])
