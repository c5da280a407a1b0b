"""The running platform's problem events, for `planwatch report --from-mongodb`: the problem
events ingest stored exactly once in MongoDB (`reports`, beside the progress reports; told apart
by their `schema`, `shared.accepted_problem`), as the entries of each problem's history.

The same entries scoring folds into its `problems` collection, read from where ingest keeps
them, so a report as known at any past day folds exactly the events known by its end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError
from pymongo import AsyncMongoClient

from shared.accepted_problem import PROBLEM_SCHEMA, AcceptedProblemEvent
from shared.domain.catalog import Plan
from shared.domain.problems import ProblemEntry
from shared.runtime.mongo import Document, make_client
from shared.runtime.settings import MongoSettings

REPORTS_COLLECTION = "reports"
_STORED_ONLY = frozenset({"_id", "signed_event"})  # beside the event's fields


@dataclass
class StoredProblems:
    entries: dict[str, list[ProblemEntry]] = field(default_factory=dict)  # by problem id
    unreadable: list[str] = field(default_factory=list)  # why, per document

    @property
    def count(self) -> int:
        return sum(len(found) for found in self.entries.values())


def entry_of_document(doc: Document) -> tuple[str, ProblemEntry]:
    """(problem id, entry) of a stored problem event; pydantic's ValidationError when the
    document is not one."""
    fields = {k: v for k, v in doc.items() if k not in _STORED_ONLY}
    event = AcceptedProblemEvent.model_validate(fields)
    return event.problem_id, event.entry()


async def read_stored_problems(
    plan: Plan, settings: MongoSettings, collection: str = REPORTS_COLLECTION
) -> StoredProblems:
    """Every stored problem event of `plan` (read-only)."""
    client: AsyncMongoClient[Document] = make_client(settings)
    found = StoredProblems()
    try:
        query = {"plan": plan.id, "schema": PROBLEM_SCHEMA}
        async for doc in client[settings.database][collection].find(query):
            try:
                problem_id, entry = entry_of_document(doc)
            except ValidationError as exc:
                found.unreadable.append(f"stored problem event {doc.get('_id')!r}: {exc}")
                continue
            found.entries.setdefault(problem_id, []).append(entry)
    finally:
        await client.close()
    return found
