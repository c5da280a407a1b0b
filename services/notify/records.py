"""What notify keeps in MongoDB, as pydantic models (stored in their JSON form, so instants keep
their microseconds and compare exactly after a round trip).

- `GroupRecord`, `Inflight`, `PendingNotification`: a group's flush lifecycle, defined in the
  domain (`domain/flush_records.py`) since its decisions are pure (`domain/flush_lifecycle.py`,
  `domain/delivery_lifecycle.py`); re-exported here with the other records.
- `FingerprintRecord`: per alert fingerprint, the groups that may hold it (a superset, written
  before the groups), the last applied transition instant and the recent transition ids
  (duplicates are dropped by id).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from services.notify.domain.flush_records import (
    GroupRecord,
    Inflight,
    PendingNotification,
    pending_id,
)
from services.notify.domain.timefmt import UtcDatetime

__all__ = [
    "RECENT_IDS",
    "FingerprintRecord",
    "GroupRecord",
    "Inflight",
    "PendingNotification",
    "pending_id",
]

RECENT_IDS = 32  # transition ids remembered per fingerprint


class FingerprintRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    fingerprint: str
    groups: list[str] = Field(default_factory=list)
    applied_at: UtcDatetime | None = None
    ids: list[str] = Field(default_factory=list)
