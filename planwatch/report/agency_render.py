"""One agency's report as one self-contained HTML string: pure (AgencyReport in, text out).

The same parts as the plan's report (render.py: badges, target cards with their charts, the
appendix of recent reports), cut to the agency's targets. Embedded for readers and tests:
`<script type="application/json" id="planwatch-agency">`, the agency's part of the state JSON
(`AgencyReport.agency_json`: its scorecard, its targets and the alerts firing on them, as
`planwatch score --format json` prints them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planwatch.report.agency import AgencyReport
from planwatch.report.problems import DEFAULT_ESCALATE_AFTER
from planwatch.report.problems_render import section_of, split_states
from planwatch.report.render import (
    ENV,
    METHOD_NOTE,
    badge,
    bar,
    commitment_views,
    fmt_number,
    fmt_share,
    fmt_value,
    json_block,
    name_of,
    report_views,
    rollup_view,
    severity_view,
    target_view,
    transition_view,
    word,
)
from shared.domain.problems import Problem, is_overdue
from shared.domain.timebase import end_of_day
from shared.vocabulary import RULE_LABEL, STATUS_ORDER, Lang

AGENCY_WHAT: Mapping[Lang, str] = {
    Lang.ZH: (
        "本报告是{agency}在《{title}》（{doc_no}）中所负责工作的进度报告：牵头指标与配合指标"
        "分别按评分方法 {method} 加权汇总（与全方案报告中的“各责任单位情况”一致），并列出各指标"
        "的数据、评估日仍在触发的告警和本期告警变化。"
    ),
    Lang.EN: (
        "This is the progress report of {agency} on its commitments in the {title} "
        "({doc_no}): the targets it leads and those it co-owns, each rolled up by scoring "
        "method {method} (as in the plan report's table of agencies), with every target's "
        "figures, the alerts firing on the evaluation day and the period's alert changes."
    ),
}


def _row(report: AgencyReport, target_id: str, lang: Lang) -> dict[str, Any]:
    """A line of the led or co-owned table."""
    data = report.data
    target = data.plan.targets[target_id]
    r = data.state.targets[target_id]
    current = r.current
    return {
        "id": target_id,
        "name": name_of(data.plan, "target", target_id, lang),
        "badge": badge(r.status, lang),
        "score": fmt_number(r.score),
        "score_raw": r.score,
        "progress": fmt_share(r.progress_share),
        "expected": fmt_share(r.expected_share),
        "pace": fmt_number(r.pace_ratio),
        "current": "—"
        if current is None
        else f"{fmt_value(target, current.value, lang)} ({current.as_of.isoformat()})",
        "stale": r.stale,
    }


def _problem_views(report: AgencyReport, lang: Lang) -> dict[str, Any] | None:
    """HOOK, open problems: None when the report has no problem data (no section). The
    problems feature hands the agency's open problems and those that ended in the period
    (planwatch/report/problems.py); the section splits them by state (problems_render.py)."""
    if report.problems is None:
        return None
    at = end_of_day(report.data.day)
    opened, ended = split_states(report.problems)

    def overdue(problem: object) -> bool:
        return isinstance(problem, Problem) and is_overdue(problem, at, DEFAULT_ESCALATE_AFTER)

    return section_of(
        report.data.plan,
        lang,
        at=at,
        opened=sorted(opened, key=lambda p: (p.raised_at, p.problem_id)),
        ended=ended,
        overdue=overdue,
        escalate_days=DEFAULT_ESCALATE_AFTER.days,
    )


def agency_context(report: AgencyReport, lang: Lang) -> dict[str, Any]:
    data, plan, card = report.data, report.data.plan, report.card
    zh = lang is Lang.ZH
    title = plan.title_zh if zh else plan.title_en
    agency_name = name_of(plan, "agency", report.agency, lang)
    mine = set(report.targets)
    led = set(report.led)
    return {
        "lang": lang.value,
        "title": title,
        "agency": report.agency,
        "agency_name": agency_name,
        "doc_no": plan.doc_no,
        "plan_id": plan.id,
        "day": data.day.isoformat(),
        "since": data.since.isoformat(),
        "evaluations": data.evaluations,
        "method": data.state.method,
        "what_this_is": AGENCY_WHAT[lang].format(
            agency=agency_name, title=title, doc_no=plan.doc_no, method=data.state.method
        ),
        "method_note": METHOD_NOTE[lang],
        "lead": rollup_view(card.lead, lang),
        "lead_bar": bar(card.lead),
        "co": rollup_view(card.co, lang),
        "stale": card.stale,
        "legend": [badge(s, lang) for s in STATUS_ORDER],
        "led": [_row(report, t, lang) for t in report.led],
        "co_owned": [_row(report, t, lang) for t in report.co_owned],
        "cards": [target_view(data, t, lang) for t in report.targets],
        "commitments": [
            c for c in commitment_views(data, lang) if c["id"] in set(report.commitments)
        ],
        "firing": [
            {
                "target": a.target,
                "target_name": name_of(plan, "target", a.target, lang),
                "role": word("lead" if a.target in led else "co", lang),
                "rule": RULE_LABEL[lang][a.rule],
                "rule_code": a.rule.value,
                "severity": severity_view(a.severity, lang),
            }
            for a in report.alerts
        ],
        "transitions": [transition_view(plan, p, lang) for p in report.transitions],
        "problems": _problem_views(report, lang),
        "appendix": [v for v in report_views(data, lang) if v["id"] in mine],
        "agency_json": json_block(report.agency_json()),
    }


def render_agency_report(report: AgencyReport, lang: Lang = Lang.ZH) -> str:
    """The agency's report as a complete HTML document."""
    template = ENV.get_template("agency.html.j2")
    return template.render(**agency_context(report, lang), w=lambda key: word(key, lang))
