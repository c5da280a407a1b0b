"""The alerts of a problem (pure): `problem_raised` while it is open or acknowledged, resolved
once it is resolved or closed; `problem_overdue` (the escalation) once it has been open longer
than the configured age on the service clock, resolved with it.

One copy, for the plan's coordinator (`agency` = the coordinator, `role=coordinator`), with the
labels `problem` and `raised_by`; `target` is the problem's subject (a target, deliverable,
indicator or task id). Ids are deterministic (the same problem state gives the same id: notify
drops a repeat), and `at` is never before the instant the service clock had reached, so that a
resolution is never older than the firing it ends (notify drops a stale update).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Final

from shared.contract.alert_event import (
    AlertAnnotations,
    AlertEvent,
    AlertLabels,
    AlertRole,
    AlertSeverity,
    AlertStatus,
    AlertTransitionKind,
)
from shared.domain.catalog import Plan
from shared.domain.problems import Problem, SubjectKind

PROBLEM_RAISED: Final = "problem_raised"
PROBLEM_OVERDUE: Final = "problem_overdue"

_KIND_ZH: Final = {
    SubjectKind.TARGET: "目标",
    SubjectKind.DELIVERABLE: "任务事项",
    SubjectKind.INDICATOR: "监测指标",
    SubjectKind.TASK: "任务",
}


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def problem_url(base_url: str, plan: str, problem_id: str) -> str:
    return f"{base_url.rstrip('/')}/v1/plans/{plan}/problems/{problem_id}"


def _later(instant: datetime, clock: datetime | None) -> datetime:
    return instant if clock is None or clock <= instant else clock


def _subject_names(problem: Problem, plan: Plan) -> tuple[str, str]:
    """(zh, en) names of the problem's subject."""
    subject = problem.subject
    target = plan.targets.get(subject)
    if target is not None:
        return target.metric_zh, target.name_en
    found = plan.deliverables.get(subject) or plan.tasks.get(subject)
    if found is not None:
        return found.name_zh, found.name_en
    indicator = plan.indicators.get(subject)
    if indicator is not None:
        return indicator.metric_zh, indicator.name_en
    return subject, subject


def _labels(problem: Problem, plan: Plan, alertname: str, severity: AlertSeverity) -> AlertLabels:
    task = plan.tasks.get(problem.task)
    return AlertLabels(
        alertname=alertname,
        rule=alertname,
        plan=plan.id,
        area=task.area if task is not None else "",
        task=problem.task,
        target=problem.subject,
        agency=plan.coordinator,
        severity=severity,
        role=AlertRole.COORDINATOR,
        problem=problem.problem_id,
        raised_by=problem.raised_by,
    )


def _annotations(problem: Problem, plan: Plan, overdue_after: timedelta | None) -> AlertAnnotations:
    name_zh, name_en = _subject_names(problem, plan)
    raised = problem.raised
    asked = "、".join(raised.from_agencies)
    asked_en = ", ".join(raised.from_agencies)
    kind_zh = _KIND_ZH[problem.subject_kind]
    if overdue_after is None:
        head_zh = f"[问题] {raised.agency} 就{kind_zh}「{name_zh}」提出问题：{raised.summary}"
        head_en = f"[problem] {raised.agency} raised a problem on {name_en}: {raised.summary}"
    else:
        days = overdue_after.total_seconds() / 86_400
        head_zh = f"[问题逾期] {raised.agency} 提出的问题已超过 {days:g} 天未解决：{raised.summary}"
        head_en = (
            f"[problem overdue] open for more than {days:g} days, raised by {raised.agency}: "
            f"{raised.summary}"
        )
    return AlertAnnotations(
        summary_zh=head_zh,
        summary_en=head_en,
        description_zh=(
            f"问题 {problem.problem_id}（{problem.state.value}）；需要：{raised.needs}；"
            f"需协调单位：{asked}；提出时间 {raised.at.isoformat()}。"
        ),
        description_en=(
            f"Problem {problem.problem_id} ({problem.state.value}); needs: {raised.needs}; "
            f"from: {asked_en}; raised {raised.at.isoformat()}."
        ),
    )


def _event(
    problem: Problem,
    plan: Plan,
    *,
    alertname: str,
    severity: AlertSeverity,
    starts_at: datetime,
    at: datetime,
    base_url: str,
    overdue_after: timedelta | None = None,
) -> AlertEvent:
    fingerprint = _digest("problem", plan.id, problem.problem_id, alertname, plan.coordinator)
    finished = problem.finished
    resolved = finished is not None
    episode = finished.event_id if finished is not None else problem.raised.event_id
    status = AlertStatus.RESOLVED if resolved else AlertStatus.FIRING
    return AlertEvent(
        id=_digest(fingerprint, status.value, episode),
        fingerprint=fingerprint,
        status=status,
        transition=AlertTransitionKind.RESOLVED if resolved else AlertTransitionKind.FIRING,
        labels=_labels(problem, plan, alertname, severity),
        annotations=_annotations(problem, plan, overdue_after),
        startsAt=starts_at,
        endsAt=at if resolved else None,
        generatorURL=problem_url(base_url, plan.id, problem.problem_id),
        method="v1.1",
        at=at,
    )


def raised_alert(
    problem: Problem, plan: Plan, *, clock: datetime | None, base_url: str
) -> AlertEvent:
    """`problem_raised` as the problem now is: firing while open or acknowledged (at its
    raise), resolved once it is resolved or closed (at that step, or the clock if later)."""
    finished = problem.finished
    at = problem.raised_at if finished is None else _later(finished.at, clock)
    return _event(
        problem,
        plan,
        alertname=PROBLEM_RAISED,
        severity=AlertSeverity.WARNING,
        starts_at=problem.raised_at,
        at=at,
        base_url=base_url,
    )


def overdue_alert(
    problem: Problem, plan: Plan, *, clock: datetime, after: timedelta, base_url: str
) -> AlertEvent:
    """`problem_overdue` (critical): firing since `raised_at + after` while open, at `clock`;
    resolved once the problem is resolved or closed."""
    finished = problem.finished
    at = clock if finished is None else _later(finished.at, clock)
    return _event(
        problem,
        plan,
        alertname=PROBLEM_OVERDUE,
        severity=AlertSeverity.CRITICAL,
        starts_at=problem.raised_at + after,
        at=at,
        base_url=base_url,
        overdue_after=after,
    )
