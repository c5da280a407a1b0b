"""The progress report as one self-contained HTML string: pure (ReportData in, text out).

Inline CSS and inline SVG only; the exact state JSON (`plan_state_to_json`, what `planwatch
score --format json` prints) is embedded in `<script type="application/json"
id="planwatch-state">`, and the period's alert transitions in `id="planwatch-transitions"`, so a
reader or a test can take the figures from the report itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from planwatch.report.chart import chart_data, render_chart
from planwatch.report.model import PeriodTransition, ReportData
from planwatch.report.problems import ReportProblems
from planwatch.report.problems_render import problems_section
from shared.domain.catalog import Kind, Plan, Target
from shared.domain.method_v1 import Rollup, Severity, Status, TargetResult, TransitionKind
from shared.vocabulary import (
    RULE_LABEL,
    SEVERITY_COLOUR,
    SEVERITY_LABEL,
    STATUS_COLOUR,
    STATUS_LABEL,
    STATUS_ORDER,
    WORDS,
    Lang,
)

# Words only the report uses; key: (zh, en).
REPORT_WORDS: Mapping[str, tuple[str, str]] = {
    "report_title": ("数字经济发展进度评估报告", "Progress evaluation report"),
    "summary": ("领导摘要", "Summary for the leadership"),
    "needing_attention": ("需关注的指标", "Targets needing attention"),
    "achievements": ("已达成的指标", "Achievements"),
    "period_alerts": ("本期告警变化", "Alert changes in the period"),
    "firing_at_day": ("评估日仍在触发的告警", "Alerts firing on the evaluation day"),
    "period": ("评估期", "Period"),
    "evaluations": ("次评估", "evaluations"),
    "change": ("变化", "Change"),
    "day": ("日期", "Date"),
    "none": ("无", "None"),
    "doc_no": ("文号", "Document"),
    "targets_total": ("指标总数", "Targets"),
    "area_detail": ("各领域情况", "Areas and tasks"),
    "target_detail": ("各指标情况", "Targets"),
    "agency_record": ("各责任单位情况", "Agencies"),
    "led": ("牵头指标", "Led"),
    "co_owned": ("配合指标", "Co-owned"),
    "stale_led": ("逾期未报(牵头)", "Stale (led)"),
    "method_title": ("评分方法说明", "About the method"),
    "stage": ("阶段", "Stage"),
    "source": ("依据", "Plan text"),
    "figures": ("指标数据", "Figures"),
    "fired": ("触发", "firing"),
    "severity_changed": ("级别变化", "severity changed"),
    "resolved": ("解除", "resolved"),
    "appendix_reports": (
        "附录：各指标近期报送（说明与佐证）",
        "Appendix: recent reports (notes and evidence)",
    ),
    "reported_at": ("报送时间", "Reported"),
    "report_as_of": ("数据日期", "Date"),
    "reporter": ("报送单位", "Reported by"),
    "value": ("数值", "Value"),
    # An agency's report (agency_render.py).
    "agency_report_title": ("责任单位进度报告", "Agency progress report"),
    "scorecard": ("本单位评分", "Scorecard"),
    "led_targets": ("牵头指标", "Targets it leads"),
    "co_targets": ("配合指标", "Targets it co-owns"),
    "commitments_led": ("牵头的工作事项", "Commitments it leads"),
    "role": ("职责", "Role"),
    "open_problems": ("待解决问题", "Open problems"),
    "problem": ("问题", "Problem"),
    "subject": ("对象", "Subject"),
    "state": ("状态", "State"),
    "raised_by": ("提出单位", "Raised by"),
    "raised_at": ("提出时间", "Raised"),
    "days_open": ("已持续天数", "Days open"),
}

WHAT_THIS_IS: Mapping[Lang, str] = {
    Lang.ZH: (
        "本报告是《{title}》（{doc_no}）各项工作的进度报告：依据各责任单位报送的进度数据，"
        "按评分方法 {method} 计算每个量化目标的完成度、应完成进度、进度比、趋势预测和状态，"
        "并按目标数加权汇总到任务、领域、全方案和各责任单位；没有数字的工作事项按清单跟踪"
        "（完成与否及佐证材料），第3.6条的监测指标只列走势，均不评分。本报告不是第3.6条要求"
        "市发展改革局、市统计局“探索建立”的数字经济发展评估体系，该项工作本身作为一个目标跟踪。"
    ),
    Lang.EN: (
        "This is a progress report on the commitments of the {title} ({doc_no}): from the "
        "progress the responsible agencies report, scoring method {method} computes each "
        "quantified target's progress, expected progress, pace ratio, projection and status, and "
        "rolls them up, weighted by their targets, to tasks, areas, the whole plan and each "
        "agency. Commitments without a number are tracked as checklists (done or not, with "
        "evidence) and clause 3.6's monitoring indicators are shown with their trend; neither "
        "is scored. It is not the digital-economy evaluation system that clause 3.6 asks the "
        "Development and Reform Bureau and the Statistics Bureau to explore; that work is "
        "tracked here as one target."
    ),
}

METHOD_NOTE: Mapping[Lang, str] = {
    Lang.ZH: (
        "完成度 = (最新值 − 基线) ÷ (目标值 − 基线)；应完成 = 基线日至截止日之间已过去的时间比例"
        "（有中期目标时按其插值）；进度比 = 完成度 ÷ 应完成（≥0.95 进度正常，≥0.60 存在风险，"
        "否则进度滞后）；趋势预测为最近 6 个报送值的最小二乘直线在截止日的取值。得分在 −5 至 +5 "
        "之间，逐级按权重平均。未设基线的指标以首次报送值为基线。逾期未报：距上次报送超过报送周期"
        "加宽限期（月报 41 天，季报 112 天）。"
    ),
    Lang.EN: (
        "Progress = (latest − baseline) / (target − baseline); expected = the share of the time "
        "from baseline to deadline elapsed (interpolated through interim targets where the plan "
        "sets them); pace ratio = progress / expected (≥ 0.95 on track, ≥ 0.60 at risk, else off "
        "track); the projection is the least-squares line through the last 6 reports read at the "
        "deadline. Scores run from −5 to +5 and are averaged up the levels by weight. A target "
        "without a baseline in the plan takes its first report as baseline. Stale: no report for "
        "longer than the cadence plus grace (41 days monthly, 112 days quarterly)."
    ),
}


def word(key: str, lang: Lang) -> str:
    zh, en = REPORT_WORDS.get(key) or WORDS[key]
    return zh if lang is Lang.ZH else en


# --- formatting -----------------------------------------------------------------------------


def fmt_number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def fmt_share(share: float | None) -> str:
    """A share as a percentage, unclamped (progress can exceed 100% or fall below 0%)."""
    return "—" if share is None else f"{100 * share:.1f}%"


def fmt_value(target: Target, value: float | None, lang: Lang) -> str:
    """A value in the target's unit: 45%, 1,234, rank 3, or a milestone's stage name."""
    if value is None:
        return "—"
    if target.kind is Kind.SHARE:
        return f"{value:.4g}%"
    if target.kind is Kind.RANK:
        return f"第{value:g}名" if lang is Lang.ZH else f"rank {value:g}"
    if target.kind is Kind.MILESTONE:
        index = round(value)
        if 0 <= index < len(target.stages) and abs(index - value) < 1e-9:
            stage = target.stages[index]
            return stage.name_zh if lang is Lang.ZH else stage.name_en
        return f"{value:.2f}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


@dataclass(frozen=True, slots=True)
class Badge:
    code: str  # the status as in the JSON, or "" for none
    label: str
    colour: str


def badge(status: Status | None, lang: Lang) -> Badge:
    if status is None:
        return Badge("", "—", STATUS_COLOUR[Status.NO_DATA])
    return Badge(status.value, STATUS_LABEL[lang][status], STATUS_COLOUR[status])


# --- view model -------------------------------------------------------------------------------


def _counts(rollup: Rollup, lang: Lang) -> list[dict[str, Any]]:
    return [
        {"badge": badge(s, lang), "n": rollup.counts.get(s, 0)}
        for s in STATUS_ORDER
        if rollup.counts.get(s, 0)
    ]


def rollup_view(rollup: Rollup, lang: Lang) -> dict[str, Any]:
    return {
        "score": fmt_number(rollup.score),
        "score_raw": rollup.score,
        "badge": badge(rollup.status, lang),
        "counts": _counts(rollup, lang),
        "targets": rollup.targets,
    }


def bar(rollup: Rollup, width: float = 640, height: float = 18) -> Markup:
    """Targets by status as one stacked bar (inline SVG)."""
    total = sum(rollup.counts.values())
    parts = [
        f'<svg class="bar" viewBox="0 0 {width:g} {height:g}" width="100%" height="{height:g}" '
        'preserveAspectRatio="none">'
    ]
    x = 0.0
    for status in STATUS_ORDER:
        n = rollup.counts.get(status, 0)
        if not n or not total:
            continue
        w = width * n / total
        parts.append(
            f'<rect class="seg" data-status="{status.value}" x="{x:.2f}" y="0" width="{w:.2f}" '
            f'height="{height:g}" fill="{STATUS_COLOUR[status]}"/>'
        )
        x += w
    parts.append("</svg>")
    return Markup("".join(parts))  # numbers and enum values only


def name_of(plan: Plan, kind: str, item_id: str, lang: Lang) -> str:
    zh = lang is Lang.ZH
    if kind == "area":
        a = plan.areas[item_id]
        return a.name_zh if zh else a.name_en
    if kind == "task":
        t = plan.tasks[item_id]
        return t.name_zh if zh else t.name_en
    if kind == "agency":
        g = plan.agencies.get(item_id)
        return item_id if g is None else g.name_zh if zh else g.name_en
    target = plan.targets[item_id]
    return target.metric_zh if zh else target.name_en


def target_view(data: ReportData, target_id: str, lang: Lang) -> dict[str, Any]:
    plan = data.plan
    target = plan.targets[target_id]
    r: TargetResult = data.state.targets[target_id]
    series = data.series[target_id]
    proj = r.projection
    likely = "—" if proj is None else word("yes" if proj.likely else "no", lang)
    figures = [
        ("status", None),
        ("score", fmt_number(r.score)),
        ("current", fmt_value(target, r.current.value if r.current else None, lang)
         + (f" ({r.current.as_of.isoformat()})" if r.current else "")),
        ("baseline", fmt_value(target, r.baseline.value if r.baseline else None, lang)
         + (f" ({r.baseline.as_of.isoformat()})" if r.baseline else "")),
        ("goal", f"{target.comparator.value} {fmt_value(target, target.target, lang)}"),
        ("deadline", target.deadline.isoformat() if target.deadline else word("no_date", lang)),
        ("progress", fmt_share(r.progress_share)),
        ("expected", fmt_share(r.expected_share)),
        ("pace", fmt_number(r.pace_ratio)),
        ("projection", fmt_value(target, proj.value if proj else None, lang)),
        ("likely", likely),
        ("days_left", "—" if r.days_left is None else str(r.days_left)),
        ("days_since_report", "—" if r.days_since_report is None else str(r.days_since_report)),
        ("stale", word("yes" if r.stale else "no", lang)),
        ("points", str(r.points)),
    ]  # fmt: skip
    lead = plan.targets[target_id].lead
    return {
        "id": target_id,
        "name": name_of(plan, "target", target_id, lang),
        "task": target.task,
        "task_name": name_of(plan, "task", target.task, lang),
        "source": target.source_zh,
        "lead": name_of(plan, "agency", lead, lang),
        "co": [name_of(plan, "agency", a, lang) for a in sorted(plan.co_owners(target_id))],
        "badge": badge(r.status, lang),
        "score_raw": r.score,
        "stale": r.stale,
        "figures": [(word(k, lang), v) for k, v in figures],
        # render_chart escapes every text it places.
        "chart": Markup(render_chart(chart_data(target, r, series, lang), lang)),
        "breakdowns": _breakdown_views(data, target_id, lang),
    }


def _breakdown_views(data: ReportData, target_id: str, lang: Lang) -> list[dict[str, str]]:
    """The target's scoped figures (method v1.1), by county or park, where reported: shown
    beside the headline, never scored."""
    plan = data.plan
    target = plan.targets[target_id]
    zh = lang is Lang.ZH
    views = []
    for scope, figure in data.state.breakdowns.get(target_id, {}).items():
        unit = plan.breakdowns.get(scope)
        name = scope if unit is None else unit.name_zh if zh else unit.name_en
        point = figure.current
        views.append(
            {
                "scope": scope,
                "name": name,
                "value": fmt_value(target, point.value, lang),
                "as_of": point.as_of.isoformat(),
                "agency": name_of(plan, "agency", point.agency, lang),
                "share": fmt_share(figure.progress_share)
                if figure.progress_share is not None
                else "",
            }
        )
    return views


def is_web_link(text: str) -> bool:
    """Evidence shown as a link only when it is an http(s) URL (else as text)."""
    return text.lower().startswith(("http://", "https://"))


def report_views(data: ReportData, lang: Lang) -> list[dict[str, Any]]:
    """The appendix: per target (in id order), its recent reports newest first, each with its
    note and evidence. Targets without reports are left out."""
    plan = data.plan
    views = []
    for target_id in sorted(data.reports):
        reports = data.reports[target_id]
        if not reports:
            continue
        target = plan.targets[target_id]
        views.append(
            {
                "id": target_id,
                "name": name_of(plan, "target", target_id, lang),
                "reports": [
                    {
                        "event_id": r.event_id,
                        "as_of": r.as_of.isoformat(),
                        "value": fmt_value(target, r.value, lang),
                        "agency": name_of(plan, "agency", r.agency, lang) if r.agency else "—",
                        "reported_at": r.reported_at.isoformat(timespec="minutes"),
                        "note": r.note,
                        "evidence": r.evidence,
                        "evidence_link": r.evidence is not None and is_web_link(r.evidence),
                    }
                    for r in reports
                ],
            }
        )
    return views


def transition_kind(kind: TransitionKind, lang: Lang) -> str:
    key = {"firing": "fired", "severity_changed": "severity_changed", "resolved": "resolved"}
    return word(key[kind.value], lang)


def severity_view(severity: Severity, lang: Lang) -> dict[str, str]:
    return {
        "code": severity.value,
        "label": SEVERITY_LABEL[lang][severity],
        "colour": SEVERITY_COLOUR[severity],
    }


def transition_view(plan: Plan, p: PeriodTransition, lang: Lang) -> dict[str, Any]:
    """One alert transition of the period, as the reports' tables show it."""
    return {
        "day": p.day.isoformat(),
        "target": p.transition.target,
        "target_name": name_of(plan, "target", p.transition.target, lang),
        "rule": RULE_LABEL[lang][p.transition.rule],
        "rule_code": p.transition.rule.value,
        "kind": transition_kind(p.transition.kind, lang),
        "kind_code": p.transition.kind.value,
        "severity": severity_view(p.transition.severity, lang),
    }


def json_block(value: Any) -> Markup:
    """JSON for a `<script type="application/json">`: `<` escaped so `</script>` cannot occur."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=False).replace("<", "\\u003c")
    return Markup(text)  # no '<' left: it cannot leave the script


def _task_tracking(data: ReportData, task_id: str, lang: Lang) -> str:
    """What an unscored task tracks instead: its checklists and indicators."""
    plan, tracked = data.plan, data.state.tracked
    parts = []
    commitments = [c for c in plan.commitments.values() if c.task == task_id]
    if commitments and tracked is not None:
        done = sum(tracked.commitments[c.id].done for c in commitments)
        total = sum(tracked.commitments[c.id].total for c in commitments)
        parts.append(f"{word('commitments', lang)} {done}/{total} {word('done', lang)}")
    indicators = [i for i in plan.indicators.values() if i.task == task_id]
    if indicators:
        parts.append(f"{len(indicators)} {word('indicators', lang)}")
    return " · ".join(parts) if parts else word("untracked", lang)


def commitment_views(data: ReportData, lang: Lang) -> list[dict[str, Any]]:
    plan, tracked = data.plan, data.state.tracked
    zh = lang is Lang.ZH
    views = []
    for commitment in sorted(plan.commitments.values(), key=lambda c: (c.task, c.id)):
        state = tracked.commitments[commitment.id] if tracked is not None else None
        items = {item.id: item for item in state.deliverables} if state is not None else {}
        views.append(
            {
                "id": commitment.id,
                "task": commitment.task,
                "name": commitment.name_zh if zh else commitment.name_en,
                "lead": name_of(plan, "agency", commitment.lead, lang),
                "deadline": (
                    commitment.deadline.isoformat()
                    if commitment.deadline
                    else word("no_date", lang)
                ),
                "done": state.done if state is not None else 0,
                "total": len(commitment.deliverables),
                "late": state.late if state is not None else False,
                "deliverables": [
                    {
                        "id": entry.id,
                        "name": entry.name_zh if zh else entry.name_en,
                        "done": entry.id in items and items[entry.id].done,
                        "as_of": (
                            items[entry.id].current.as_of.isoformat()  # type: ignore[union-attr]
                            if entry.id in items and items[entry.id].current is not None
                            else ""
                        ),
                        "evidence": items[entry.id].evidence if entry.id in items else None,
                    }
                    for entry in commitment.deliverables
                ],
            }
        )
    return views


def _indicator_views(data: ReportData, lang: Lang) -> list[dict[str, Any]]:
    plan, tracked = data.plan, data.state.tracked
    zh = lang is Lang.ZH
    views = []
    for indicator in sorted(plan.indicators.values(), key=lambda i: i.id):
        state = tracked.indicators[indicator.id] if tracked is not None else None
        current = state.current if state is not None else None
        views.append(
            {
                "id": indicator.id,
                "task": indicator.task,
                "name": indicator.metric_zh if zh else indicator.name_en,
                "unit": indicator.unit_zh if zh else indicator.unit_en,
                "current": f"{current.value:,.6g}" if current is not None else "—",
                "as_of": current.as_of.isoformat() if current is not None else "",
                "trend": " → ".join(f"{p.value:,.6g}" for p in state.trend) if state else "",
            }
        )
    return views


def report_context(data: ReportData, lang: Lang) -> dict[str, Any]:
    plan, state = data.plan, data.state
    zh = lang is Lang.ZH
    title = plan.title_zh if zh else plan.title_en
    areas = []
    for area_id, rollup in state.areas.items():
        tasks = [
            {
                "id": task_id,
                "name": name_of(plan, "task", task_id, lang),
                **rollup_view(state.tasks[task_id], lang),
                "targets": sorted(t.id for t in plan.targets_of_task(task_id)),
                "unscored": task_id in state.tasks[task_id].unscored,
                "tracking": _task_tracking(data, task_id, lang),
            }
            for task_id in sorted(t for t, task in plan.tasks.items() if task.area == area_id)
        ]
        areas.append(
            {
                "id": area_id,
                "name": name_of(plan, "area", area_id, lang),
                **rollup_view(rollup, lang),
                "tasks": tasks,
            }
        )
    target_views = {tid: target_view(data, tid, lang) for tid in state.targets}
    agencies = [
        {
            "id": agency_id,
            "name": name_of(plan, "agency", agency_id, lang),
            "lead": rollup_view(card.lead, lang),
            "co": rollup_view(card.co, lang),
            "stale": card.stale,
        }
        for agency_id, card in state.agencies.items()
        if card.lead.targets or card.co.targets
    ]
    transitions = [transition_view(plan, p, lang) for p in data.transitions]
    firing = [
        {
            "target": a.target,
            "target_name": name_of(plan, "target", a.target, lang),
            "rule": RULE_LABEL[lang][a.rule],
            "rule_code": a.rule.value,
            "severity": severity_view(a.severity, lang),
        }
        for a in state.alerts
    ]
    transitions_json = [
        {
            "day": p.day.isoformat(),
            "id": p.transition.id,
            "fingerprint": p.transition.fingerprint,
            "target": p.transition.target,
            "rule": p.transition.rule.value,
            "kind": p.transition.kind.value,
            "severity": p.transition.severity.value,
            "previous_severity": (
                p.transition.previous_severity.value if p.transition.previous_severity else None
            ),
        }
        for p in data.transitions
    ]
    return {
        "lang": lang.value,
        "title": title,
        "doc_no": plan.doc_no,
        "plan_id": plan.id,
        "day": data.day.isoformat(),
        "since": data.since.isoformat(),
        "evaluations": data.evaluations,
        "method": state.method,
        "what_this_is": WHAT_THIS_IS[lang].format(
            title=title, doc_no=plan.doc_no, method=state.method
        ),
        "coverage": fmt_share(state.total.coverage),
        "tasks_total": len(plan.tasks),
        "tasks_scored": len(plan.scored_tasks()),
        "tasks_tracked": len(plan.tracked_tasks()),
        "untracked": [
            {"id": t, "name": name_of(plan, "task", t, lang)} for t in plan.untracked_tasks()
        ],
        "commitments": commitment_views(data, lang),
        "indicators": _indicator_views(data, lang),
        "method_note": METHOD_NOTE[lang],
        "overall": rollup_view(state.total, lang),
        "overall_bar": bar(state.total),
        "legend": [badge(s, lang) for s in STATUS_ORDER],
        "attention": [target_views[t] for t in data.needing_attention()],
        "achievements": [target_views[t] for t in data.achievements()],
        "areas": areas,
        "targets": target_views,
        "agencies": agencies,
        "transitions": transitions,
        "firing": firing,
        "severity_counts": [
            (SEVERITY_LABEL[lang][s], n)
            for s in (Severity.CRITICAL, Severity.WARNING, Severity.INFO)
            if (n := sum(1 for a in state.alerts if a.severity is s))
        ],
        "state_json": json_block(data.state_json),
        "transitions_json": json_block(transitions_json),
        "appendix": report_views(data, lang),
    }


ENV = Environment(
    loader=PackageLoader("planwatch.report", "templates"),
    autoescape=select_autoescape(["html", "j2"], default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_report(
    data: ReportData, lang: Lang = Lang.ZH, problems: ReportProblems | None = None
) -> str:
    """The report as a complete HTML document; with `problems`, its problems section."""
    template = ENV.get_template("report.html.j2")
    context = report_context(data, lang)
    context["problems"] = problems_section(problems, data.plan, lang)
    return template.render(**context, w=lambda key: word(key, lang))
