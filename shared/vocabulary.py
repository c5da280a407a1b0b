"""What `planwatch score --format table`, the dashboard and the progress report say and show
alike: status names and colours, alert rule names and headings, in Chinese and English.

Plain data, no I/O: the dashboard gets it as JSON (`/dashboard/api/catalog`), the report
(`planwatch.report`) and the score table import it, so a status has one name and one colour
everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from shared.domain.method_v1 import AlertRule, Severity, Status


class Lang(StrEnum):
    ZH = "zh"
    EN = "en"


# Display order: best to worst, NO_DATA last (it stands apart from the badness order).
STATUS_ORDER: Final[tuple[Status, ...]] = (
    Status.ACHIEVED,
    Status.ON_TRACK,
    Status.INSUFFICIENT_DATA,
    Status.AT_RISK,
    Status.OFF_TRACK,
    Status.DETERIORATING,
    Status.MISSED,
    Status.NO_DATA,
)

# Greens for good, amber to red as it gets worse, greys where nothing can be said. Each is a
# badge's background under white text: at least 4.5:1 against white (WCAG 2.1 AA).
STATUS_COLOUR: Final[Mapping[Status, str]] = MappingProxyType(
    {
        Status.ACHIEVED: "#116329",
        Status.ON_TRACK: "#1a7f37",
        Status.INSUFFICIENT_DATA: "#656d76",
        Status.AT_RISK: "#9a6700",
        Status.OFF_TRACK: "#bc4c00",
        Status.DETERIORATING: "#cf222e",
        Status.MISSED: "#82071e",
        Status.NO_DATA: "#424a53",
    }
)

# The same Chinese names as `planwatch score --format table`.
STATUS_LABEL: Final[Mapping[Lang, Mapping[Status, str]]] = MappingProxyType(
    {
        Lang.ZH: MappingProxyType(
            {
                Status.ACHIEVED: "已达成",
                Status.ON_TRACK: "进度正常",
                Status.INSUFFICIENT_DATA: "数据不足",
                Status.AT_RISK: "存在风险",
                Status.OFF_TRACK: "进度滞后",
                Status.DETERIORATING: "持续恶化",
                Status.MISSED: "未按期完成",
                Status.NO_DATA: "无数据",
            }
        ),
        Lang.EN: MappingProxyType(
            {
                Status.ACHIEVED: "Achieved",
                Status.ON_TRACK: "On track",
                Status.INSUFFICIENT_DATA: "Insufficient data",
                Status.AT_RISK: "At risk",
                Status.OFF_TRACK: "Off track",
                Status.DETERIORATING: "Deteriorating",
                Status.MISSED: "Missed",
                Status.NO_DATA: "No data",
            }
        ),
    }
)

RULE_LABEL: Final[Mapping[Lang, Mapping[AlertRule, str]]] = MappingProxyType(
    {
        Lang.ZH: MappingProxyType(
            {
                AlertRule.STATUS_DEGRADED: "状态恶化",
                AlertRule.TARGET_MISSED: "未按期完成",
                AlertRule.DEADLINE_NEAR: "临近截止",
                AlertRule.REPORT_OVERDUE: "逾期未报",
                AlertRule.REGRESSION: "数值倒退",
                AlertRule.TARGET_ACHIEVED: "目标达成",
            }
        ),
        Lang.EN: MappingProxyType(
            {
                AlertRule.STATUS_DEGRADED: "Status degraded",
                AlertRule.TARGET_MISSED: "Target missed",
                AlertRule.DEADLINE_NEAR: "Deadline near",
                AlertRule.REPORT_OVERDUE: "Report overdue",
                AlertRule.REGRESSION: "Regression",
                AlertRule.TARGET_ACHIEVED: "Target achieved",
            }
        ),
    }
)

SEVERITY_COLOUR: Final[Mapping[Severity, str]] = MappingProxyType(
    {Severity.CRITICAL: "#cf222e", Severity.WARNING: "#9a6700", Severity.INFO: "#0969da"}
)

SEVERITY_LABEL: Final[Mapping[Lang, Mapping[Severity, str]]] = MappingProxyType(
    {
        Lang.ZH: MappingProxyType(
            {Severity.CRITICAL: "严重", Severity.WARNING: "警告", Severity.INFO: "提示"}
        ),
        Lang.EN: MappingProxyType(
            {Severity.CRITICAL: "Critical", Severity.WARNING: "Warning", Severity.INFO: "Info"}
        ),
    }
)

# Headings and short words; key: (zh, en).
WORDS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "overall": ("总体", "Overall"),
        "as_of": ("截至", "As known at"),
        "score": ("得分", "Score"),
        "status": ("状态", "Status"),
        "counts": ("状态分布", "Targets by status"),
        "areas": ("领域", "Areas"),
        "area": ("领域", "Area"),
        "tasks": ("任务", "Tasks"),
        "task": ("任务", "Task"),
        "targets": ("指标", "Targets"),
        "target": ("指标", "Target"),
        "agencies": ("责任单位", "Agencies"),
        "agency": ("单位", "Agency"),
        "alerts": ("告警", "Alerts"),
        "firing": ("当前告警", "Alerts firing"),
        "no_alerts": ("无告警", "No alerts"),
        "rule": ("规则", "Rule"),
        "severity": ("级别", "Severity"),
        "lead": ("牵头", "Lead"),
        "co": ("配合", "Co-owner"),
        "stale": ("逾期未报", "Stale"),
        "progress": ("完成度", "Progress"),
        "expected": ("应完成", "Expected"),
        "pace": ("进度比", "Pace ratio"),
        "projection": ("预测值", "Projection"),
        "likely": ("预计达成", "Likely met"),
        "days_left": ("剩余天数", "Days left"),
        "days_since_report": ("距上次报送", "Days since report"),
        "current": ("最新值", "Latest value"),
        "baseline": ("基线", "Baseline"),
        "goal": ("目标值", "Target value"),
        "deadline": ("截止日期", "Deadline"),
        "points": ("报送次数", "Reports"),
        "yes": ("是", "yes"),
        "no": ("否", "no"),
        "chart_expected": ("应达进度", "Expected path"),
        "chart_reported": ("报送值", "Reported"),
        "chart_projection": ("趋势预测", "Projection"),
        "chart_today": ("评估日", "Evaluation day"),
        "updated": ("更新于", "Updated"),
        "live": ("实时", "Live"),
        "offline": ("连接中断", "Disconnected"),
        "waiting": ("尚未评分", "Not scored yet"),
        "language": ("English", "中文"),
        "method": ("评分方法", "Method"),
        "coverage": ("评分覆盖", "Coverage"),
        "tasks_scored": ("项任务已评分", "tasks scored"),
        "untracked": ("暂无可跟踪指标", "nothing tracked yet"),
        "unscored": ("不评分", "not scored"),
        "no_date": ("方案未定时限", "no date in the plan"),
        "commitments": ("工作事项清单", "Commitments"),
        "deliverable": ("事项", "Deliverable"),
        "done": ("已完成", "done"),
        "not_done": ("未完成", "not done"),
        "evidence": ("佐证材料", "evidence"),
        "recent_reports": ("近期报送（附说明和佐证）", "Recent reports, with notes and evidence"),
        "note": ("说明", "note"),
        "late": ("已过期限", "past its date"),
        "indicators": ("监测指标(不评分)", "Monitoring indicators (not scored)"),
        "trend": ("走势", "Trend"),
        "tracked_by": ("跟踪内容", "Tracked by"),
        "tasks_tracked": ("项任务有跟踪内容", "tasks tracked"),
        "breakdowns": ("分区县/园区", "By county or park"),
        "reporter": ("报送单位", "Reported by"),
    }
)


def word(key: str, lang: Lang) -> str:
    zh, en = WORDS[key]
    return zh if lang is Lang.ZH else en


def vocabulary_json(lang: Lang) -> dict[str, object]:
    """The vocabulary in one language, for the dashboard's script."""
    return {
        "status_order": [s.value for s in STATUS_ORDER],
        "status": {s.value: STATUS_LABEL[lang][s] for s in STATUS_ORDER},
        "status_colour": {s.value: STATUS_COLOUR[s] for s in STATUS_ORDER},
        "rule": {r.value: RULE_LABEL[lang][r] for r in AlertRule},
        "severity": {s.value: SEVERITY_LABEL[lang][s] for s in Severity},
        "severity_colour": {s.value: SEVERITY_COLOUR[s] for s in Severity},
        "words": {key: word(key, lang) for key in WORDS},
    }
