"""From an accepted progress event to what scoring sees: an Observation in the target's unit."""

from __future__ import annotations

from shared.contract.events import ProgressEvent, ProgressReported, ProgressRetracted
from shared.contract.reasons import ContractError, Reason
from shared.domain.catalog import Kind, Plan, Subject
from shared.domain.observation import Observation


def _target_of(event: ProgressEvent, plan: Plan) -> Subject:
    if event.data.plan != plan.id:
        raise ContractError(
            Reason.UNKNOWN_PLAN, f"event is for plan {event.data.plan!r}, not {plan.id!r}"
        )
    target = plan.subject(event.data.target)
    if target is None:
        raise ContractError(
            Reason.UNKNOWN_TARGET,
            f"plan {plan.id!r} has no target {event.data.target!r} (nor deliverable or indicator)",
        )
    return target


def report_value(event: ProgressReported, target: Subject) -> float:
    """The reported value in the target's unit: a milestone's stage becomes its index.

    Refuses what cannot be converted (`unit_mismatch`, an unknown stage as
    `value_out_of_range`); range checks of plain values are ingest's.
    """
    data = event.data
    if data.unit is not None and data.unit.value != target.unit:
        raise ContractError(
            Reason.UNIT_MISMATCH,
            f"unit {data.unit.value!r} differs from {target.unit!r} of {target.kind.value} "
            f"target {target.id!r}",
        )
    if target.kind is Kind.MILESTONE:
        if data.stage is None:
            raise ContractError(
                Reason.UNIT_MISMATCH, f"milestone target {target.id!r} takes a stage, not a value"
            )
        index = target.stage_index(data.stage)
        if index is None:
            known = ", ".join(stage.id for stage in target.stages)
            raise ContractError(
                Reason.VALUE_OUT_OF_RANGE,
                f"target {target.id!r} has no stage {data.stage!r} (stages: {known})",
            )
        return float(index)
    if data.value is None:
        raise ContractError(
            Reason.UNIT_MISMATCH,
            f"{target.kind.value} target {target.id!r} takes a value, not a stage",
        )
    return data.value


def to_observation(event: ProgressEvent, plan: Plan) -> Observation:
    """The Observation of a report or retraction; value None for a retraction."""
    target = _target_of(event, plan)
    value = report_value(event, target) if isinstance(event, ProgressReported) else None
    assert value is not None or isinstance(event, ProgressRetracted)
    return Observation(
        event_id=event.envelope.id,
        target=target.id,
        as_of=event.data.as_of,
        reported_at=event.envelope.instant,
        value=value,
        agency=event.envelope.agency or "",
        scope=event.data.scope,
        evidence=event.data.evidence if isinstance(event, ProgressReported) else None,
        note=event.data.note if isinstance(event, ProgressReported) else event.data.reason,
    )
