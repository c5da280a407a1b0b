"""Problems raised and followed, as a report knows them at its day (pure).

A report of day D shows the problems as their events known by the end of D make them
(`shared.domain.problems.fold` of every entry up to that instant): those still open or
acknowledged then (the "open problems", oldest first, each with its age and whether it is
overdue) and those resolved or closed within the report's period (`since` to D). An agency's
report keeps the problems the agency raised, was asked to help with (`from_agencies`, groups
expanded), or that are on a subject it is responsible for; the coordinator's keeps them all (it
follows every one).

The entries come from an events file (`planwatch.problem_events`) or from the platform's stored
events (`planwatch.stored_problems`); this module neither reads nor writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from shared.contract.problem_checks import responsible_for_subject
from shared.domain.catalog import Plan
from shared.domain.problems import Problem, ProblemEntry, fold, is_overdue
from shared.domain.timebase import end_of_day

# As scoring's default (SCORING_PROBLEM_ESCALATE_AFTER): open this long, a problem is overdue.
DEFAULT_ESCALATE_AFTER = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class ReportProblems:
    """The problems a report shows, as known at `at` (the end of its day)."""

    at: datetime
    since: date  # first day of the report's period
    escalate_after: timedelta
    open: tuple[Problem, ...]  # open or acknowledged at `at`, oldest raise first
    ended: tuple[Problem, ...]  # resolved or closed within the period, in the order they ended

    @property
    def all(self) -> tuple[Problem, ...]:
        return (*self.open, *self.ended)

    def overdue(self, problem: Problem) -> bool:
        return is_overdue(problem, self.at, self.escalate_after)

    def for_agency(self, plan: Plan, agency: str) -> ReportProblems:
        """The problems that concern `agency` (see the module's doc)."""

        def concerns(problem: Problem) -> bool:
            asked: set[str] = set()
            for party in problem.raised.from_agencies:
                asked |= plan.members(party) if party in plan.groups else {party}
            return (
                agency in (plan.coordinator, problem.raised_by)
                or agency in asked
                or agency in responsible_for_subject(plan, problem.subject)
            )

        return replace(
            self,
            open=tuple(p for p in self.open if concerns(p)),
            ended=tuple(p for p in self.ended if concerns(p)),
        )


def problems_at(
    plan: Plan,
    entries: Mapping[str, Iterable[ProblemEntry]],
    day: date,
    since: date,
    escalate_after: timedelta = DEFAULT_ESCALATE_AFTER,
) -> ReportProblems:
    """Each problem (`entries` by problem id) folded from its entries known at the end of `day`;
    the open ones, and those that ended in [since, day]."""
    at = end_of_day(day)
    start = end_of_day(since - timedelta(days=1))
    opened: list[Problem] = []
    ended: list[Problem] = []
    for problem_id, found in entries.items():
        problem = fold(plan.id, problem_id, [e for e in found if e.at <= at])
        if problem is None:
            continue
        if problem.state.is_open:
            opened.append(problem)
        elif problem.finished_at is not None and start < problem.finished_at <= at:
            ended.append(problem)
    opened.sort(key=lambda p: (p.raised_at, p.problem_id))
    ended.sort(key=lambda p: (p.finished_at or p.updated_at, p.problem_id))
    return ReportProblems(at, since, escalate_after, tuple(opened), tuple(ended))
