"""The ScoringStore contract, run against the in-memory fake (unit) and MongoDB/FerretDB
(integration): the semantics the engine relies on, fencing first.

Subclass `ScoringStoreContract` and provide an async `store` fixture (an empty store).
"""

from __future__ import annotations

from services.scoring.store import ScoringStore
from shared.runtime.mongo import Document

PLAN = "p"


def target_fields(target: str, **extra: object) -> dict[str, object]:
    return {"plan": PLAN, "target": target, "result": {"status": "ON_TRACK"}, **extra}


class ScoringStoreContract:
    async def test_an_empty_store_is_empty_and_has_no_state(self, store: ScoringStore) -> None:
        assert await store.is_empty()
        assert await store.load_meta() is None
        assert await store.load_targets() == []
        assert await store.load_plans() == []
        assert await store.plan(PLAN) is None
        assert await store.target(f"{PLAN}:t") is None
        assert store.location

    async def test_target_writes_upsert_and_count_versions(self, store: ScoringStore) -> None:
        key = f"{PLAN}:t"
        assert await store.write_targets({key: target_fields("t", outbox={"points": []})}) == set()
        assert await store.write_targets({key: target_fields("t", clock="c2")}) == set()
        [doc] = await store.load_targets([key])
        assert doc["_id"] == key and doc["version"] == 2 and doc["clock"] == "c2"
        shown = await store.target(key)
        assert shown is not None and "outbox" not in shown and shown["clock"] == "c2"
        assert not await store.is_empty()
        assert await store.load_targets(["absent"]) == []

    async def test_documents_are_copies(self, store: ScoringStore) -> None:
        key = f"{PLAN}:t"
        fields = target_fields("t", scoped=[{"as_of": "2022-01-01"}])
        await store.write_targets({key: fields})
        fields["scoped"].append({"as_of": "changed"})  # type: ignore[attr-defined]
        [doc] = await store.load_targets([key])
        assert doc["scoped"] == [{"as_of": "2022-01-01"}]
        doc["scoped"].append("mutated")
        [again] = await store.load_targets([key])
        assert again["scoped"] == [{"as_of": "2022-01-01"}]

    async def test_epochs_count_up_per_partition(self, store: ScoringStore) -> None:
        assert [await store.next_epoch(0) for _ in range(3)] == [1, 2, 3]
        assert await store.next_epoch(1) == 1

    async def test_a_claim_fences_older_owners(self, store: ScoringStore) -> None:
        a, b = f"{PLAN}:a", f"{PLAN}:b"
        assert await store.claim_targets({a: 1, b: 1}) == set()  # creates empty documents
        assert {d["_id"]: d["epoch"] for d in await store.load_targets()} == {a: 1, b: 1}
        assert await store.claim_targets({a: 2}) == set()
        assert await store.claim_targets({a: 1, b: 1}) == {a, b}  # a: newer holds; b: same
        # Writes carry the writer's epoch: only the current holder's land.
        fenced = await store.write_targets(
            {a: target_fields("a"), b: target_fields("b")}, {a: 1, b: 1}
        )
        assert fenced == {a}
        assert await store.write_targets({a: target_fields("a")}, {a: 2}) == set()
        docs = {d["_id"]: d for d in await store.load_targets()}
        assert docs[a]["version"] == 1 and docs[b]["version"] == 1
        # A key no claim created is fenced under epochs too.
        assert await store.write_targets({f"{PLAN}:c": target_fields("c")}, {f"{PLAN}:c": 1}) == {
            f"{PLAN}:c"
        }

    async def test_roll_up_reads_every_target_of_a_plan(self, store: ScoringStore) -> None:
        await store.write_targets(
            {
                f"{PLAN}:a": target_fields("a", result_full={"x": 1}, window={"count": 3}),
                f"{PLAN}:d": target_fields("d", tracked=[{"as_of": "2022-03-31"}]),
                "q:z": {"plan": "q", "target": "z"},
            }
        )
        docs = {d["target"]: d for d in await store.plan_results(PLAN)}
        assert set(docs) == {"a", "d"}
        assert docs["a"]["result_full"] == {"x": 1} and docs["a"]["version"] == 1
        assert "window" not in docs["a"]  # only what a roll-up needs
        assert docs["d"]["tracked"] == [{"as_of": "2022-03-31"}]

    async def test_points_and_history_are_insert_only(self, store: ScoringStore) -> None:
        p1, p2 = f"{PLAN}:a:2022-03-31:x|e1", f"{PLAN}:a:2022-06-30:x|e2"
        point = {"_id": p1, "plan": PLAN, "target": "a", "as_of": "2022-03-31", "value": 1.0}
        await store.insert_points([point, {**point, "_id": p2, "as_of": "2022-06-30"}])
        await store.insert_points([{**point, "value": 9.0}])  # a re-sent `_id`: skipped
        await store.insert_points([])
        points = {d["_id"]: d for d in await store.target_points(PLAN, "a")}
        assert points[p1]["value"] == 1.0 and set(points) == {p1, p2}
        assert [d["_id"] for d in await store.date_points(PLAN, "a", "2022-06-30")] == [p2]
        assert await store.target_points(PLAN, "other") == []
        records = [
            {"_id": f"{PLAN}:a:h{n}", "plan": PLAN, "target": "a", "seq": n, "note": "first"}
            for n in (1, 2, 3)
        ]
        await store.insert_history(records)
        await store.insert_history([{**records[0], "note": "again"}])
        newest = await store.target_history(PLAN, "a", 2)
        assert [d["seq"] for d in newest] == [3, 2]
        assert [d["note"] for d in await store.target_history(PLAN, "a", 5)][-1] == "first"

    async def test_a_target_reads_only_its_own_id_range_page_by_page(
        self, store: ScoringStore
    ) -> None:
        def point(target: str, as_of: str) -> Document:
            _id = f"{PLAN}:{target}:{as_of}:x|e-{target}-{as_of}"
            return {"_id": _id, "plan": PLAN, "target": target, "as_of": as_of, "value": 1.0}

        # "a" and "ab" share a prefix, "a" of another plan shares the target id.
        dates = ("2022-03-31", "2022-06-30", "2022-09-30")
        await store.insert_points([point(t, d) for t in ("a", "ab") for d in dates])
        await store.insert_points([{**point("a", dates[0]), "_id": "q:a:2022-03-31:x|e"}])
        assert {d["as_of"] for d in await store.target_points(PLAN, "a")} == set(dates)
        assert len(await store.target_points(PLAN, "a")) == 3
        older = await store.target_points(PLAN, "a", before="2022-09-30")
        assert sorted(d["as_of"] for d in older) == list(dates[:2])
        assert await store.target_points(PLAN, "a", before="2022-03-31") == []
        assert len(await store.date_points(PLAN, "a", "2022-03-31")) == 1
        history = [
            {"_id": f"{PLAN}:{t}:tick-{n}", "plan": PLAN, "target": t, "seq": n}
            for t in ("a", "ab")
            for n in range(1, 6)
        ]
        await store.insert_history(history)
        first = await store.target_history(PLAN, "a", 2)
        assert [(d["target"], d["seq"]) for d in first] == [("a", 5), ("a", 4)]
        rest = await store.target_history(PLAN, "a", 10, before_seq=4)
        assert [d["seq"] for d in rest] == [3, 2, 1]

    async def test_a_plan_document_is_written_only_forward(self, store: ScoringStore) -> None:
        assert await store.write_plan(PLAN, {"state": "s1", "clock": "c1"}, 100, 5)
        assert not await store.write_plan(PLAN, {"state": "old"}, 100, 5)  # as new: no
        assert not await store.write_plan(PLAN, {"state": "old"}, 99, 50)  # earlier clock
        assert await store.write_plan(PLAN, {"state": "s2"}, 100, 6)  # more target writes
        assert await store.write_plan(PLAN, {"state": "s3"}, 101, 1)  # later clock
        doc = await store.plan(PLAN)
        assert doc is not None and doc["state"] == "s3" and doc["clock_us"] == 101
        assert [d["_id"] for d in await store.load_plans()] == [PLAN]

    async def test_the_clock_only_moves_forward(self, store: ScoringStore) -> None:
        await store.advance_clock("t2", 2)
        await store.advance_clock("t1", 1)
        await store.write_meta({"last_tick": "t1"})
        meta = await store.load_meta()
        assert meta is not None
        assert (meta["at"], meta["at_us"], meta["last_tick"]) == ("t2", 2, "t1")
        await store.advance_clock("t3", 3)
        meta = await store.load_meta()
        assert meta is not None and meta["at"] == "t3"

    async def test_drop_empties_everything(self, store: ScoringStore) -> None:
        await store.write_targets({f"{PLAN}:a": target_fields("a")})
        await store.advance_clock("t", 1)
        await store.next_epoch(0)
        await store.drop()
        assert await store.is_empty()
