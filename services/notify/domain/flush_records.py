"""The records of a group's flush lifecycle, as plain pydantic data (stored in their JSON form,
so instants keep their microseconds and compare exactly after a round trip).

- `GroupRecord`: an aggregation group (`GroupState`), its flush counter and the flush whose
  notifications are still being delivered (`Inflight`).
- `PendingNotification`: one notification not yet delivered, with its retry state; removed
  once delivered, dead-lettered or dropped (the attempt log keeps the history).

The decisions over them are `flush_lifecycle` (the group) and `delivery_lifecycle` (each
notification); the service stores them (`services/notify/records.py` re-exports them).
"""

from __future__ import annotations

from collections.abc import Container

from pydantic import BaseModel, ConfigDict, Field

from services.notify.domain.alert import Alert
from services.notify.domain.grouping import GroupState
from services.notify.domain.nflog import LogEntry
from services.notify.domain.timefmt import UtcDatetime


class Inflight(BaseModel):
    """A group's last flush. It is in flight while any of its notifications is pending; once
    every one of them ended, the resolved alerts of `snapshot` leave the group if all succeeded
    (Alertmanager's rule). `snapshot` holds the flush's alerts that have an end: a firing one
    cannot leave at the close, so a flush with an empty snapshot closes without a write."""

    model_config = ConfigDict(frozen=True)

    seq: int
    at: UtcDatetime
    snapshot: list[Alert]
    notifications: list[str]
    failed: bool = False


class GroupRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    state: GroupState
    seq: int = 0  # flushes taken; part of the pending notifications' ids
    inflight: Inflight | None = None
    arrived: dict[str, UtcDatetime] = Field(default_factory=dict)  # fingerprint -> received

    @property
    def id(self) -> str:
        return self.state.id

    def flush_open(self, pending: Container[str]) -> bool:
        """True while a notification of the last flush is among `pending` (ids)."""
        return self.inflight is not None and any(n in pending for n in self.inflight.notifications)


class PendingNotification(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str  # <group id>:<flush seq>:<integration key>: a re-run flush finds it again
    webhook_id: str  # the domain's notification id: Standard Webhooks webhook-id, Message-ID
    group_id: str
    group_key: str
    group_labels: dict[str, str]
    receiver: str
    integration: str  # integration key, looked up in the routing config at send time
    reason: str
    # Defaulted: FerretDB 1.24 drops empty arrays written by $setOnInsert (see add_pending).
    alerts: list[Alert] = Field(default_factory=list)
    record_only: bool
    entry: LogEntry
    created_at: UtcDatetime  # the flush instant
    arrived_at: UtcDatetime | None = None  # latest arrival among the alerts (latency metric)
    attempts: int = 0
    first_attempt_at: UtcDatetime | None = None
    next_attempt_at: UtcDatetime
    last_reason: str = ""
    final: str | None = None  # dead_letter | disabled: decided, Kafka record not yet confirmed
    final_reason: str = ""
    escalation: int | None = None  # the escalation step this notification is (1-based)


FINAL_DEAD = "dead_letter"
FINAL_DISABLED = "disabled"


def pending_id(group_id: str, seq: int, integration: str) -> str:
    return f"{group_id}:{seq}:{integration}"
