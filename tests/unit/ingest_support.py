"""Keys, signed events, fake records and an in-memory intake for the ingest tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.ingest.intake import Intake, Topics
from services.ingest.store import InMemoryReportStore
from services.ingest.validation import KeySnapshot, Limits
from shared.catalog import load_catalog
from shared.contract.codec import data_bytes, encode_kafka_binary, encode_kafka_structured
from shared.contract.events import (
    ProblemEvent,
    ProgressReported,
    ProgressRetracted,
    Unit,
    new_report,
    new_retraction,
)
from shared.contract.keys import AgencyKey, private_key_from_seed, public_key_text
from shared.contract.parsing import RawEvent
from shared.contract.signing import sign
from shared.domain.catalog import Catalog
from shared.runtime.publisher import RecordingPublisher

PLAN = "qingyuan-digital-economy-2021"
NOW = datetime(2022, 4, 6, 12, 0, tzinfo=UTC)
CREATED = datetime(2021, 1, 1, tzinfo=UTC)
TOPICS = Topics(progress="in.progress", accepted="out.accepted", dead_letter="out.dlt")

#: agency -> key id, each with a fixed seed so signatures are reproducible.
AGENCIES = (
    "qy.gov-data",
    "qy.miit",
    "qy.health",
    "carrier.china-mobile",
    "qy.agriculture",
    "qy.commerce",
    "qy.nobody",
)


def _seed(agency: str, key_id: str) -> bytes:
    return (agency + "/" + key_id).encode().ljust(32, b".")[:32]


@cache
def private_key(agency: str, key_id: str = "k1") -> Ed25519PrivateKey:
    return private_key_from_seed(_seed(agency, key_id))


def agency_key(agency: str, key_id: str = "k1") -> AgencyKey:
    return AgencyKey(
        agency=agency,
        key_id=key_id,
        public_key=public_key_text(private_key(agency, key_id)),
        created=CREATED,
    )


def key_snapshot(*keys: AgencyKey) -> dict[tuple[str, str], AgencyKey]:
    chosen = keys or tuple(agency_key(a) for a in AGENCIES)
    return {(k.agency, k.key_id): k for k in chosen}


@cache
def catalog() -> Catalog:
    return load_catalog()


def report(
    *,
    agency: str = "qy.gov-data",
    target: str = "gov.mobile-services",
    as_of: date = date(2022, 3, 31),
    time: datetime | str = "2022-04-06T09:30:00+08:00",
    value: float | None = 72.5,
    stage: str | None = None,
    unit: Unit | None = None,
    event_id: str = "ev-1",
    plan: str = PLAN,
    key_id: str = "k1",
    note: str | None = None,
    scope: str | None = None,
    evidence: str | None = None,
) -> ProgressReported:
    event = new_report(
        agency=agency,
        plan=plan,
        target=target,
        as_of=as_of,
        time=time,
        value=value if stage is None else None,
        stage=stage,
        unit=unit,
        note=note,
        scope=scope,
        evidence=evidence,
        event_id=event_id,
    )
    return sign(event, private_key(agency, key_id), key_id)


def retraction(
    *,
    agency: str = "qy.gov-data",
    target: str = "gov.mobile-services",
    as_of: date = date(2022, 3, 31),
    event_id: str = "ret-1",
    scope: str | None = None,
) -> ProgressRetracted:
    event = new_retraction(
        agency=agency,
        plan=PLAN,
        target=target,
        as_of=as_of,
        reason="double counted",
        time="2022-04-06T10:00:00+08:00",
        scope=scope,
        event_id=event_id,
    )
    return sign(event, private_key(agency), "k1")


def raw_of(event: ProgressReported | ProgressRetracted | ProblemEvent) -> RawEvent:
    return RawEvent(event.envelope, data_bytes(event))


@dataclass
class FakeRecord:
    """An aiokafka ConsumerRecord as the services read it."""

    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()
    key: bytes | None = None
    topic: str = TOPICS.progress
    partition: int = 0
    offset: int = 0
    timestamp: int = 0


def kafka_record(
    event: ProgressReported | ProgressRetracted | ProblemEvent,
    offset: int = 0,
    *,
    structured: bool = False,
) -> FakeRecord:
    key, value, headers = (encode_kafka_structured if structured else encode_kafka_binary)(event)
    return FakeRecord(value=value, headers=headers, key=key, offset=offset)


@dataclass
class Harness:
    """An Intake over the in-memory store and a recording publisher."""

    keys: dict[tuple[str, str], AgencyKey] = field(default_factory=key_snapshot)
    store: InMemoryReportStore = field(default_factory=InMemoryReportStore)
    publisher: RecordingPublisher = field(default_factory=RecordingPublisher)
    now: datetime = NOW

    def intake(self) -> Intake:
        def snapshot() -> KeySnapshot:
            return self.keys

        return Intake(
            catalog=catalog(),
            keys=snapshot,
            store=self.store,
            publisher=self.publisher,
            topics=TOPICS,
            limits=Limits(),
            clock=lambda: self.now,
        )

    def later(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
