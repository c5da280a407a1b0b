"""The problems section of a report (the plan's and an agency's): pure view models, in Chinese
or English, for templates/_problems.html.j2.

Every text an agency wrote (summary, needs, notes) is passed as text: the templates autoescape
it. Evidence is a link only when it is an http(s) URL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from planwatch.report.problems import ReportProblems
from shared.domain.catalog import Plan
from shared.domain.problems import Problem, ProblemState, Step
from shared.domain.timebase import CST
from shared.vocabulary import Lang

# key: (zh, en)
PROBLEM_WORDS: Mapping[str, tuple[str, str]] = {
    "open_problems": ("待解决问题", "Open problems"),
    "ended_problems": ("本期已解决或关闭的问题", "Problems resolved or closed in the period"),
    "problem": ("问题", "Problem"),
    "subject": ("对象", "Subject"),
    "state": ("状态", "State"),
    "summary": ("问题描述", "What blocks it"),
    "needs": ("所需支持", "Needs"),
    "asked": ("请求协助单位", "Asked of"),
    "raised_by": ("提出单位", "Raised by"),
    "raised_at": ("提出时间", "Raised"),
    "days_open": ("已持续天数", "Days open"),
    "overdue": ("超期未解决", "Overdue"),
    "ended_at": ("办结时间", "Ended"),
    "ended_by": ("办结单位", "Ended by"),
    "history": ("处理记录", "History"),
    "evidence": ("佐证", "Evidence"),
    "not_applied": ("未生效", "not applied"),
    "none": ("无", "None"),
    "overdue_rule": (
        "超期：提出后超过 {days} 天仍未解决（待处理或已受理）。",
        "Overdue: still open (or acknowledged) {days} days after it was raised.",
    ),
}
STATE_LABEL: Mapping[str, tuple[str, str]] = {
    "open": ("待处理", "Open"),
    "acknowledged": ("已受理", "Acknowledged"),
    "resolved": ("已解决", "Resolved"),
    "closed": ("已关闭", "Closed"),
}
# White text on each at least 4.5:1 (WCAG 2.1 AA), as the status badges.
STATE_COLOUR: Mapping[str, str] = {
    "open": "#cf222e",
    "acknowledged": "#953800",
    "resolved": "#1a7f37",
    "closed": "#57606a",
}
OVERDUE_COLOUR = "#a40e26"
ACTION_LABEL: Mapping[str, tuple[str, str]] = {
    "raised": ("提出", "raised"),
    "acknowledged": ("受理", "acknowledged"),
    "commented": ("评论", "commented"),
    "resolved": ("解决", "resolved"),
    "closed": ("关闭", "closed"),
}


class ShownProblem(Protocol):
    """What any problem handed to a report has (an agency report's hook: `OpenProblem`)."""

    @property
    def problem_id(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def raised_by(self) -> str: ...
    @property
    def raised_at(self) -> datetime: ...


def pword(key: str, lang: Lang) -> str:
    zh, en = PROBLEM_WORDS[key]
    return zh if lang is Lang.ZH else en


def _pick(pair: tuple[str, str], lang: Lang) -> str:
    return pair[0] if lang is Lang.ZH else pair[1]


def _when(instant: datetime | None) -> str:
    return "" if instant is None else instant.astimezone(CST).strftime("%Y-%m-%d %H:%M")


def agency_name(plan: Plan, agency: str, lang: Lang) -> str:
    """An agency's name; a group's (or an unknown) id as it is."""
    found = plan.agencies.get(agency)
    if found is None:
        return agency
    return found.name_zh if lang is Lang.ZH else found.name_en


def subject_name(plan: Plan, subject: str, lang: Lang) -> str:
    """The name of a target, deliverable, indicator or task of the plan (its id if none)."""
    zh = lang is Lang.ZH
    if subject in plan.targets:
        t = plan.targets[subject]
        return t.metric_zh if zh else t.name_en
    if subject in plan.deliverables:
        d = plan.deliverables[subject]
        return d.name_zh if zh else d.name_en
    if subject in plan.indicators:
        i = plan.indicators[subject]
        return i.metric_zh if zh else i.name_en
    if subject in plan.tasks:
        k = plan.tasks[subject]
        return k.name_zh if zh else k.name_en
    return subject


def _step_view(step: Step, plan: Plan, lang: Lang) -> dict[str, Any]:
    entry = step.entry
    return {
        "event_id": entry.event_id,
        "action": entry.action.value,
        "action_label": _pick(ACTION_LABEL[entry.action.value], lang),
        "agency": agency_name(plan, entry.agency, lang),
        "at": _when(entry.at),
        "note": entry.note,
        "refused": step.refusal.value if step.refusal is not None else None,
    }


def problem_view(
    problem: ShownProblem, plan: Plan, lang: Lang, *, at: datetime, overdue: bool
) -> dict[str, Any]:
    """One problem's row: a `Problem` with everything, anything else with what it has."""
    state = str(problem.state)
    full = problem if isinstance(problem, Problem) else None
    raised = full.raised if full is not None else None
    finished = full.finished if full is not None else None
    age = full.age(at) if full is not None else max(at - problem.raised_at, timedelta(0))
    evidence = raised.evidence if raised is not None else None
    return {
        "id": problem.problem_id,
        "state": state,
        "state_label": _pick(STATE_LABEL.get(state, (state, state)), lang),
        "state_colour": STATE_COLOUR.get(state, STATE_COLOUR["closed"]),
        "subject": problem.subject,
        "subject_name": subject_name(plan, problem.subject, lang),
        "raised_by": agency_name(plan, problem.raised_by, lang),
        "raised_by_id": problem.raised_by,
        "raised_at": _when(problem.raised_at),
        "asked": [agency_name(plan, a, lang) for a in raised.from_agencies] if raised else [],
        "summary": raised.summary if raised is not None else None,
        "needs": raised.needs if raised is not None else None,
        "evidence": evidence,
        "evidence_link": evidence is not None
        and evidence.lower().startswith(("http://", "https://")),
        "days_open": age.days,
        "overdue": overdue,
        "ended_at": _when(finished.at if finished is not None else None),
        "ended_by": agency_name(plan, finished.agency, lang) if finished is not None else "",
        "history": [_step_view(s, plan, lang) for s in full.history] if full is not None else [],
    }


def problems_section(
    problems: ReportProblems | None, plan: Plan, lang: Lang
) -> dict[str, Any] | None:
    """The section's view; None (no section) when the report was given no problem data."""
    if problems is None:
        return None
    return section_of(
        plan,
        lang,
        at=problems.at,
        opened=problems.open,
        ended=problems.ended,
        overdue=lambda p: isinstance(p, Problem) and problems.overdue(p),
        escalate_days=problems.escalate_after.days,
    )


def section_of(
    plan: Plan,
    lang: Lang,
    *,
    at: datetime,
    opened: Sequence[ShownProblem],
    ended: Sequence[ShownProblem],
    overdue: Callable[[ShownProblem], bool],
    escalate_days: int,
) -> dict[str, Any]:
    return {
        "labels": {key: pword(key, lang) for key in PROBLEM_WORDS},
        "overdue_rule": pword("overdue_rule", lang).format(days=escalate_days),
        "overdue_colour": OVERDUE_COLOUR,
        "open": [problem_view(p, plan, lang, at=at, overdue=overdue(p)) for p in opened],
        "ended": [problem_view(p, plan, lang, at=at, overdue=False) for p in ended],
    }


def split_states(problems: Sequence[ShownProblem]) -> tuple[list[ShownProblem], list[ShownProblem]]:
    """(open or acknowledged, resolved or closed), each in the given order."""
    opened = [p for p in problems if ProblemState(str(p.state)).is_open]
    return opened, [p for p in problems if not ProblemState(str(p.state)).is_open]
