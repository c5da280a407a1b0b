"""The six alert rules of scoring.md, fingerprints, and the transitions between alert states.

An alert's state at c is a function of the target's result at c alone (the `regression` walk
included), never of the path of earlier evaluations: so the live service, whatever order events
arrive in, and an offline replay agree on what is firing at c. Where scoring.md lets a rule "stay
as it was" (neither its firing nor its resolving condition holds), the state is fixed as follows:

- `status_degraded` while MISSED: judged on the pace status (the status without rule 3), so an
  alert firing before the deadline keeps firing, with OFF_TRACK now critical (days_left <= 180);
  under NO_DATA or INSUFFICIENT_DATA it is not firing (only a retraction or correction can lead
  there, and then the evidence of degradation is gone).
- `target_missed` fires exactly while the status is MISSED.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from .evaluate import TargetResult
from .status import Status

DEADLINE_NEAR_DAYS = 90
OFF_TRACK_CRITICAL_DAYS = 180


class AlertRule(StrEnum):
    STATUS_DEGRADED = "status_degraded"
    TARGET_MISSED = "target_missed"
    DEADLINE_NEAR = "deadline_near"
    REPORT_OVERDUE = "report_overdue"
    REGRESSION = "regression"
    TARGET_ACHIEVED = "target_achieved"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class TransitionKind(StrEnum):
    FIRING = "firing"
    SEVERITY_CHANGED = "severity_changed"
    RESOLVED = "resolved"


def _digest(*parts: str) -> str:
    """sha256 over the parts joined by U+001F (never inside an id), first 16 bytes as hex."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def fingerprint(plan: str, target: str, rule: AlertRule) -> str:
    """Stable identity of one alert: sha256 of plan, target and rule, first 16 bytes in hex."""
    return _digest(plan, target, rule.value)


def _status_degraded(status: Status, days_left: int | None) -> Severity | None:
    if status is Status.AT_RISK:
        return Severity.WARNING
    if status is Status.OFF_TRACK:
        near = days_left is not None and days_left <= OFF_TRACK_CRITICAL_DAYS
        return Severity.CRITICAL if near else Severity.WARNING
    if status is Status.DETERIORATING:
        return Severity.CRITICAL
    return None


def alert_states(result: TargetResult) -> dict[AlertRule, Severity]:
    """The rules firing for a target at c, with their severities (rules in table order)."""
    firing: dict[AlertRule, Severity] = {}
    status = result.status
    degraded = _status_degraded(
        result.pace_status if status is Status.MISSED else status, result.days_left
    )
    if degraded is not None:
        firing[AlertRule.STATUS_DEGRADED] = degraded
    if status is Status.MISSED:
        firing[AlertRule.TARGET_MISSED] = Severity.CRITICAL
    days_left = result.days_left  # None: no date in the plan, so no deadline draws near
    if (
        days_left is not None
        and 0 < days_left <= DEADLINE_NEAR_DAYS
        and status
        not in (
            Status.ACHIEVED,
            Status.ON_TRACK,
        )
    ):
        firing[AlertRule.DEADLINE_NEAR] = Severity.CRITICAL
    if result.staleness.stale:
        firing[AlertRule.REPORT_OVERDUE] = (
            Severity.CRITICAL if result.staleness.critical else Severity.WARNING
        )
    if result.regression_at is not None:
        firing[AlertRule.REGRESSION] = Severity.WARNING
    if status is Status.ACHIEVED:
        firing[AlertRule.TARGET_ACHIEVED] = Severity.INFO
    return firing


@dataclass(frozen=True, slots=True)
class FiringAlert:
    fingerprint: str
    plan: str
    target: str
    rule: AlertRule
    severity: Severity


def firing_alerts(result: TargetResult) -> tuple[FiringAlert, ...]:
    return tuple(
        FiringAlert(
            fingerprint(result.plan, result.target, rule),
            result.plan,
            result.target,
            rule,
            severity,
        )
        for rule, severity in alert_states(result).items()
    )


@dataclass(frozen=True, slots=True)
class AlertTransition:
    id: str  # sha256(fingerprint, kind, severity, trigger), first 16 bytes hex
    fingerprint: str
    plan: str
    target: str
    rule: AlertRule
    kind: TransitionKind
    severity: Severity  # the new severity; for a resolution, the severity that was firing
    previous_severity: Severity | None
    trigger: str


def transition_id(fingerprint_: str, kind: TransitionKind, severity: Severity, trigger: str) -> str:
    return _digest(fingerprint_, kind.value, severity.value, trigger)


def alert_transitions(
    plan: str,
    target: str,
    previous: Mapping[AlertRule, Severity],
    current: Mapping[AlertRule, Severity],
    trigger: str,
) -> tuple[AlertTransition, ...]:
    """What changed between two alert states of a target: firing, severity_changed, resolved.

    `trigger` names what caused the re-evaluation: the id of the consumed event, or for a clock
    tick `tick:` and the ISO instant of c. It enters the transition id, so a replay of the same
    log gives the same ids and a consumer can drop a transition it has already seen.
    """
    transitions: list[AlertTransition] = []
    for rule in AlertRule:
        before, after = previous.get(rule), current.get(rule)
        if before == after:
            continue
        if after is None:
            assert before is not None
            kind, severity = TransitionKind.RESOLVED, before
        else:
            kind = TransitionKind.FIRING if before is None else TransitionKind.SEVERITY_CHANGED
            severity = after
        fp = fingerprint(plan, target, rule)
        transitions.append(
            AlertTransition(
                id=transition_id(fp, kind, severity, trigger),
                fingerprint=fp,
                plan=plan,
                target=target,
                rule=rule,
                kind=kind,
                severity=severity,
                previous_severity=before,
                trigger=trigger,
            )
        )
    return tuple(transitions)
