"""The pure fold of a problem's events: states, history with named refusals, age, overdue, and
the same problem whatever the order and repetition of its entries (shared.domain.problems)."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.problems import (
    Problem,
    ProblemAction,
    ProblemEntry,
    ProblemState,
    Refusal,
    SubjectKind,
    fold,
    is_overdue,
    overdue,
)

T0 = datetime(2022, 4, 6, 1, 30, tzinfo=UTC)
RAISER = "qy.gov-data"
COORDINATOR = "qy.miit"


def entry(
    event_id: str,
    action: ProblemAction,
    hours: float,
    *,
    agency: str = COORDINATOR,
    subject: str = "gov.mobile-services",
    note: str | None = None,
) -> ProblemEntry:
    raised = action is ProblemAction.RAISED
    return ProblemEntry(
        event_id=event_id,
        action=action,
        agency=RAISER if raised and agency == COORDINATOR else agency,
        at=T0 + timedelta(hours=hours),
        subject=subject,
        subject_kind=SubjectKind.TARGET,
        task="2.1.2",
        note=note,
        summary="approvals stalled" if raised else None,
        needs="land-use approval" if raised else None,
        from_agencies=("qy.natural-resources",) if raised else (),
    )


RAISE = entry("e1", ProblemAction.RAISED, 0)
ACK = entry("e2", ProblemAction.ACKNOWLEDGED, 1)
COMMENT = entry("e3", ProblemAction.COMMENTED, 2, note="asked 自然资源局")
RESOLVE = entry("e4", ProblemAction.RESOLVED, 30, note="approved")


def folded(*entries: ProblemEntry) -> Problem:
    problem = fold("p", "x1", entries)
    assert problem is not None
    return problem


def refusals(problem: Problem) -> dict[str, Refusal | None]:
    return {step.entry.event_id: step.refusal for step in problem.history}


def test_a_raised_problem_is_open_and_carries_what_it_is_about() -> None:
    problem = folded(RAISE)
    assert problem.state is ProblemState.OPEN and problem.state.is_open
    assert (problem.subject, problem.task, problem.raised_by) == (
        "gov.mobile-services",
        "2.1.2",
        RAISER,
    )
    assert problem.raised.from_agencies == ("qy.natural-resources",)
    assert problem.finished is None and problem.updated_at == T0


def test_acknowledged_commented_then_resolved() -> None:
    problem = folded(RAISE, ACK, COMMENT, RESOLVE)
    assert problem.state is ProblemState.RESOLVED and not problem.state.is_open
    assert problem.acknowledged_at == ACK.at and problem.comments == 1
    assert problem.finished == RESOLVE and problem.finished_at == RESOLVE.at
    assert [s.state for s in problem.history] == [
        ProblemState.OPEN,
        ProblemState.ACKNOWLEDGED,
        ProblemState.ACKNOWLEDGED,
        ProblemState.RESOLVED,
    ]
    assert set(refusals(problem).values()) == {None}


def test_the_raiser_may_close_it_and_nobody_else() -> None:
    other = entry("e5", ProblemAction.CLOSED, 3, agency="qy.health")
    own = entry("e6", ProblemAction.CLOSED, 4, agency=RAISER)
    problem = folded(RAISE, other, own)
    assert refusals(problem) == {"e1": None, "e5": Refusal.NOT_RAISER, "e6": None}
    assert problem.state is ProblemState.CLOSED and problem.finished == own


@pytest.mark.parametrize(
    ("entries", "refused", "state"),
    [
        ((ACK,), None, None),  # never raised: no problem at all
        ((RAISE, entry("e0", ProblemAction.RAISED, 1)), "e0", ProblemState.OPEN),
        ((RAISE, ACK, entry("e7", ProblemAction.ACKNOWLEDGED, 2)), "e7", ProblemState.ACKNOWLEDGED),
        ((RAISE, RESOLVE, entry("e8", ProblemAction.COMMENTED, 40)), "e8", ProblemState.RESOLVED),
        ((RAISE, RESOLVE, entry("e9", ProblemAction.RESOLVED, 41)), "e9", ProblemState.RESOLVED),
        (
            (RAISE, entry("e10", ProblemAction.ACKNOWLEDGED, 1, subject="3.1")),
            "e10",
            ProblemState.OPEN,
        ),
    ],
    ids=["not-raised", "raised-twice", "acked-twice", "after-end", "resolved-twice", "subject"],
)
def test_invalid_transitions_are_kept_and_named(
    entries: tuple[ProblemEntry, ...], refused: str | None, state: ProblemState | None
) -> None:
    problem = fold("p", "x1", entries)
    if state is None:
        assert problem is None
        return
    assert problem is not None and problem.state is state
    names = refusals(problem)
    expected = {
        "e0": Refusal.ALREADY_RAISED,
        "e7": Refusal.ALREADY_ACKNOWLEDGED,
        "e8": Refusal.FINISHED,
        "e9": Refusal.FINISHED,
        "e10": Refusal.SUBJECT_MISMATCH,
    }
    assert refused is not None and names[refused] is expected[refused]
    assert [k for k, v in names.items() if v is not None] == [refused]


def test_a_step_timed_before_the_raise_is_not_raised_even_when_it_came_later() -> None:
    early = entry("e0", ProblemAction.ACKNOWLEDGED, -1)
    problem = folded(RAISE, early)
    assert refusals(problem) == {"e0": Refusal.NOT_RAISED, "e1": None}
    assert problem.state is ProblemState.OPEN


def test_order_and_repetition_of_the_entries_change_nothing() -> None:
    """Event-sourced and commutative: any order, any repeats, the same problem."""
    entries = [RAISE, ACK, COMMENT, entry("e5", ProblemAction.CLOSED, 3, agency="qy.x"), RESOLVE]
    reference = folded(*entries)
    for order in itertools.permutations(entries):
        assert folded(*order) == reference
    rng = random.Random(7)
    for _ in range(50):
        shuffled = entries * 3
        rng.shuffle(shuffled)
        assert folded(*shuffled) == reference


def test_same_time_entries_are_ordered_by_event_id() -> None:
    a = entry("a", ProblemAction.RESOLVED, 5)
    b = entry("b", ProblemAction.CLOSED, 5, agency=RAISER)
    problem = folded(RAISE, b, a)
    assert problem.finished == a and refusals(problem)["b"] is Refusal.FINISHED


def test_age_runs_from_the_raise_until_now_or_the_end() -> None:
    problem = folded(RAISE)
    assert problem.age(T0 + timedelta(days=3)) == timedelta(days=3)
    assert problem.age(T0 - timedelta(days=1)) == timedelta(0)  # a clock behind the raise
    resolved = folded(RAISE, RESOLVE)
    assert resolved.age(T0 + timedelta(days=100)) == timedelta(hours=30)


def test_overdue_once_open_longer_than_the_configured_age() -> None:
    after = timedelta(days=14)
    problem = folded(RAISE, ACK)
    assert not is_overdue(problem, T0 + after - timedelta(seconds=1), after)
    assert is_overdue(problem, T0 + after, after)
    late_raise = fold("p", "x2", [entry("f1", ProblemAction.RAISED, 24)])
    resolved = fold("p", "x3", [entry("g1", ProblemAction.RAISED, -1), RESOLVE])
    assert late_raise is not None and resolved is not None
    due = overdue([late_raise, resolved, problem], T0 + timedelta(days=20), after)
    assert [p.problem_id for p in due] == ["x1", "x2"]  # oldest first; resolved never
