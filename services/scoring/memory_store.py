"""The scoring state in memory: the `ScoringStore` port's fake, for tests that exercise the
engine's logic in milliseconds. It keeps the Mongo store's semantics (upserts by `_id`, inserts
that skip a re-sent `_id`, writes conditional on the fencing epoch, plan and clock written only
forward) and passes the same contract suite (tests/unit/scoring_store_contract.py).

Documents are copied in and out, as a database would: a caller never shares an object with the
store.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

from shared.runtime.mongo import Document

from .documents import target_id_range
from .store import CLOCK_ID, ROLL_UP_FIELDS


def _copy(doc: Document) -> Document:
    return copy.deepcopy(doc)


class InMemoryScoringStore:
    def __init__(self) -> None:
        self.targets: dict[str, Document] = {}
        self.points: dict[str, Document] = {}
        self.history: dict[str, Document] = {}
        self.plans: dict[str, Document] = {}
        self.meta: dict[str, Document] = {}
        self.owners: dict[str, Document] = {}

    @property
    def location(self) -> str:
        return "the in-memory scoring store"

    def _collections(self) -> tuple[dict[str, Document], ...]:
        return (self.targets, self.points, self.history, self.plans, self.meta, self.owners)

    async def drop(self) -> None:
        for collection in self._collections():
            collection.clear()

    async def is_empty(self) -> bool:
        return not any(self._collections())

    async def load_meta(self) -> Document | None:
        doc = self.meta.get(CLOCK_ID)
        return None if doc is None else _copy(doc)

    async def load_targets(self, keys: Sequence[str] | None = None) -> list[Document]:
        chosen = self.targets.keys() if keys is None else [k for k in keys if k in self.targets]
        return [_copy(self.targets[key]) for key in chosen]

    async def plan_results(self, plan: str) -> list[Document]:
        return [
            {"_id": key, **{f: _copy({f: doc[f]})[f] for f in ROLL_UP_FIELDS if f in doc}}
            for key, doc in self.targets.items()
            if doc.get("plan") == plan
        ]

    async def next_epoch(self, partition: int) -> int:
        doc = self.owners.setdefault(f"partition:{partition}", {"_id": f"partition:{partition}"})
        doc["epoch"] = int(doc.get("epoch", 0)) + 1
        return int(doc["epoch"])

    async def claim_targets(self, epochs: Mapping[str, int]) -> set[str]:
        lost: set[str] = set()
        for key, epoch in sorted(epochs.items()):
            doc = self.targets.setdefault(key, {"_id": key})
            held = doc.get("epoch")
            if held is not None and held >= epoch:
                lost.add(key)
            else:
                doc["epoch"] = epoch
        return lost

    async def load_plans(self) -> list[Document]:
        return [_copy(doc) for doc in self.plans.values()]

    async def target_points(
        self, plan: str, target: str, before: str | None = None
    ) -> list[Document]:
        low, high = target_id_range(plan, target, before)
        return [
            _copy(d)
            for d in self.points.values()
            if low <= d["_id"] < high and d.get("plan") == plan and d.get("target") == target
        ]

    async def date_points(self, plan: str, target: str, as_of: str) -> list[Document]:
        return [d for d in await self.target_points(plan, target) if d.get("as_of") == as_of]

    async def write_targets(
        self, updates: Mapping[str, Document], epochs: Mapping[str, int] | None = None
    ) -> set[str]:
        fenced: set[str] = set()
        for key, fields in sorted(updates.items()):
            doc = self.targets.get(key)
            if epochs is not None and (doc is None or doc.get("epoch") != epochs[key]):
                fenced.add(key)
                continue
            if doc is None:
                doc = self.targets[key] = {"_id": key}
            doc.update(_copy(fields))
            doc["version"] = int(doc.get("version", 0)) + 1
        return fenced

    async def insert_points(self, docs: Sequence[Document]) -> None:
        for doc in docs:
            self.points.setdefault(str(doc["_id"]), _copy(doc))

    async def insert_history(self, docs: Sequence[Document]) -> None:
        for doc in docs:
            self.history.setdefault(str(doc["_id"]), _copy(doc))

    async def write_plan(self, plan: str, fields: Document, clock_us: int, basis: int) -> bool:
        doc = self.plans.get(plan)
        if doc is not None and "clock_us" in doc:
            stored = (int(doc["clock_us"]), int(doc.get("basis", 0)))
            if stored >= (clock_us, basis):
                return False
        self.plans[plan] = {
            **(doc or {"_id": plan}),
            **_copy(fields),
            "clock_us": clock_us,
            "basis": basis,
        }
        return True

    async def advance_clock(self, at: str, at_us: int) -> None:
        doc = self.meta.setdefault(CLOCK_ID, {"_id": CLOCK_ID})
        if "at_us" not in doc or int(doc["at_us"]) < at_us:
            doc.update(at=at, at_us=at_us)

    async def write_meta(self, fields: Document) -> None:
        self.meta.setdefault(CLOCK_ID, {"_id": CLOCK_ID}).update(_copy(fields))

    async def plan(self, plan: str) -> Document | None:
        doc = self.plans.get(plan)
        return None if doc is None else _copy(doc)

    async def target(self, key: str) -> Document | None:
        doc = self.targets.get(key)
        if doc is None:
            return None
        return {k: _copy({k: v})[k] for k, v in doc.items() if k != "outbox"}

    async def target_history(
        self, plan: str, target: str, limit: int, before_seq: int | None = None
    ) -> list[Document]:
        low, high = target_id_range(plan, target)
        records = [
            d
            for d in self.history.values()
            if low <= d["_id"] < high
            and (d.get("plan"), d.get("target")) == (plan, target)
            and (before_seq is None or d.get("seq", 0) < before_seq)
        ]
        records.sort(key=lambda d: d.get("seq", 0), reverse=True)
        return [_copy(d) for d in records[:limit]]
