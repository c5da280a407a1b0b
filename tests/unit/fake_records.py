"""A consumed Kafka record, as the services' `Record` protocol sees it, for tests without a
broker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FakeRecord:
    topic: str
    partition: int
    offset: int
    value: bytes | None = b"{}"
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = ()
    timestamp: int = 0
