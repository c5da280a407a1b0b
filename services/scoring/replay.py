"""Rebuild the scoring state from ingest's stored reports into fresh collections.

Ingest keeps one document per accepted event in `reports` (services/ingest/store.py): `_id` is
the event id, the other fields are the accepted event's (`shared.accepted.AcceptedEvent`, by its
JSON names) plus `signed_event`. The events are applied in `(reported_at, event_id)` order with
the same engine as the live service; since the state is a function of the set of events and the
clock, the result equals the live state at the same clock. Problem events (stored beside the
reports, `shared.accepted_problem`) are not scores' input; given a problem store, replay folds
them into it afterwards (the same desk as the live service: an order-free fold) and escalates
the problems overdue at the final clock (so a rebuilt `escalated_at` is that clock, not the
live one's first instant past the age; the alerts are the same).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from services.scoring.engine import Publisher, ScoringEngine, UnknownTargetEventError
from services.scoring.problem_desk import DEFAULT_ESCALATE_AFTER, ProblemDesk
from services.scoring.problem_store import ProblemQuery, ProblemStore
from services.scoring.store import ScoringStore
from shared.accepted import AcceptedEvent
from shared.accepted_problem import AcceptedProblemEvent, is_problem_document
from shared.domain.catalog import Catalog
from shared.runtime.mongo import Document

REPORT_DOC_EXTRA = frozenset({"_id", "signed_event"})


class ReplayError(RuntimeError):
    """Replay refused: the destination is not fresh, or a stored report cannot be read."""


def event_from_report(doc: Mapping[str, Any]) -> AcceptedEvent:
    """An accepted event from ingest's stored document (`_id` is `agency|event id`, the event
    id a field of its own; a document from before that change has the bare id as `_id`)."""
    fields = {k: v for k, v in doc.items() if k not in REPORT_DOC_EXTRA}
    fields.setdefault("event_id", doc["_id"])
    try:
        return AcceptedEvent.model_validate(fields)
    except ValueError as exc:
        raise ReplayError(
            f"stored report {doc.get('_id')!r} is not an accepted event: {exc}"
        ) from exc


def problem_event_from_report(doc: Mapping[str, Any]) -> AcceptedProblemEvent:
    fields = {k: v for k, v in doc.items() if k not in REPORT_DOC_EXTRA}
    try:
        return AcceptedProblemEvent.model_validate(fields)
    except ValueError as exc:
        raise ReplayError(
            f"stored problem event {doc.get('_id')!r} is not an accepted problem event: {exc}"
        ) from exc


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    events: int
    skipped: int  # reports for plans or targets the catalog does not have
    clock: datetime | None
    messages: int
    problem_events: int = 0  # folded into the problem store (0 without one)


async def replay(
    catalog: Catalog,
    reports: AsyncCollection[Document],
    store: ScoringStore,
    publish: Publisher,
    *,
    at: datetime | None = None,
    batch_size: int = 500,
    base_url: str = "http://127.0.0.1:8002",
    problems: ProblemStore | None = None,
    escalate_after: timedelta = DEFAULT_ESCALATE_AFTER,
) -> ReplayOutcome:
    """Apply every stored report (then a tick at `at`, if later) to an empty `store`, and
    every stored problem event to an empty `problems` store when one is given."""
    if not await store.is_empty():
        raise ReplayError(
            f"{store.location} are not "
            "empty: replay builds fresh state (drop them first, or pick another prefix)"
        )
    if problems is not None and await problems.problems(ProblemQuery()):
        raise ReplayError(
            f"{problems.location} is not empty: replay builds fresh state (drop it first, or "
            "pick another prefix)"
        )
    sent = 0

    async def counting(messages: Any) -> None:
        nonlocal sent
        sent += len(messages)
        await publish(messages)

    engine = ScoringEngine(catalog, store, counting, base_url=base_url)
    events: list[AcceptedEvent] = []
    problem_events: list[AcceptedProblemEvent] = []
    skipped = 0
    async for doc in reports.find({}):
        if is_problem_document(doc):
            if problems is not None:
                problem_events.append(problem_event_from_report(doc))
            continue
        event = event_from_report(doc)
        try:
            engine.check(event)
        except UnknownTargetEventError:
            skipped += 1
            continue
        events.append(event)
    events.sort(key=lambda e: (e.reported_at, e.event_id))
    for i in range(0, len(events), batch_size):
        await engine.apply(events[i : i + batch_size])
    if at is not None and (engine.clock is None or at > engine.clock):
        await engine.apply([], [at])
    if problems is not None and problem_events:
        desk = ProblemDesk(
            catalog, problems, counting, base_url=base_url, escalate_after=escalate_after
        )
        await desk.apply(problem_events, engine.clock)
        if engine.clock is not None:
            await desk.escalate(engine.clock)
    return ReplayOutcome(len(events), skipped, engine.clock, sent, len(problem_events))
