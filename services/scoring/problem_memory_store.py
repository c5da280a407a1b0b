"""The problems' store in memory: the `ProblemStore` port's fake (tests), with the Mongo
store's semantics (an entry added once per event id, summaries written only over ones derived
from fewer entries, `escalated_at` recorded once) and the same contract suite
(tests/unit/problem_store_contract.py). Documents are copied in and out, as a database would."""

from __future__ import annotations

import copy
from typing import Any

from services.scoring.problem_documents import entry_field
from services.scoring.problem_store import ProblemQuery
from shared.runtime.mongo import Document


class InMemoryProblemStore:
    def __init__(self) -> None:
        self.docs: dict[str, Document] = {}

    @property
    def location(self) -> str:
        return "the in-memory problem store"

    async def drop(self) -> None:
        self.docs.clear()

    async def add_entry(self, key: str, plan: str, problem_id: str, entry: Document) -> Document:
        doc = self.docs.setdefault(key, {"_id": key})
        doc.update(plan=plan, problem_id=problem_id)
        doc.setdefault("history", {})[entry_field(str(entry["event_id"]))] = copy.deepcopy(entry)
        return copy.deepcopy(doc)

    async def write_summary(self, key: str, fields: Document, derived_from: int) -> bool:
        doc = self.docs.get(key)
        if doc is None or doc.get("derived_from", -1) >= derived_from:
            return False
        doc.update(copy.deepcopy(fields), derived_from=derived_from)
        return True

    async def mark_escalated(self, key: str, at: str) -> bool:
        doc = self.docs.get(key)
        if doc is None or "escalated_at" in doc:
            return False
        doc["escalated_at"] = at
        return True

    async def problem(self, key: str) -> Document | None:
        doc = self.docs.get(key)
        return None if doc is None else copy.deepcopy(doc)

    async def problems(self, query: ProblemQuery) -> list[Document]:
        return [copy.deepcopy(doc) for doc in self.docs.values() if _matches(doc, query)]


def _matches(doc: Document, query: ProblemQuery) -> bool:
    if doc.get("state") is None:
        return False
    if query.states is not None and doc["state"] not in query.states:
        return False
    plain: tuple[tuple[str, Any], ...] = (
        ("plan", query.plan),
        ("raised_by", query.raised_by),
        ("subject", query.subject),
        ("task", query.task),
    )
    if any(value is not None and doc.get(name) != value for name, value in plain):
        return False
    return query.asked is None or query.asked in (doc.get("from_agencies") or [])
