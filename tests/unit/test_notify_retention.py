"""notify's retention rules (Alertmanager's --data.retention): which log entries and silences
go, where the delivery log is cut, which routes remind sooner than configured, and which
acknowledgements and escalation steps sent go (kept while a group holds their episode)."""

from __future__ import annotations

from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry

from services.notify.domain.acks import Acknowledgement
from services.notify.domain.config import load_routing
from services.notify.domain.escalation import escalation_episode, escalation_key
from services.notify.domain.matchers import parse_matcher
from services.notify.domain.nflog import LogEntry
from services.notify.domain.pipeline import dispatch
from services.notify.domain.retention import (
    Retention,
    ack_forgotten,
    delivery_log_cutoff,
    escalation_forgotten,
    live_episodes,
    log_entry_expired,
    repeat_beyond_retention,
    silence_forgotten,
)
from services.notify.domain.silences import Silence
from services.notify.memory_store import InMemoryNotifyStore
from services.notify.metrics import NotifyMetrics
from services.notify.pruning import Pruner
from tests.unit.notify_fixtures import T0, make_alert
from tests.unit.test_notify_acks_escalation import CONFIG as ESCALATION_CONFIG

RETENTION = Retention(data=timedelta(hours=120), delivery_log=timedelta(days=30))
NOW = T0 + timedelta(days=10)


def entry(age: timedelta) -> LogEntry:
    return LogEntry(
        group_key="{}:{}",
        integration="hook/webhook/0",
        firing=frozenset({"a"}),
        resolved=frozenset(),
        timestamp=NOW - age,
    )


def silence(ended: timedelta) -> Silence:
    return Silence(
        id="s1",
        matchers=(parse_matcher('target="t-1"'),),
        starts_at=NOW - ended - timedelta(hours=1),
        ends_at=NOW - ended,
        created_by="ops",
    )


def test_a_log_entry_goes_once_not_renewed_for_the_retention() -> None:
    assert not log_entry_expired(entry(timedelta(hours=119)), NOW, RETENTION)
    assert log_entry_expired(entry(timedelta(hours=120)), NOW, RETENTION)


def test_a_silence_goes_once_expired_for_the_retention() -> None:
    assert not silence_forgotten(silence(timedelta(hours=119)), NOW, RETENTION)
    assert silence_forgotten(silence(timedelta(hours=120)), NOW, RETENTION)
    active = silence(-timedelta(hours=200))  # ends in the future
    assert not silence_forgotten(active, NOW, RETENTION)


def test_the_delivery_log_is_cut_at_its_own_retention() -> None:
    assert delivery_log_cutoff(NOW, RETENTION) == NOW - timedelta(days=30)


def test_routes_repeating_less_often_than_the_retention_are_named() -> None:
    config = load_routing(
        """\
route:
  receiver: hook
  repeat_interval: 4h
  routes:
    - receiver: hook
      matchers: ['severity="info"']
      repeat_interval: 7d
receivers:
  - name: hook
    webhook_configs:
      - {url: "https://h.example/a"}
""",
        "routing.yaml",
    )
    assert repeat_beyond_retention(config.route.walk(), RETENTION) == [
        "line 5: repeat_interval 1w > retention 5d"
    ]


# -- acknowledgements and escalation steps sent: kept while their episode is held -------------

ALERT = make_alert("t1", starts=NOW - timedelta(days=8))
HELD = live_episodes([ALERT])
GONE: frozenset[tuple[str, datetime]] = frozenset()


def ack_of(given: timedelta, until: timedelta | None = None, **changes: object) -> Acknowledgement:
    return Acknowledgement(
        fingerprint=ALERT.fingerprint,
        receiver="lead",
        by="ops",
        at=NOW - given,
        until=None if until is None else NOW - until,
        starts_at=ALERT.starts_at,
    ).model_copy(update=changes)


def test_an_acknowledgement_of_a_held_episode_is_kept_whatever_its_age() -> None:
    assert not ack_forgotten(ack_of(timedelta(days=7)), HELD, NOW, RETENTION)
    # ended for the retention: gone even while its episode lasts
    ended = ack_of(timedelta(days=7), until=timedelta(hours=120))
    assert ack_forgotten(ended, HELD, NOW, RETENTION)
    assert not ack_forgotten(
        ack_of(timedelta(days=7), until=timedelta(hours=119)), HELD, NOW, RETENTION
    )


def test_an_acknowledgement_of_an_episode_no_group_holds_goes_after_the_retention() -> None:
    assert not ack_forgotten(ack_of(timedelta(hours=119)), GONE, NOW, RETENTION)
    assert ack_forgotten(ack_of(timedelta(hours=120)), GONE, NOW, RETENTION)
    # the alert fires again: a new episode, the old acknowledgement no longer covers anything
    again = live_episodes([ALERT.model_copy(update={"starts_at": NOW - timedelta(hours=1)})])
    assert ack_forgotten(ack_of(timedelta(hours=120)), again, NOW, RETENTION)
    # one for every episode (`starts_at` None) stays while the alert is held at all
    every = ack_of(timedelta(hours=120), starts_at=None)
    assert not ack_forgotten(every, again, NOW, RETENTION)
    assert ack_forgotten(every, GONE, NOW, RETENTION)


def test_an_escalation_step_goes_once_its_episode_is_gone_for_the_retention() -> None:
    key = escalation_key('{}/{agency=~"a|b"}/0', ALERT.fingerprint, ALERT.starts_at, 2)
    assert escalation_episode(key) == (ALERT.fingerprint, ALERT.starts_at)
    old, recent = NOW - timedelta(hours=120), NOW - timedelta(hours=119)
    assert not escalation_forgotten(key, old, HELD, NOW, RETENTION)  # still firing: never
    assert not escalation_forgotten(key, recent, GONE, NOW, RETENTION)
    assert escalation_forgotten(key, old, GONE, NOW, RETENTION)
    for odd in ("", "a|b", "r|f|not-a-time|1", "r|f|2022-06-01T08:00:00|1", "r||2022-06-01|1"):
        assert escalation_episode(odd) is None
        assert not escalation_forgotten(odd, old, GONE, NOW, RETENTION)


async def test_the_pruner_forgets_acknowledgements_and_steps_of_past_episodes() -> None:
    store = InMemoryNotifyStore()
    registry = CollectorRegistry()
    config = load_routing(ESCALATION_CONFIG)
    firing = make_alert("t1", starts=NOW - timedelta(days=8))
    for state in dispatch(config, firing, {}, NOW - timedelta(days=8)).values():
        await store.save_alert_state(state, firing.fingerprint, NOW - timedelta(days=8))
    past = make_alert("t2", starts=NOW - timedelta(days=9))  # resolved, left its group
    for alert in (firing, past):
        await store.put_ack(
            Acknowledgement(
                fingerprint=alert.fingerprint,
                receiver="lead",
                by="ops",
                at=NOW - timedelta(days=7),
                starts_at=alert.starts_at,
            )
        )
        for step in (1, 2):
            key = escalation_key("{}", alert.fingerprint, alert.starts_at, step)
            await store.mark_escalated(key, NOW - timedelta(days=6))

    counts = await Pruner(store, RETENTION, NotifyMetrics(registry)).prune(NOW)

    assert (counts["acks"], counts["escalations"]) == (1, 2)
    assert [a.fingerprint for a in await store.acks()] == [firing.fingerprint]
    assert {escalation_episode(k) for k in await store.escalation_marks()} == {
        (firing.fingerprint, firing.starts_at)
    }
    assert registry.get_sample_value("planwatch_notify_pruned_total", {"kind": "acks"}) == 1
