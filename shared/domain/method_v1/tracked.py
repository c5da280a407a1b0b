"""What is tracked but never scored: commitments (checklists of deliverables, each done or not,
with evidence) and monitoring indicators (numbers without a target, shown with their trend),
and how many of the plan's tasks are scored, tracked, or have nothing to track. Pure.

A deliverable's and an indicator's series follow the headline rules of the method (winners per
(as_of, reporter), a retraction withdraws its sender's report); a deliverable's state is the last
point of its series: stage `done` (1) or `not-done` (0).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from shared.domain.catalog import Plan
from shared.domain.observation import Observation
from shared.domain.timebase import cst_date

from .series import SeriesPoint, effective_series

TREND_POINTS = 12  # an indicator shows its latest points (a year of monthly figures)


@dataclass(frozen=True, slots=True)
class DeliverableState:
    id: str
    done: bool
    current: SeriesPoint | None  # the latest point (None: never reported)
    evidence: str | None  # the evidence link of the latest point's report
    note: str | None


@dataclass(frozen=True, slots=True)
class CommitmentState:
    id: str
    task: str
    deadline: date | None  # None: no date in the plan
    done: int
    total: int
    late: bool  # its date has passed and a deliverable is not done
    deliverables: tuple[DeliverableState, ...]  # in catalog order

    @property
    def complete(self) -> bool:
        return self.done == self.total


@dataclass(frozen=True, slots=True)
class IndicatorState:
    id: str
    task: str
    current: SeriesPoint | None
    change: float | None  # current minus the previous point's value
    trend: tuple[SeriesPoint, ...]  # the latest TREND_POINTS points, by as_of


@dataclass(frozen=True, slots=True)
class TaskCoverage:
    """How many of the plan's tasks are scored (a target), tracked (a target, a commitment or
    an indicator), and which have nothing to track."""

    total: int
    scored: tuple[str, ...]
    tracked: tuple[str, ...]
    untracked: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Tracked:
    commitments: Mapping[str, CommitmentState]  # by id, sorted
    indicators: Mapping[str, IndicatorState]  # by id, sorted
    tasks: TaskCoverage


def task_coverage(plan: Plan) -> TaskCoverage:
    return TaskCoverage(
        total=len(plan.tasks),
        scored=plan.scored_tasks(),
        tracked=plan.tracked_tasks(),
        untracked=plan.untracked_tasks(),
    )


def _by_event(observations: Iterable[Observation]) -> dict[str, Observation]:
    return {o.event_id: o for o in observations}


def deliverable_state(
    deliverable_id: str, series: Sequence[SeriesPoint], events: Mapping[str, Observation]
) -> DeliverableState:
    current = series[-1] if series else None
    source = events.get(current.event_id) if current is not None else None
    return DeliverableState(
        id=deliverable_id,
        done=current is not None and current.value >= 1,
        current=current,
        evidence=source.evidence if source is not None else None,
        note=source.note if source is not None else None,
    )


def indicator_state(indicator_id: str, task: str, series: Sequence[SeriesPoint]) -> IndicatorState:
    current = series[-1] if series else None
    change = current.value - series[-2].value if current is not None and len(series) > 1 else None
    return IndicatorState(indicator_id, task, current, change, tuple(series[-TREND_POINTS:]))


def tracked_state(
    plan: Plan, observations: Mapping[str, Sequence[Observation]], at: datetime
) -> Tracked:
    """Every commitment and indicator of the plan at `at`, from each subject's headline events
    (`observations` by deliverable or indicator id; absent ids have none)."""
    day = cst_date(at)
    commitments: dict[str, CommitmentState] = {}
    for commitment_id in sorted(plan.commitments):
        commitment = plan.commitments[commitment_id]
        items = []
        for entry in commitment.deliverables:
            events = observations.get(entry.id, ())
            series = effective_series(events, at)
            items.append(deliverable_state(entry.id, series, _by_event(events)))
        done = sum(1 for item in items if item.done)
        deadline = commitment.deadline
        commitments[commitment_id] = CommitmentState(
            id=commitment_id,
            task=commitment.task,
            deadline=deadline,
            done=done,
            total=len(items),
            late=deadline is not None and day > deadline and done < len(items),
            deliverables=tuple(items),
        )
    indicators = {
        indicator_id: indicator_state(
            indicator_id,
            plan.indicators[indicator_id].task,
            effective_series(observations.get(indicator_id, ()), at),
        )
        for indicator_id in sorted(plan.indicators)
    }
    return Tracked(commitments, indicators, task_coverage(plan))
