"""Aggregation-group timers, Alertmanager's dedup (needsUpdate) and the flush pipeline,
driven by an injected clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.notify.domain.alert import Alert
from services.notify.domain.config import RoutingConfig, load_routing
from services.notify.domain.grouping import (
    GroupState,
    flush,
    flush_due,
    group_key,
    insert_alert,
    new_group,
    remove_notified_resolved,
)
from services.notify.domain.matchers import parse_matcher
from services.notify.domain.nflog import LogEntry, NotifyReason, decide, needs_update
from services.notify.domain.pipeline import Notification, dispatch, prepare_notifications
from services.notify.domain.routing import Route, match_routes
from services.notify.domain.silences import Silence
from tests.unit.notify_fixtures import T0, at, make_alert

CONFIG = """\
route:
  receiver: hook
  group_by: [plan, agency, rule]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
  routes:
    - receiver: coordinator
      matchers: ['severity="critical"']
      continue: true
receivers:
  - name: hook
    webhook_configs:
      - {url: "https://h.example/a"}
      - {url: "https://h.example/b", send_resolved: false}
  - name: coordinator
    kafka_configs: [{topic: t}]
inhibit_rules:
  - source_matchers: ['alertname="report_overdue"']
    target_matchers: ['alertname=~"status_degraded|deadline_near"']
    equal: [plan, target]
"""


def config() -> RoutingConfig:
    return load_routing(CONFIG)


def root_route(cfg: RoutingConfig) -> Route:
    return cfg.route


# --- group key and timers -------------------------------------------------------------------


def test_group_key_is_route_key_plus_group_labels() -> None:
    cfg = config()
    alert = make_alert()
    (route,) = match_routes(cfg.route, alert.labels)
    assert route is cfg.route
    assert group_key(route, {"plan": "p", "agency": "a", "rule": "r"}) == (
        '{}:{agency="a", plan="p", rule="r"}'
    )
    group = new_group(route, alert.labels, T0)
    assert group.labels == {
        "plan": "qingyuan-digital-economy-2021",
        "agency": "qy.miit",
        "rule": "status_degraded",
    }
    # stable: same route and labels, same id and key
    assert new_group(route, alert.labels, at(99)).id == group.id


def test_group_wait_then_group_interval() -> None:
    cfg = config()
    route = cfg.route
    a1 = make_alert("t1")
    group = insert_alert(new_group(route, a1.labels, T0), a1, route, T0)
    assert not flush_due(group, at(29))
    assert flush_due(group, at(30))
    group, snapshot = flush(group, route, at(30))
    assert [a.fingerprint for a in snapshot] == [a1.fingerprint]
    assert group.has_flushed and group.next_flush_at == at(330)
    # a second alert after the first flush waits for group_interval, not group_wait
    a2 = make_alert("t2", starts=at(60))
    group = insert_alert(group, a2, route, at(60))
    assert not flush_due(group, at(329))
    assert flush_due(group, at(330))


def test_old_alert_flushes_new_group_immediately() -> None:
    route = config().route
    old = make_alert(starts=T0 - timedelta(hours=2))
    group = insert_alert(new_group(route, old.labels, T0), old, route, T0)
    assert flush_due(group, T0)


def test_older_update_does_not_replace_newer() -> None:
    route = config().route
    newer = make_alert(severity="critical", updated=at(100))
    older = make_alert(severity="warning", updated=at(50))
    group = insert_alert(new_group(route, newer.labels, T0), newer, route, T0)
    group = insert_alert(group, older, route, at(120))
    assert group.alerts[newer.fingerprint].labels["severity"] == "critical"


def test_resolved_alerts_leave_the_group_after_notification_unless_changed() -> None:
    route = config().route
    resolved = make_alert(ends=at(10))
    group = insert_alert(new_group(route, resolved.labels, T0), resolved, route, at(10))
    group, snapshot = flush(group, route, at(30))
    assert remove_notified_resolved(group, snapshot, at(31)).is_empty()
    # it fired again during delivery: it stays
    refired = make_alert(starts=at(20), updated=at(20))
    changed = insert_alert(group, refired, route, at(20))
    assert not remove_notified_resolved(changed, snapshot, at(31)).is_empty()


def test_group_state_round_trips_as_plain_data() -> None:
    route = config().route
    a = make_alert()
    group = insert_alert(new_group(route, a.labels, T0), a, route, T0)
    doc = group.model_dump(mode="json")
    assert GroupState.model_validate(doc) == group
    # naive datetimes (MongoDB without tz_aware) are read as UTC
    raw = group.model_dump()
    raw["created_at"] = raw["created_at"].replace(tzinfo=None)
    assert GroupState.model_validate(raw).created_at == T0


# --- needsUpdate ----------------------------------------------------------------------------


def entry(firing: set[str], resolved: set[str], ts_seconds: float) -> LogEntry:
    return LogEntry(
        group_key="g",
        integration="i",
        firing=frozenset(firing),
        resolved=frozenset(resolved),
        timestamp=at(ts_seconds),
    )


H = timedelta(hours=1)


def nu(
    e: LogEntry | None,
    firing: set[str],
    resolved: set[str],
    send_resolved: bool,
    now: datetime | None = None,
) -> NotifyReason:
    """needs_update with a 1h repeat interval, evaluated at ``now`` (default T0+600s)."""
    return needs_update(
        e,
        firing,
        resolved,
        send_resolved=send_resolved,
        repeat_interval=H,
        now=now or at(600),
    )


def test_needs_update_reasons() -> None:
    assert nu(None, {"a"}, set(), True) is (NotifyReason.FIRST_NOTIFICATION)
    assert nu(None, set(), {"a"}, True) is (NotifyReason.DO_NOT_NOTIFY)
    e = entry({"a"}, set(), 300)
    assert nu(e, {"a", "b"}, set(), True) is NotifyReason.NEW_ALERTS
    assert nu(e, {"a"}, set(), True) is NotifyReason.DO_NOT_NOTIFY
    # everything resolved: sent even without send_resolved, to clear the log
    assert nu(e, set(), {"a"}, False) is NotifyReason.ALL_RESOLVED
    # after a resolution the next firing is a first notification again
    cleared = entry(set(), {"a"}, 300)
    assert nu(cleared, {"a"}, set(), True) is (NotifyReason.FIRST_NOTIFICATION)
    # fired and resolved within one interval, never told: nothing
    assert nu(cleared, set(), {"b"}, True) is (NotifyReason.DO_NOT_NOTIFY)
    two = entry({"a", "b"}, set(), 300)
    assert nu(two, {"a"}, {"b"}, True) is NotifyReason.NEW_RESOLVED
    assert nu(two, {"a"}, {"b"}, False) is (NotifyReason.DO_NOT_NOTIFY)


def test_repeat_interval() -> None:
    e = entry({"a"}, set(), 0)
    assert nu(e, {"a"}, set(), True, at(3600)) is NotifyReason.DO_NOT_NOTIFY
    assert nu(e, {"a"}, set(), True, at(3601)) is NotifyReason.REPEAT_INTERVAL


def test_decide_without_send_resolved_records_only() -> None:
    a = make_alert(ends=at(10))
    e = LogEntry(
        group_key="g",
        integration="i",
        firing=frozenset({a.fingerprint}),
        resolved=frozenset(),
        timestamp=T0,
    )
    d = decide("g", "i", [a], e, send_resolved=False, repeat_interval=H, now=at(30))
    assert d.reason is NotifyReason.ALL_RESOLVED and d.record_only and d.send == ()
    assert d.entry is not None and d.entry.firing == frozenset()
    assert d.entry.resolved == {a.fingerprint}
    with_resolved = decide("g", "i", [a], e, send_resolved=True, repeat_interval=H, now=at(30))
    assert with_resolved.send == (a,) and not with_resolved.record_only


# --- the whole flow -------------------------------------------------------------------------


class Harness:
    """Holds the state the service would keep in MongoDB, and runs the pure steps."""

    def __init__(self) -> None:
        self.cfg = config()
        self.groups: dict[str, GroupState] = {}
        self.log: dict[tuple[str, str], LogEntry] = {}
        self.silences: list[Silence] = []

    def receive(self, alert: Alert, now_s: float) -> None:
        self.groups.update(dispatch(self.cfg, alert, self.groups, at(now_s)))

    def tick(self, now_s: float) -> list[Notification]:
        now = at(now_s)
        firing = [
            a for g in self.groups.values() for a in g.alerts.values() if not a.resolved_at(now)
        ]
        sent: list[Notification] = []
        for gid, group in list(self.groups.items()):
            if not flush_due(group, now):
                continue
            route = self.cfg.routes_by_id[group.route_id]
            flushed, snapshot = flush(group, route, now)
            entries = {i: e for (k, i), e in self.log.items() if k == flushed.key}
            notes = prepare_notifications(
                self.cfg,
                group,
                route,
                snapshot,
                log_entries=entries,
                firing_alerts=firing,
                silences=self.silences,
                now=now,
            )
            for note in notes:  # every delivery succeeds here
                self.log[(note.group_key, note.integration.key)] = note.entry
            sent.extend(notes)
            remaining = remove_notified_resolved(flushed, snapshot, now)
            if remaining.is_empty():
                del self.groups[gid]
            else:
                self.groups[gid] = remaining
        return sent


def summary(notes: list[Notification]) -> list[tuple[str, str, int, bool]]:
    return sorted((n.integration.key, n.reason.value, len(n.alerts), n.record_only) for n in notes)


def test_flow_first_repeat_resolve() -> None:
    h = Harness()
    h.receive(make_alert("t1"), 0)
    h.receive(make_alert("t2", starts=at(10)), 10)  # same group (same plan, agency, rule)
    assert h.tick(29) == []
    assert summary(h.tick(30)) == [
        ("hook/webhook/0", "first notification", 2, False),
        ("hook/webhook/1", "first notification", 2, False),
    ]
    assert h.tick(330) == []  # unchanged, repeat interval (1h) not reached
    repeat = h.tick(30 + 5 * 60 * 12 + 300)  # the first flush after 1h
    assert {n.reason for n in repeat} == {NotifyReason.REPEAT_INTERVAL}
    t = 30 + 5 * 60 * 13 + 300
    h.receive(make_alert("t1", ends=at(t - 10)), t - 10)
    resolved = summary(h.tick(t))
    assert resolved == [
        ("hook/webhook/0", "some alerts resolved", 2, False),
    ]  # webhook/1 has send_resolved: false and t2 is still firing
    # the resolved alert was notified, so it left the group
    (group,) = h.groups.values()
    assert len(group.alerts) == 1


def test_flow_alert_resolved_before_group_wait_is_never_sent() -> None:
    h = Harness()
    h.receive(make_alert("t1"), 0)
    h.receive(make_alert("t1", ends=at(20)), 20)
    assert h.tick(30) == []
    assert h.groups == {}


def test_flow_critical_continue_and_severity_drop_retires_from_coordinator() -> None:
    h = Harness()
    h.receive(make_alert("t1", severity="critical"), 0)
    # a matching child with continue still counts as a match: the root is not the fallback
    assert [k for k, *_ in summary(h.tick(30))] == ["coordinator/kafka/0"]
    # severity drops: the alert now routes to the root; the coordinator's group sees it resolved
    h.receive(make_alert("t1", severity="warning", updated=at(100)), 100)
    assert summary(h.tick(130)) == [
        ("hook/webhook/0", "first notification", 1, False),
        ("hook/webhook/1", "first notification", 1, False),
    ]
    assert summary(h.tick(330)) == [("coordinator/kafka/0", "all alerts resolved", 1, False)]
    assert len(h.groups) == 1


def test_flow_inhibition_and_silence() -> None:
    h = Harness()
    h.receive(make_alert("t1", rule="status_degraded"), 0)
    h.receive(make_alert("t1", rule="report_overdue"), 0)
    notes = h.tick(30)
    rules = {n.group_labels["rule"] for n in notes}
    assert rules == {"report_overdue"}  # status_degraded is inhibited on the same target
    h.silences.append(
        Silence(
            id="s1",
            matchers=(parse_matcher('rule="report_overdue"'),),
            starts_at=at(40),
            ends_at=at(4000),
            created_by="ops",
        )
    )
    # overdue resolves: status_degraded is no longer inhibited and is sent
    h.receive(make_alert("t1", rule="report_overdue", ends=at(100)), 100)
    later = h.tick(330)
    assert {n.group_labels["rule"] for n in later} == {"status_degraded"}
    assert {n.reason for n in later} == {NotifyReason.FIRST_NOTIFICATION}
