"""Whether a well-formed progress event fits the catalog: the checks after authentication.

Pure (no I/O, no wall clock: the intake instant is an argument). Ingest runs them on every
authenticated event (`services.ingest.validation`); `planwatch publish --file` runs the very same
checks on each row before anything is sent, so a sheet's errors show up at once, with their row.

The order is ingest's: plan, target, agency, sender (responsibility, headline reporter, `scope`:
`shared.contract.responsibility.check_sender`), time, `as_of`, value. Each refusal
is a `ContractError` naming one `Reason`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from shared.contract.events import Envelope, ProgressEvent, ProgressReported
from shared.contract.observation import report_value
from shared.contract.reasons import ContractError, Reason
from shared.contract.responsibility import check_sender
from shared.domain.catalog import Catalog, Kind, Plan, Subject
from shared.domain.timebase import cst_date

#: How far an event's `time` may lie ahead of the intake instant by default (clocks differ).
DEFAULT_CLOCK_SKEW: Final = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class CatalogFit:
    """What a fitting event is in the catalog's terms."""

    plan: Plan
    target: Subject  # a target, a deliverable of a commitment or an indicator
    agency: str
    # The reported value in the target's unit (a milestone's stage index); None: a retraction.
    value: float | None


def earliest_as_of(plan: Plan) -> date:
    """The plan's issue date less one year (29 February falls back to the 28th)."""
    issued = plan.issued
    try:
        return issued.replace(year=issued.year - 1)
    except ValueError:
        return issued.replace(year=issued.year - 1, day=28)


def check_against_catalog(
    event: ProgressEvent, catalog: Catalog, received_at: datetime, clock_skew: timedelta
) -> CatalogFit:
    """The event's plan, target, agency and value; ContractError when it does not fit.

    `received_at` is the intake instant (aware); `time` may lie ahead of it by `clock_skew`.
    """
    envelope = event.envelope
    data = event.data
    agency, plan = sender_and_plan(envelope, data.plan, catalog)
    target = plan.subject(data.target)
    if target is None:
        raise ContractError(
            Reason.UNKNOWN_TARGET,
            f"plan {plan.id!r} has no target {data.target!r} (nor deliverable or indicator)",
        )
    check_agency_of_plan(plan, agency)
    check_sender(plan, target.id, agency, data.scope)  # not_responsible, not_reporter, scope

    reported_at = envelope.instant
    check_not_ahead(envelope, received_at, clock_skew)
    _check_as_of(data.as_of, reported_at, plan)

    value: float | None = None
    if isinstance(event, ProgressReported):
        value = report_value(event, target)  # unit_mismatch, unknown stage
        _check_value(event.data.value, target)
    return CatalogFit(plan, target, agency, value)


def sender_and_plan(envelope: Envelope, plan_id: str, catalog: Catalog) -> tuple[str, Plan]:
    """The sending agency (from `source`) and the plan `plan_id`; ContractError otherwise."""
    agency = envelope.agency
    if agency is None:  # the envelope ties agency types to agency sources; kept as a guard
        raise ContractError(Reason.MALFORMED, f"source {envelope.source!r} is not an agency")
    plan = catalog.plans.get(plan_id)
    if plan is None:
        raise ContractError(Reason.UNKNOWN_PLAN, f"no plan {plan_id!r}")
    return agency, plan


def check_agency_of_plan(plan: Plan, agency: str) -> None:
    if agency not in plan.agencies:
        raise ContractError(Reason.UNKNOWN_AGENCY, f"plan {plan.id!r} has no agency {agency!r}")


def check_not_ahead(envelope: Envelope, received_at: datetime, clock_skew: timedelta) -> None:
    """The event's `time` lies ahead of the intake instant by `clock_skew` at most."""
    if envelope.instant > received_at + clock_skew:
        raise ContractError(
            Reason.TIME_IN_FUTURE,
            f"time {envelope.time} is ahead of the intake instant {received_at.isoformat()} "
            f"by more than {clock_skew.total_seconds():.0f} s",
        )


def _check_as_of(as_of: date, reported_at: datetime, plan: Plan) -> None:
    reported_day = cst_date(reported_at)
    if as_of > reported_day:
        raise ContractError(
            Reason.AS_OF_OUT_OF_RANGE,
            f"as_of {as_of.isoformat()} is after the report's date {reported_day.isoformat()} "
            "(CST): a value cannot describe a later day",
        )
    earliest = earliest_as_of(plan)
    if as_of < earliest:
        raise ContractError(
            Reason.AS_OF_OUT_OF_RANGE,
            f"as_of {as_of.isoformat()} is before {earliest.isoformat()} "
            f"(one year before plan {plan.id!r} was issued)",
        )


def _check_value(value: float | None, target: Subject) -> None:
    """Range checks of a plain value by the target's kind (milestones are checked by stage)."""
    if value is None or target.kind is Kind.MILESTONE:
        return
    if not math.isfinite(value):  # the contract refuses NaN/Infinity already; kept as a guard
        raise ContractError(Reason.VALUE_OUT_OF_RANGE, f"value {value} is not a finite number")
    where = f"{target.kind.value} target {target.id!r}"
    if target.kind is Kind.SHARE and not 0 <= value <= 100:
        raise ContractError(Reason.VALUE_OUT_OF_RANGE, f"{value} is not a percent in 0..100")
    if target.kind is Kind.COUNT and (value < 0 or not value.is_integer()):
        raise ContractError(
            Reason.VALUE_OUT_OF_RANGE, f"{where} takes a whole number >= 0, not {value}"
        )
    if target.kind is Kind.RANK:
        worst = target.rank_of
        if not value.is_integer() or value < 1 or (worst is not None and value > worst):
            span = f"1..{worst}" if worst is not None else "a whole number >= 1"
            raise ContractError(
                Reason.VALUE_OUT_OF_RANGE, f"{where} takes a rank {span}, not {value}"
            )
