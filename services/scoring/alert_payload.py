"""The alert event of one transition, with Chinese and English annotations. Pure.

Figures in the annotations come from the target's result at the evaluation instant (status,
progress and expected shares, pace ratio, current value, days left, days since the last report).

A transition goes out as one alert per responsible agency (`alert_events`): the lead's copy
(`role=lead`, the method's fingerprint and id) and one per co-owner (`role=co`, fingerprint and
id derived per agency: `shared.contract.alert_event.copy_fingerprint`/`copy_id`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from shared.contract.alert_event import (
    AlertAnnotations,
    AlertEvent,
    AlertLabels,
    AlertRole,
    AlertSeverity,
    AlertStatus,
    AlertTransitionKind,
    copy_fingerprint,
    copy_id,
)
from shared.domain.catalog import Plan, Target
from shared.domain.method_v1 import AlertRule, AlertTransition, Status, TargetResult

STATUS_ZH: Mapping[Status, str] = {
    Status.NO_DATA: "无数据",
    Status.ACHIEVED: "已达成",
    Status.MISSED: "未达成（已逾期）",
    Status.DETERIORATING: "倒退",
    Status.INSUFFICIENT_DATA: "数据不足",
    Status.ON_TRACK: "进度正常",
    Status.AT_RISK: "有风险",
    Status.OFF_TRACK: "进度滞后",
}

RULE_TEXT: Mapping[AlertRule, tuple[str, str]] = {
    AlertRule.STATUS_DEGRADED: ("目标进度异常", "target progress degraded"),
    AlertRule.TARGET_MISSED: ("目标逾期未达成", "target missed its deadline"),
    AlertRule.DEADLINE_NEAR: ("临近截止日期且未达预期进度", "deadline near and not on track"),
    AlertRule.REPORT_OVERDUE: ("进度报送逾期", "progress report overdue"),
    AlertRule.REGRESSION: ("最新数据较上期倒退", "latest value moved away from the target"),
    AlertRule.TARGET_ACHIEVED: ("目标已达成", "target achieved"),
}

SEVERITY_ZH: Mapping[str, str] = {"info": "提示", "warning": "警告", "critical": "严重"}
TRANSITION_ZH: Mapping[AlertTransitionKind, str] = {
    AlertTransitionKind.FIRING: "触发",
    AlertTransitionKind.SEVERITY_CHANGED: "级别变更",
    AlertTransitionKind.RESOLVED: "已解除",
}


def rfc3339(instant: datetime) -> str:
    return instant.isoformat()


def _deadline(target: Target, lang: str) -> str:
    if target.deadline is not None:
        return target.deadline.isoformat()
    return "方案未定时限" if lang == "zh" else "no date in the plan"


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{100 * min(max(share, 0.0), 1.0):.1f}%"


def _number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _int(value: int | None) -> str:
    return "—" if value is None else str(value)


def describe(result: TargetResult, plan: Plan) -> tuple[str, str]:
    """(zh, en) sentences with the target's figures at the evaluation instant."""
    target = plan.targets[result.target]
    current = result.current
    value_zh = (
        f"最新值 {current.value:g}（截至 {current.as_of.isoformat()}）" if current else "尚无数据"
    )
    value_en = (
        f"latest {current.value:g} as of {current.as_of.isoformat()}" if current else "no data"
    )
    goal = f"{target.comparator.value} {target.target:g}"
    zh = (
        f"状态：{STATUS_ZH[result.status]}；{value_zh}；目标 {goal}，截止 "
        f"{_deadline(target, 'zh')}；完成进度 {_percent(result.progress_share)}，"
        f"应达进度 {_percent(result.expected_share)}，进度比 {_number(result.pace_ratio)}；"
        f"剩余 {_int(result.days_left)} 天；距上次报送 {_int(result.days_since_report)} 天。"
    )
    en = (
        f"Status {result.status.value}; {value_en}; target {goal} by "
        f"{_deadline(target, 'en')}; progress {_percent(result.progress_share)} of the "
        f"distance, expected {_percent(result.expected_share)}, pace ratio "
        f"{_number(result.pace_ratio)}; {_int(result.days_left)} days left; "
        f"{_int(result.days_since_report)} days since the last report."
    )
    return zh, en


def generator_url(base_url: str, plan: str, target: str) -> str:
    return f"{base_url.rstrip('/')}/v1/plans/{plan}/targets/{target}"


def responsible(plan: Plan, target_id: str) -> list[tuple[str, AlertRole]]:
    """Who is told of a target's alerts: its lead, then its co-owners (group members
    expanded) in id order."""
    lead = plan.targets[target_id].lead
    co = sorted(plan.co_owners(target_id) - {lead})
    return [(lead, AlertRole.LEAD), *((agency, AlertRole.CO) for agency in co)]


def alert_events(
    transition: AlertTransition,
    result: TargetResult,
    plan: Plan,
    *,
    starts_at: datetime,
    base_url: str,
) -> list[AlertEvent]:
    """One event per responsible agency (`responsible`), the lead's first."""
    return [
        alert_event(
            transition,
            result,
            plan,
            starts_at=starts_at,
            base_url=base_url,
            agency=agency,
            role=role,
        )
        for agency, role in responsible(plan, transition.target)
    ]


def alert_event(
    transition: AlertTransition,
    result: TargetResult,
    plan: Plan,
    *,
    starts_at: datetime,
    base_url: str,
    agency: str | None = None,
    role: AlertRole = AlertRole.LEAD,
) -> AlertEvent:
    """The event of one transition for one agency (default: the lead's copy). `starts_at` is
    when the alert started firing (for a new alert, the evaluation instant); a resolution ends
    at the evaluation instant."""
    target = plan.targets[transition.target]
    addressed = target.lead if agency is None else agency
    area = plan.tasks[target.task].area
    kind = AlertTransitionKind(transition.kind.value)
    resolved = kind is AlertTransitionKind.RESOLVED
    rule_zh, rule_en = RULE_TEXT[transition.rule]
    severity = transition.severity.value
    what_zh, what_en = describe(result, plan)
    prefix_zh = f"[{SEVERITY_ZH[severity]}·{TRANSITION_ZH[kind]}] "
    prefix_en = f"[{severity} {kind.value.replace('_', ' ')}] "
    if kind is AlertTransitionKind.SEVERITY_CHANGED and transition.previous_severity is not None:
        prev = transition.previous_severity.value
        what_zh = f"级别由{SEVERITY_ZH[prev]}变为{SEVERITY_ZH[severity]}。{what_zh}"
        what_en = f"Severity changed from {prev} to {severity}. {what_en}"
    return AlertEvent(
        id=copy_id(transition.id, addressed, role),
        fingerprint=copy_fingerprint(transition.fingerprint, addressed, role),
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        transition=kind,
        labels=AlertLabels(
            alertname=transition.rule.value,
            rule=transition.rule.value,
            plan=plan.id,
            area=area,
            task=target.task,
            target=target.id,
            agency=addressed,
            severity=AlertSeverity(severity),
            role=role,
        ),
        annotations=AlertAnnotations(
            summary_zh=f"{prefix_zh}{target.metric_zh}：{rule_zh}",
            summary_en=f"{prefix_en}{target.name_en}: {rule_en}",
            description_zh=what_zh,
            description_en=what_en,
        ),
        startsAt=starts_at,
        endsAt=result.at if resolved else None,
        generatorURL=generator_url(base_url, plan.id, target.id),
        method="v1.1",
        at=result.at,
    )
