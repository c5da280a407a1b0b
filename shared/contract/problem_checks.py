"""Whether a well-formed problem event fits the catalog and its sender may send it: the checks
after authentication (pure: no I/O, no wall clock; the intake instant is an argument).

The order is ingest's for reports: plan, subject, agency, then who may send it, then time.

- The subject is a target, deliverable or indicator of the plan, or one of its tasks
  (`unknown_target` otherwise); the catalog's ids are unique across the four.
- Raised: by an agency responsible for the subject (the lead, a co-owner or a member of a
  co-owning group; for a task, a member of a responsible party: `not_responsible`), naming
  agencies or groups of the catalog in `from_agencies` (`unknown_agency`).
- Acknowledged, commented on, resolved: by the plan's coordinator only (`not_coordinator`).
- Closed: by an agency responsible for the subject (`not_responsible`). That it is the very
  agency that raised the problem needs the problem's history: scoring's fold checks it
  (`shared.domain.problems`, `not_raiser`), as every other lifecycle rule (closing an unknown
  problem, resolving a closed one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.contract.catalog_checks import (
    check_agency_of_plan,
    check_not_ahead,
    sender_and_plan,
)
from shared.contract.events import (
    ProblemAcknowledged,
    ProblemClosed,
    ProblemCommented,
    ProblemEvent,
    ProblemRaised,
    ProblemResolved,
)
from shared.contract.reasons import ContractError, Reason
from shared.domain.catalog import Catalog, Plan
from shared.domain.problems import SubjectKind


@dataclass(frozen=True, slots=True)
class ProblemFit:
    """What a fitting problem event is in the catalog's terms."""

    plan: Plan
    subject_kind: SubjectKind
    task: str  # the subject's task (the subject itself for a task)
    agency: str


def problem_subject(plan: Plan, subject_id: str) -> tuple[SubjectKind, str] | None:
    """(kind, task) of a subject id, or None when the plan has no such target or task."""
    if subject_id in plan.targets:
        return SubjectKind.TARGET, plan.targets[subject_id].task
    if subject_id in plan.deliverables:
        return SubjectKind.DELIVERABLE, plan.deliverables[subject_id].task
    if subject_id in plan.indicators:
        return SubjectKind.INDICATOR, plan.indicators[subject_id].task
    if subject_id in plan.tasks:
        return SubjectKind.TASK, subject_id
    return None


def responsible_for_subject(plan: Plan, subject_id: str) -> frozenset[str]:
    """The agencies responsible for a target, deliverable, indicator or task (groups
    expanded); empty for an unknown id."""
    if plan.subject(subject_id) is not None:
        return plan.responsible_for(subject_id)
    task = plan.tasks.get(subject_id)
    if task is None:
        return frozenset()
    agencies: set[str] = set()
    for party in task.responsible:
        agencies |= plan.members(party)
    return frozenset(agencies)


def check_problem_against_catalog(
    event: ProblemEvent, catalog: Catalog, received_at: datetime, clock_skew: timedelta
) -> ProblemFit:
    """The event's plan, subject and sender; ContractError when it does not fit."""
    envelope = event.envelope
    agency, plan = sender_and_plan(envelope, event.data.plan, catalog)
    subject_id = envelope.subject or ""
    found = problem_subject(plan, subject_id)
    if found is None:
        raise ContractError(
            Reason.UNKNOWN_TARGET,
            f"plan {plan.id!r} has no target, deliverable, indicator or task {subject_id!r}",
        )
    check_agency_of_plan(plan, agency)
    _check_sender(event, plan, subject_id, agency)
    check_not_ahead(envelope, received_at, clock_skew)
    kind, task = found
    return ProblemFit(plan, kind, task, agency)


def _check_sender(event: ProblemEvent, plan: Plan, subject_id: str, agency: str) -> None:
    if isinstance(event, ProblemAcknowledged | ProblemCommented | ProblemResolved):
        if agency != plan.coordinator:
            raise ContractError(
                Reason.NOT_COORDINATOR,
                f"only the plan's coordinator ({plan.coordinator}) may "
                f"{_verb(event)} a problem, not {agency!r}",
            )
        return
    responsible = responsible_for_subject(plan, subject_id)
    if agency not in responsible:
        raise ContractError(
            Reason.NOT_RESPONSIBLE,
            f"{agency!r} is not responsible for {subject_id!r} "
            f"(responsible: {', '.join(sorted(responsible))})",
        )
    if isinstance(event, ProblemRaised):
        unknown = [
            party
            for party in event.data.from_agencies
            if party not in plan.agencies and party not in plan.groups
        ]
        if unknown:
            raise ContractError(
                Reason.UNKNOWN_AGENCY,
                f"from_agencies names {', '.join(unknown)}: not an agency or group of plan "
                f"{plan.id!r}",
            )
    else:
        assert isinstance(event, ProblemClosed)


def _verb(event: ProblemEvent) -> str:
    if isinstance(event, ProblemAcknowledged):
        return "acknowledge"
    if isinstance(event, ProblemCommented):
        return "comment on"
    return "resolve"
