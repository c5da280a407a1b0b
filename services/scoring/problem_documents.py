"""A problem's stored document and its JSON in the read API (pure conversions).

The document (`<prefix>problems`, `_id` "plan:problem_id") keeps the problem's history as a
set: `history` maps a digest of each event id to that event's entry, so adding an entry is one
`$set` of its own field, idempotent and commutative (event ids may hold `.` or `$`, which a
field name may not: hence the digest). Everything else in the document is derived by
`shared.domain.problems.fold` from that set, and written with the number of entries it was
derived from (`derived_from`): a derivation from more entries replaces one from fewer, never
the reverse, so the stored summary converges on the fold of the whole set whatever the order
in which replicas write.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from shared.domain.catalog import Plan
from shared.domain.problems import (
    Problem,
    ProblemAction,
    ProblemEntry,
    SubjectKind,
    fold,
    is_overdue,
)
from shared.runtime.mongo import Document

JSON = dict[str, Any]
SECONDS_PER_DAY = 86_400


def problem_key(plan: str, problem_id: str) -> str:
    """A problem's `_id`: plan ids hold no `:`."""
    return f"{plan}:{problem_id}"


def entry_field(event_id: str) -> str:
    """The name of an entry's field in `history`: a digest of its event id."""
    return hashlib.sha256(event_id.encode("utf-8")).hexdigest()[:32]


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat()


def entry_to_doc(entry: ProblemEntry) -> Document:
    doc: Document = {
        "event_id": entry.event_id,
        "action": entry.action.value,
        "agency": entry.agency,
        "at": entry.at.isoformat(),
        "subject": entry.subject,
        "subject_kind": entry.subject_kind.value,
        "task": entry.task,
    }
    optional = {
        "note": entry.note,
        "summary": entry.summary,
        "needs": entry.needs,
        "evidence": entry.evidence,
    }
    doc.update((name, value) for name, value in optional.items() if value is not None)
    if entry.from_agencies:
        doc["from_agencies"] = list(entry.from_agencies)
    return doc


def entry_from_doc(doc: Mapping[str, Any]) -> ProblemEntry:
    return ProblemEntry(
        event_id=str(doc["event_id"]),
        action=ProblemAction(doc["action"]),
        agency=str(doc["agency"]),
        at=datetime.fromisoformat(doc["at"]),
        subject=str(doc["subject"]),
        subject_kind=SubjectKind(doc["subject_kind"]),
        task=str(doc["task"]),
        note=doc.get("note"),
        summary=doc.get("summary"),
        needs=doc.get("needs"),
        from_agencies=tuple(doc.get("from_agencies") or ()),
        evidence=doc.get("evidence"),
    )


def entries_of(doc: Mapping[str, Any]) -> list[ProblemEntry]:
    return [entry_from_doc(entry) for entry in (doc.get("history") or {}).values()]


def problem_of(doc: Mapping[str, Any]) -> Problem | None:
    """The fold of a stored document's history (None while no entry raises it)."""
    return fold(str(doc["plan"]), str(doc["problem_id"]), entries_of(doc))


def summary_fields(problem: Problem | None) -> Document:
    """The derived fields written beside the history (what the list queries filter on)."""
    if problem is None:
        return {"state": None}
    raised = problem.raised
    finished = problem.finished
    return {
        "state": problem.state.value,
        "subject": problem.subject,
        "subject_kind": problem.subject_kind.value,
        "task": problem.task,
        "raised_by": raised.agency,
        "raised_at": raised.at.isoformat(),
        "from_agencies": list(raised.from_agencies),
        "acknowledged_at": _iso(problem.acknowledged_at),
        "finished_at": _iso(problem.finished_at),
        "finished_by": finished.agency if finished is not None else None,
        "comments": problem.comments,
        "updated_at": problem.updated_at.isoformat(),
    }


def _days(age: timedelta) -> float:
    return round(age.total_seconds() / SECONDS_PER_DAY, 3)


def problem_json(
    problem: Problem,
    plan: Plan,
    *,
    at: datetime,
    escalate_after: timedelta,
    escalated_at: str | None = None,
    with_history: bool = False,
) -> JSON:
    """A problem in the read API: its state, what it is about, its age at `at`, and (with
    `with_history`) every entry, applied or refused, in order."""
    raised = problem.raised
    finished = problem.finished
    task = plan.tasks.get(problem.task)
    out: JSON = {
        "plan": problem.plan,
        "problem_id": problem.problem_id,
        "state": problem.state.value,
        "subject": problem.subject,
        "subject_kind": problem.subject_kind.value,
        "task": problem.task,
        "area": task.area if task is not None else None,
        "raised_by": raised.agency,
        "raised_at": raised.at.isoformat(),
        "summary": raised.summary,
        "needs": raised.needs,
        "from_agencies": list(raised.from_agencies),
        "note": raised.note,
        "evidence": raised.evidence,
        "acknowledged_at": _iso(problem.acknowledged_at),
        "finished_at": _iso(problem.finished_at),
        "finished_by": finished.agency if finished is not None else None,
        "comments": problem.comments,
        "updated_at": problem.updated_at.isoformat(),
        "at": at.isoformat(),
        "age_days": _days(problem.age(at)),
        "overdue": is_overdue(problem, at, escalate_after),
        "escalated_at": escalated_at,
    }
    if with_history:
        out["history"] = [
            {
                "event_id": step.entry.event_id,
                "action": step.entry.action.value,
                "agency": step.entry.agency,
                "at": step.entry.at.isoformat(),
                "note": step.entry.note,
                "state": step.state.value if step.state is not None else None,
                "refused": step.refusal.value if step.refusal is not None else None,
            }
            for step in problem.history
        ]
    return out
