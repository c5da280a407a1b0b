"""The ReportStore contract, run against the in-memory fake (unit) and MongoDB (integration).

Subclass `ReportStoreContract` and provide an async `store` fixture.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.ingest.store import ReportStore, StoredReport, report_key, signed_event_json
from services.ingest.validation import Accepted, validate
from shared.accepted import AcceptedEvent
from tests.unit.ingest_support import NOW, catalog, key_snapshot, raw_of, report, retraction


def stored(event_id: str, value: float = 1.0, *, reported: str | None = None) -> StoredReport:
    event = report(
        event_id=event_id, value=value, time=reported or "2022-04-06T09:30:00.123456+08:00"
    )
    verdict = validate(raw_of(event), catalog(), key_snapshot(), NOW)
    assert isinstance(verdict, Accepted)
    return StoredReport(verdict.event, signed_event_json(verdict.raw))


def key(event_id: str, agency: str = "qy.gov-data") -> str:
    """The store's key of an event of `report()`'s default agency."""
    return report_key(agency, event_id)


class ReportStoreContract:
    async def test_a_new_report_is_inserted_and_read_back_unchanged(
        self, store: ReportStore
    ) -> None:
        report_a = stored("a")
        outcome = await store.insert_new([report_a])
        assert outcome.inserted == {key("a")}
        assert dict(outcome.existing) == {} and dict(outcome.refused) == {}
        back = await store.get(key("a"))
        assert back == report_a
        # The instant keeps its offset and microseconds (not a BSON date's milliseconds).
        assert back is not None and back.event.reported_at.utcoffset() is not None
        assert back.event.reported_at.microsecond == 123456

    async def test_an_existing_id_is_reported_with_what_is_stored(self, store: ReportStore) -> None:
        await store.insert_new([stored("a", 1.0)])
        outcome = await store.insert_new([stored("a", 2.0), stored("b", 3.0)])
        assert outcome.inserted == {key("b")}
        assert set(outcome.existing) == {key("a")}
        first = outcome.existing[key("a")].event
        assert isinstance(first, AcceptedEvent) and first.value == 1.0  # the first one stays
        back = await store.get(key("a"))
        assert back is not None and isinstance(back.event, AcceptedEvent)
        assert back.event.value == 1.0

    async def test_a_retraction_round_trips(self, store: ReportStore) -> None:
        verdict = validate(raw_of(retraction(event_id="r")), catalog(), key_snapshot(), NOW)
        assert isinstance(verdict, Accepted)
        report_r = StoredReport(verdict.event, signed_event_json(verdict.raw))
        await store.insert_new([report_r])
        assert await store.get(key("r")) == report_r

    async def test_missing_and_empty(self, store: ReportStore) -> None:
        assert await store.get(key("nope")) is None
        outcome = await store.insert_new([])
        assert outcome.inserted == frozenset()

    async def test_an_id_twice_in_one_call_is_a_caller_error(self, store: ReportStore) -> None:
        with pytest.raises(ValueError, match="at most once"):
            await store.insert_new([stored("a"), stored("a", 2.0)])

    async def test_many_at_once(self, store: ReportStore) -> None:
        first = [stored(f"m{i}", i / 2) for i in range(150)]
        await store.insert_new(first[:40])
        outcome = await store.insert_new(first)
        assert outcome.inserted == {key(f"m{i}") for i in range(40, 150)}
        assert set(outcome.existing) == {key(f"m{i}") for i in range(40)}
        back = await store.get(key("m149"))
        assert back is not None and back.event.received_at == NOW.astimezone(UTC)
        assert isinstance(back.event.received_at, datetime)

    async def test_ids_are_unique_per_agency_not_across_agencies(self, store: ReportStore) -> None:
        # CloudEvents: an event is (source, id). One agency's "1" is not another's "1", so
        # no agency can take another's next id first (it used to be refused as a conflict).
        mine = stored("1")
        other = report(event_id="1", agency="qy.miit", target="infra.5g-coverage", value=80)
        verdict = validate(raw_of(other), catalog(), key_snapshot(), NOW)
        assert isinstance(verdict, Accepted), verdict
        theirs = StoredReport(verdict.event, signed_event_json(verdict.raw))
        outcome = await store.insert_new([mine, theirs])
        assert outcome.inserted == {key("1"), key("1", "qy.miit")}
        assert await store.get(key("1", "qy.miit")) == theirs
        assert await store.get(key("1")) == mine
