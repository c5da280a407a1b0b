"""The ProblemStore contract, run against the in-memory fake (unit) and MongoDB/FerretDB
(integration): entries added once per event id whoever adds them, summaries written only over
ones derived from fewer entries, escalation recorded once, and the list queries.

Subclass `ProblemStoreContract` and provide an async `store` fixture (an empty store).
"""

from __future__ import annotations

from services.scoring.problem_store import ProblemQuery, ProblemStore
from shared.runtime.mongo import Document

KEY = "p:x1"


def entry(event_id: str, action: str = "raised", **extra: object) -> Document:
    return {
        "event_id": event_id,
        "action": action,
        "agency": "qy.gov-data",
        "at": "2022-04-06T01:30:00+00:00",
        "subject": "gov.mobile-services",
        "subject_kind": "target",
        "task": "2.1.2",
        **extra,
    }


def summary(state: str, **extra: object) -> Document:
    return {
        "state": state,
        "subject": "gov.mobile-services",
        "task": "2.1.2",
        "raised_by": "qy.gov-data",
        "from_agencies": ["qy.natural-resources", "carriers"],
        **extra,
    }


class ProblemStoreContract:
    async def test_entries_are_a_set_by_event_id(self, store: ProblemStore) -> None:
        assert await store.problem(KEY) is None
        first = await store.add_entry(KEY, "p", "x1", entry("e1"))
        assert (first["_id"], first["plan"], first["problem_id"]) == (KEY, "p", "x1")
        assert [e["event_id"] for e in first["history"].values()] == ["e1"]
        again = await store.add_entry(KEY, "p", "x1", entry("e1"))
        assert again["history"] == first["history"]
        # Event ids may hold what a field name may not.
        odd = await store.add_entry(KEY, "p", "x1", entry("a.b$c", "acknowledged"))
        assert sorted(e["event_id"] for e in odd["history"].values()) == ["a.b$c", "e1"]
        assert store.location

    async def test_a_summary_is_written_only_over_one_from_fewer_entries(
        self, store: ProblemStore
    ) -> None:
        await store.add_entry(KEY, "p", "x1", entry("e1"))
        assert await store.write_summary(KEY, summary("open"), 1)
        assert await store.write_summary(KEY, summary("acknowledged"), 2)
        assert not await store.write_summary(KEY, summary("open"), 1)  # a stale writer
        assert not await store.write_summary(KEY, summary("open"), 2)
        doc = await store.problem(KEY)
        assert doc is not None and doc["state"] == "acknowledged" and doc["derived_from"] == 2
        assert [e["event_id"] for e in doc["history"].values()] == ["e1"]

    async def test_escalation_is_recorded_once(self, store: ProblemStore) -> None:
        await store.add_entry(KEY, "p", "x1", entry("e1"))
        assert await store.mark_escalated(KEY, "2022-05-01T00:00:00+00:00")
        assert not await store.mark_escalated(KEY, "2022-06-01T00:00:00+00:00")
        doc = await store.problem(KEY)
        assert doc is not None and doc["escalated_at"] == "2022-05-01T00:00:00+00:00"

    async def test_queries_filter_on_the_summary_and_skip_the_unraised(
        self, store: ProblemStore
    ) -> None:
        rows = {
            "p:a": summary("open"),
            "p:b": summary("resolved", raised_by="qy.miit", subject="2.2.1", task="2.2.1"),
            "p:c": summary("acknowledged", from_agencies=["qy.miit"]),
            "q:d": summary("open"),
            "p:e": {"state": None},  # steps came before the raise
        }
        for key, fields in rows.items():
            plan, problem_id = key.split(":")
            await store.add_entry(key, plan, problem_id, entry("e-" + key))
            await store.write_summary(key, fields, 1)

        async def ids(**query: object) -> list[str]:
            found = await store.problems(ProblemQuery(**query))  # type: ignore[arg-type]
            return sorted(str(d["_id"]) for d in found)

        assert await ids() == ["p:a", "p:b", "p:c", "q:d"]
        assert await ids(plan="p") == ["p:a", "p:b", "p:c"]
        assert await ids(plan="p", states=("open", "acknowledged")) == ["p:a", "p:c"]
        assert await ids(raised_by="qy.miit") == ["p:b"]
        assert await ids(asked="carriers") == ["p:a", "p:b", "q:d"]
        assert await ids(subject="2.2.1") == ["p:b"]
        assert await ids(plan="p", task="2.1.2", states=("open",)) == ["p:a"]

    async def test_drop_forgets_everything(self, store: ProblemStore) -> None:
        await store.add_entry(KEY, "p", "x1", entry("e1"))
        await store.drop()
        assert await store.problem(KEY) is None
