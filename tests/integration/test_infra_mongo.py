"""The real FerretDB through PyMongo's async API: round trip and duplicate-key errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.runtime.mongo import next_epoch, replace_upsert

pytestmark = pytest.mark.integration

MongoDoc = dict[str, Any]


def assert_uses_the_id_index(explained: MongoDoc) -> None:
    planner = explained["queryPlanner"]
    if "Plan" in planner:  # FerretDB/SQLite: the rows of EXPLAIN QUERY PLAN
        plan = " ".join(planner["Plan"])
        assert "USING INDEX" in plan, plan
        assert "SCAN" not in plan, plan
    else:  # MongoDB: served by the _id index
        assert "COLLSCAN" not in str(planner["winningPlan"]), planner


async def test_round_trip(mongo_db: AsyncDatabase[MongoDoc]) -> None:
    things = mongo_db["things"]
    await things.insert_many([{"_id": "a", "n": 1}, {"_id": "b", "n": 2}])

    assert await things.find_one({"_id": "a"}) == {"_id": "a", "n": 1}
    updated = await things.find_one_and_update(
        {"_id": "b"}, {"$inc": {"n": 5}}, return_document=ReturnDocument.AFTER
    )
    assert updated == {"_id": "b", "n": 7}
    assert [d async for d in things.find({}, sort=[("_id", ASCENDING)])] == [
        {"_id": "a", "n": 1},
        {"_id": "b", "n": 7},
    ]
    assert await things.count_documents({"n": {"$gt": 1}}) == 1
    assert (await things.delete_one({"_id": "a"})).deleted_count == 1
    assert await things.count_documents({}) == 1


async def test_duplicate_keys_are_rejected(mongo_db: AsyncDatabase[MongoDoc]) -> None:
    events = mongo_db["events"]
    await events.create_index([("source", ASCENDING), ("event_id", ASCENDING)], unique=True)
    await events.insert_one({"_id": "e1", "source": "agency-1", "event_id": "x"})

    with pytest.raises(DuplicateKeyError):  # same _id
        await events.insert_one({"_id": "e1", "source": "agency-2", "event_id": "y"})
    with pytest.raises(DuplicateKeyError):  # same unique (source, event_id), other _id
        await events.insert_one({"_id": "e2", "source": "agency-1", "event_id": "x"})

    # Neither rejected write left anything behind; a distinct key is still accepted.
    await events.insert_one({"_id": "e3", "source": "agency-1", "event_id": "z"})
    ids = sorted([d["_id"] async for d in events.find({})])
    assert ids == ["e1", "e3"]


async def test_lookups_by_id_use_the_id_index(mongo_db: AsyncDatabase[MongoDoc]) -> None:
    """Every store in planwatch reads, updates and deletes by `_id`. Unpatched FerretDB 1.24
    (SQLite) scans the whole table for these; tools/ferretdb/patches makes it use the index."""
    things = mongo_db["indexed"]
    await things.insert_many([{"_id": f"t{n}", "n": n} for n in range(50)])

    explained = await mongo_db.command("explain", {"find": "indexed", "filter": {"_id": "t42"}})
    assert_uses_the_id_index(explained)
    assert await things.find_one({"_id": "t42"}) == {"_id": "t42", "n": 42}


async def test_fenced_lookups_by_id_use_the_id_index(mongo_db: AsyncDatabase[MongoDoc]) -> None:
    """Scoring's fenced target writes filter on {_id, epoch}. Unpatched FerretDB 1.24 (SQLite)
    pushes `_id` down only when it stands alone, and scans the table otherwise;
    tools/ferretdb/patches/0004 pushes it down beside other conditions, which are still applied
    to the document it finds."""
    targets = mongo_db["fenced"]
    await targets.insert_many([{"_id": f"t{n}", "epoch": 3, "version": 0} for n in range(50)])

    explained = await mongo_db.command(
        "explain", {"find": "fenced", "filter": {"_id": "t42", "epoch": 3}}
    )
    assert_uses_the_id_index(explained)

    fenced = {"$set": {"by": "stale"}, "$inc": {"version": 1}}
    assert (await targets.update_one({"_id": "t42", "epoch": 2}, fenced)).matched_count == 0
    assert await targets.count_documents({"_id": "t42", "epoch": 2}) == 0
    assert await targets.find_one_and_update({"_id": "t42", "epoch": 2}, fenced) is None
    assert (await targets.delete_one({"_id": "t42", "epoch": 2})).deleted_count == 0
    current = {"$set": {"by": "owner"}, "$inc": {"version": 1}}
    assert (await targets.update_one({"_id": "t42", "epoch": 3}, current)).modified_count == 1
    assert await targets.find_one({"_id": "t42"}) == {
        "_id": "t42",
        "epoch": 3,
        "version": 1,
        "by": "owner",
    }
    either = {"_id": "t41", "$or": [{"epoch": 1}, {"epoch": 3}]}
    assert [d["_id"] async for d in targets.find(either)] == ["t41"]


async def test_id_ranges_use_the_id_index_and_miss_nothing(
    mongo_db: AsyncDatabase[MongoDoc],
) -> None:
    """Scoring reads one target's points and history by an `_id` range ("plan:target:" to
    "plan:target;"). Patch 0005 pushes the range's common prefix down to the `_id` index; the
    ids of the range must all come back, also those whose characters JSON escapes (an agency's
    event id is any text), and the rest of the filter still applies."""
    points = mongo_db["ranges"]
    inside = [
        "p:t:2022-01-31:e1",
        'p:t:2022-01-31:quote"d',
        "p:t:2022-02-28:back\\slash",
        "p:t:2022-03-31:<&>'",
        "p:t:2022-04-30:\u2028 and 中文",
        "p:t:2022-05-31:~",
        "p:t:",
    ]
    outside = ["p:t", "p:t;", "p:s:2022-01-31:e1", "p:ta:2022-01-31:e1", "q:t:x", "p:t\u00e9"]
    await points.insert_many(
        [{"_id": i, "plan": "p", "in": True} for i in inside]
        + [{"_id": o, "plan": "p", "in": False} for o in outside]
        + [{"_id": n, "plan": "p", "in": False} for n in range(5)]
    )
    one_target = {"_id": {"$gte": "p:t:", "$lt": "p:t;"}, "plan": "p"}
    explained = await mongo_db.command("explain", {"find": "ranges", "filter": one_target})
    assert_uses_the_id_index(explained)
    assert sorted([d["_id"] async for d in points.find(one_target)]) == sorted(inside)
    # Bounds that differ at once, or after characters JSON escapes: pushed down by what they
    # share (or not at all), never missing an id.
    for low, high in [("a", "z"), ('p:t:2022-01-31:quote"', 'p:t:2022-01-31:quote"e'), ("", "~")]:
        expected = sorted(i for i in [*inside, *outside] if low <= i < high)
        query = {"_id": {"$gte": low, "$lt": high}}
        assert sorted([d["_id"] async for d in points.find(query)]) == expected, (low, high)
    one_date = {"_id": {"$gt": "p:t:2022-01-31:", "$lte": "p:t:2022-01-31;"}, "in": True}
    assert sorted([d["_id"] async for d in points.find(one_date)]) == sorted(inside[:2])


async def test_an_update_of_many_statements_answers(mongo_db: AsyncDatabase[MongoDoc]) -> None:
    """Unpatched FerretDB 1.24 keeps every statement's query open until the command ends and
    deadlocks past its 100 pooled connections; tools/ferretdb/patches closes each one."""
    things = mongo_db["many"]
    await things.insert_many([{"_id": f"m{n}", "n": 0} for n in range(300)])
    updates = [{"q": {"_id": f"m{n}"}, "u": {"$set": {"n": n}}} for n in range(300)]

    async def update_all() -> None:
        reply = await mongo_db.command({"update": "many", "updates": updates, "ordered": False})
        assert reply["n"] == 300, reply

    await asyncio.wait_for(asyncio.gather(*(update_all() for _ in range(3))), 60)
    assert await things.count_documents({"n": 299}) == 1


async def test_concurrent_upserts_of_a_new_id_all_succeed(
    mongo_db: AsyncDatabase[MongoDoc],
) -> None:
    """Two ingest replicas seeding one key file upsert the same new `_id` at once; an upsert
    that loses the race to create it gets E11000 (MongoDB retries that itself, FerretDB does
    not): replace_upsert tries it again, so every writer succeeds."""
    keys = mongo_db["keys"]
    writers = [replace_upsert(keys, f"k{n % 5}", {"n": n}) for n in range(40)]
    await asyncio.gather(*writers)
    assert await keys.count_documents({}) == 5


async def test_single_document_writes_are_atomic(mongo_db: AsyncDatabase[MongoDoc]) -> None:
    """Fencing relies on MongoDB's atomic single-document writes: concurrent epoch increments
    each get their own value, and of concurrent compare-and-sets on one version exactly one
    wins. Unpatched FerretDB 1.24 fails both (tools/ferretdb/patches/0003: twelve increments
    left the epoch at 2)."""
    owners = mongo_db["owners"]
    epochs = await asyncio.gather(*(next_epoch(owners, 3) for _ in range(12)))
    assert sorted(epochs) == list(range(1, 13))
    assert await owners.find_one({"_id": "partition:3"}) == {"_id": "partition:3", "epoch": 12}

    targets = mongo_db["targets"]
    await targets.insert_one({"_id": "t", "epoch": 1})
    claims = await asyncio.gather(
        *(
            targets.update_one({"_id": "t", "epoch": 1}, {"$set": {"epoch": 2, "by": n}})
            for n in range(10)
        )
    )
    assert sum(result.modified_count for result in claims) == 1
