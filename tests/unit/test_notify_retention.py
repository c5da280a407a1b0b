"""notify's retention rules (Alertmanager's --data.retention): which log entries and silences
go, where the delivery log is cut, and which routes remind sooner than configured."""

from __future__ import annotations

from datetime import timedelta

from services.notify.domain.config import load_routing
from services.notify.domain.matchers import parse_matcher
from services.notify.domain.nflog import LogEntry
from services.notify.domain.retention import (
    Retention,
    delivery_log_cutoff,
    log_entry_expired,
    repeat_beyond_retention,
    silence_forgotten,
)
from services.notify.domain.silences import Silence
from tests.unit.notify_fixtures import T0

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
