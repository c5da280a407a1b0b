"""The running platform's reports, for the offline commands: the events ingest stored exactly
once in MongoDB (`reports`, services/ingest/store.py), read back as observations of one plan.

`planwatch report --from-mongodb` scores them with the same `score_plan` as an events file, so
a report of the live platform, as known at any past day, equals `planwatch score` run on the
same events (the events a day's report knows are those reported by its end).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pymongo import AsyncMongoClient

from services.scoring.replay import ReplayError, event_from_report
from shared.accepted_problem import is_problem_document
from shared.domain.catalog import Plan
from shared.domain.observation import Observation
from shared.runtime.mongo import Document, make_client
from shared.runtime.settings import MongoSettings

REPORTS_COLLECTION = "reports"


@dataclass
class StoredReports:
    observations: list[Observation] = field(default_factory=list)
    unknown: int = 0  # stored reports on subjects the catalog's plan no longer has
    unreadable: list[str] = field(default_factory=list)  # why, per document


async def read_stored_reports(
    plan: Plan, settings: MongoSettings, collection: str = REPORTS_COLLECTION
) -> StoredReports:
    """Every stored report of `plan` (read-only: the key administrator's or a reader's login
    is enough)."""
    client: AsyncMongoClient[Document] = make_client(settings)
    found = StoredReports()
    try:
        async for doc in client[settings.database][collection].find({"plan": plan.id}):
            if is_problem_document(doc):  # problems raised and followed: not reports
                continue
            try:
                event = event_from_report(doc)
            except ReplayError as exc:
                found.unreadable.append(str(exc))
                continue
            if plan.subject(event.target) is None:  # a target, deliverable or indicator
                found.unknown += 1
                continue
            found.observations.append(event.to_observation())
    finally:
        await client.close()
    return found
