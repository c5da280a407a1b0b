"""Problems raised and followed (pure): a problem's events folded into its state, history and
age; which open problems are overdue.

A problem is raised by an agency on a target, deliverable, indicator or task; the plan's
coordinator acknowledges it, comments on it and resolves it; the agency that raised it may
close it. States:

    open --acknowledged--> acknowledged
    open | acknowledged --resolved--> resolved     (final)
    open | acknowledged --closed--> closed         (final)
    comments leave the state as it is

Event-sourced and commutative: a problem is the set of its entries (one per event id), and
everything else is `fold`ed from that set sorted by (time, event id). Adding an entry twice
changes nothing, and the entries may be added in any order, by any number of writers: whoever
folds the same set gets the same problem. An entry that does not fit where it falls in that
order (a step on a problem not raised yet, a second raise, a step after the end, a closure by
another agency than the raiser's, a step naming another subject) is kept in the history with its
refusal named, and changes nothing.

No I/O and no clock: instants are arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# A problem's history is bounded: past this many entries its further events are left out
# (logged with their event id), so no sender can grow one document without limit.
MAX_ENTRIES = 200


def has_room(entry_count: int) -> bool:
    """Whether a history of `entry_count` entries may take one more."""
    return entry_count < MAX_ENTRIES


class ProblemAction(StrEnum):
    """What one problem event does."""

    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    COMMENTED = "commented"
    RESOLVED = "resolved"
    CLOSED = "closed"


class SubjectKind(StrEnum):
    """What a problem is on: a scored target, a deliverable, an indicator, or a whole task."""

    TARGET = "target"
    DELIVERABLE = "deliverable"
    INDICATOR = "indicator"
    TASK = "task"


class ProblemState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        """Open or acknowledged: not yet resolved or closed."""
        return self in (ProblemState.OPEN, ProblemState.ACKNOWLEDGED)


class Refusal(StrEnum):
    """Why an entry of the history changed nothing."""

    NOT_RAISED = "not_raised"  # a step before the problem was raised (or it never was)
    ALREADY_RAISED = "already_raised"  # a second raise of the same problem id
    ALREADY_ACKNOWLEDGED = "already_acknowledged"
    FINISHED = "finished"  # a step after the problem was resolved or closed
    NOT_RAISER = "not_raiser"  # closed by another agency than the one that raised it
    SUBJECT_MISMATCH = "subject_mismatch"  # a step naming another subject than the raise's


@dataclass(frozen=True, slots=True)
class ProblemEntry:
    """One event of a problem, as stored in its history."""

    event_id: str
    action: ProblemAction
    agency: str
    at: datetime  # the event's time (aware)
    subject: str
    subject_kind: SubjectKind
    task: str
    note: str | None = None
    # raised only
    summary: str | None = None
    needs: str | None = None
    from_agencies: tuple[str, ...] = ()
    evidence: str | None = None

    @property
    def order(self) -> tuple[datetime, str]:
        return (self.at, self.event_id)


@dataclass(frozen=True, slots=True)
class Step:
    """An entry where it falls in the history: applied (refusal None) or refused."""

    entry: ProblemEntry
    state: ProblemState | None  # the problem's state after it (None: not raised yet)
    refusal: Refusal | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """A raised problem as its history makes it."""

    plan: str
    problem_id: str
    state: ProblemState
    raised: ProblemEntry
    history: tuple[Step, ...]
    updated_at: datetime  # the last applied entry's time
    acknowledged_at: datetime | None = None
    finished: ProblemEntry | None = None  # the resolution or closure
    comments: int = 0

    @property
    def subject(self) -> str:
        return self.raised.subject

    @property
    def subject_kind(self) -> SubjectKind:
        return self.raised.subject_kind

    @property
    def task(self) -> str:
        return self.raised.task

    @property
    def raised_by(self) -> str:
        return self.raised.agency

    @property
    def raised_at(self) -> datetime:
        return self.raised.at

    @property
    def finished_at(self) -> datetime | None:
        return self.finished.at if self.finished is not None else None

    def age(self, at: datetime) -> timedelta:
        """How long it has been (or was) open at `at`: from its raise to `at`, or to its
        resolution or closure when that came first; never negative."""
        end = at
        if self.finished is not None and self.finished.at < end:
            end = self.finished.at
        return max(end - self.raised.at, timedelta(0))


def ordered(entries: Iterable[ProblemEntry]) -> list[ProblemEntry]:
    """The entries by (time, event id), each event id once (the first given wins a repeat)."""
    unique: dict[str, ProblemEntry] = {}
    for entry in entries:
        unique.setdefault(entry.event_id, entry)
    return sorted(unique.values(), key=lambda e: e.order)


def fold(plan: str, problem_id: str, entries: Iterable[ProblemEntry]) -> Problem | None:
    """The problem its entries make, or None while none of them raises it. Every entry is in
    the history, applied or refused."""
    history: list[Step] = []
    raised: ProblemEntry | None = None
    state: ProblemState | None = None
    acknowledged_at: datetime | None = None
    finished: ProblemEntry | None = None
    comments = 0
    updated_at: datetime | None = None
    for entry in ordered(entries):
        refusal = _refusal(entry, raised, state)
        if refusal is None:
            updated_at = entry.at
            if entry.action is ProblemAction.RAISED:
                raised, state = entry, ProblemState.OPEN
            elif entry.action is ProblemAction.ACKNOWLEDGED:
                state, acknowledged_at = ProblemState.ACKNOWLEDGED, entry.at
            elif entry.action is ProblemAction.COMMENTED:
                comments += 1
            elif entry.action is ProblemAction.RESOLVED:
                state, finished = ProblemState.RESOLVED, entry
            else:
                state, finished = ProblemState.CLOSED, entry
        history.append(Step(entry, state, refusal))
    if raised is None or state is None or updated_at is None:
        return None
    return Problem(
        plan=plan,
        problem_id=problem_id,
        state=state,
        raised=raised,
        history=tuple(history),
        acknowledged_at=acknowledged_at,
        finished=finished,
        comments=comments,
        updated_at=updated_at,
    )


def _refusal(
    entry: ProblemEntry, raised: ProblemEntry | None, state: ProblemState | None
) -> Refusal | None:
    """Why `entry` cannot apply to the problem as it is, or None when it can."""
    if entry.action is ProblemAction.RAISED:
        return None if raised is None else Refusal.ALREADY_RAISED
    if raised is None or state is None:
        return Refusal.NOT_RAISED
    if entry.subject != raised.subject:
        return Refusal.SUBJECT_MISMATCH
    if not state.is_open:
        return Refusal.FINISHED
    if entry.action is ProblemAction.ACKNOWLEDGED and state is ProblemState.ACKNOWLEDGED:
        return Refusal.ALREADY_ACKNOWLEDGED
    if entry.action is ProblemAction.CLOSED and entry.agency != raised.agency:
        return Refusal.NOT_RAISER
    return None


def is_overdue(problem: Problem, at: datetime, after: timedelta) -> bool:
    """Still open (or acknowledged) at `at`, and raised at least `after` before it."""
    return problem.state.is_open and problem.age(at) >= after


def overdue(problems: Sequence[Problem], at: datetime, after: timedelta) -> list[Problem]:
    """The problems `is_overdue` at `at`, oldest first (then by plan and id)."""
    due = [p for p in problems if is_overdue(p, at, after)]
    return sorted(due, key=lambda p: (p.raised_at, p.plan, p.problem_id))
