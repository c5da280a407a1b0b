"""Shared builders for the notify unit tests (plain data, injected instants)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from services.notify.domain.alert import Alert
from services.notify.domain.config import load_routing

T0 = datetime(2022, 6, 1, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_alert(
    target: str = "digital.5g-stations",
    rule: str = "status_degraded",
    *,
    agency: str = "qy.miit",
    severity: str = "warning",
    plan: str = "qingyuan-digital-economy-2021",
    starts: datetime = T0,
    ends: datetime | None = None,
    updated: datetime | None = None,
    summary_zh: str = "5G基站建设进度落后",
    summary_en: str = "5G station build-out is behind",
) -> Alert:
    return Alert(
        fingerprint=hashlib.sha256(f"{plan}|{target}|{rule}".encode()).hexdigest()[:16],
        labels={
            "alertname": rule,
            "rule": rule,
            "plan": plan,
            "area": "2.2",
            "task": "2.2.1",
            "target": target,
            "agency": agency,
            "severity": severity,
        },
        annotations={"summary_zh": summary_zh, "summary_en": summary_en},
        starts_at=starts,
        ends_at=ends,
        generator_url=f"http://planwatch.local/targets/{target}",
        updated_at=updated or ends or starts,
    )


# The flush tests' routing: one receiver, one group per rule, a loud Kafka integration and a
# quiet one (no resolved notifications); a group that fires at T0 and resolves at 100 s.
FLUSH_CONFIG = load_routing("""\
route:
  receiver: ops
  group_by: [rule]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
receivers:
  - name: ops
    kafka_configs:
      - {topic: ops}
      - {topic: quiet, send_resolved: false}
""")
FIRING = make_alert("t1")
RESOLVED = make_alert("t1", ends=at(100))
