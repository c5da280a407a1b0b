"""The AuditLog contract (key administration, silences, acknowledgements), run against the
in-memory fake (unit) and MongoDB (integration). Subclass `AuditLogContract` and provide an
empty `audit` fixture."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.runtime.audit import AuditEntry, AuditLog

START = datetime(2022, 6, 1, 8, 0, tzinfo=UTC)


class AuditLogContract:
    async def test_an_entry_is_read_back_with_who_what_and_when(self, audit: AuditLog) -> None:
        await audit.record("alice", "key.revoke", "qy.gov-data/k1", {"reason": "lost"}, START)
        [entry] = await audit.entries()
        parsed = AuditEntry.model_validate(entry)
        assert (parsed.actor, parsed.action, parsed.subject) == (
            "alice",
            "key.revoke",
            "qy.gov-data/k1",
        )
        assert parsed.details == {"reason": "lost"}
        assert datetime.fromisoformat(parsed.at) == START
        assert "_id" not in entry and parsed.id

    async def test_entries_come_newest_first_and_limited(self, audit: AuditLog) -> None:
        for minute in (1, 3, 2):
            await audit.record(
                "bob", "silence.create", f"s{minute}", {}, START + timedelta(minutes=minute)
            )
        assert [e["subject"] for e in await audit.entries()] == ["s3", "s2", "s1"]
        assert [e["subject"] for e in await audit.entries(limit=2)] == ["s3", "s2"]

    async def test_every_entry_is_kept_even_when_identical(self, audit: AuditLog) -> None:
        for _ in range(2):
            await audit.record("carol", "ack.create", "fp", {"note": "on it"}, START)
        entries = await audit.entries()
        assert len(entries) == 2 and entries[0]["id"] != entries[1]["id"]
