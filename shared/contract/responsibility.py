"""Who may send what (method v1.1): one check for ingest and the offline `planwatch score`.

An agency must be responsible for the target (lead, co-owner, or a member of a co-owner
group: `not_responsible`). A headline report or retraction (no `scope`) must come from one of
the target's reporters (default the lead: `not_reporter`). A scoped one may come from any
responsible agency, for a breakdown unit the plan's catalog defines (`unknown_scope`).
Deliverables and indicators (tracked, never scored) are reported citywide only, by their
reporters.
"""

from __future__ import annotations

from shared.contract.reasons import ContractError, Reason
from shared.domain.catalog import Plan


def check_sender(plan: Plan, target_id: str, agency: str, scope: str | None) -> None:
    """Raise ContractError unless `agency` may send this event for `target_id` (and `scope`)."""
    responsible = plan.responsible_for(target_id)
    if agency not in responsible:
        raise ContractError(
            Reason.NOT_RESPONSIBLE,
            f"{agency!r} is not responsible for {target_id!r} "
            f"(responsible: {', '.join(sorted(responsible))})",
        )
    if scope is not None and plan.is_tracked_only(target_id):
        raise ContractError(
            Reason.UNKNOWN_SCOPE,
            f"{target_id!r} is a deliverable or an indicator: it is reported without a scope",
        )
    if scope is None:
        subject = plan.subject(target_id)
        reporters = subject.headline_reporters if subject is not None else ()
        if agency not in reporters:
            raise ContractError(
                Reason.NOT_REPORTER,
                f"{agency!r} may report {target_id!r} only with a scope (county or park); its "
                f"headline figure comes from {', '.join(reporters)}",
            )
    elif scope not in plan.breakdowns:
        raise ContractError(
            Reason.UNKNOWN_SCOPE,
            f"plan {plan.id!r} has no breakdown unit {scope!r}"
            + (f" (units: {', '.join(sorted(plan.breakdowns))})" if plan.breakdowns else ""),
        )
