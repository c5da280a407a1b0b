"""The dashboard's problems as a table, for its CSV and Excel download (pure): every problem of
the plan as the read API lists it (`problem_json`), oldest raise first, in one language. Text an
agency wrote stays text (export.py keeps a formula-looking cell a string)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from services.scoring.dashboard.tables import Cell, Table
from shared.domain.catalog import Plan
from shared.vocabulary import Lang

# key: (zh, en)
WORDS: Final[Mapping[str, tuple[str, str]]] = {
    "problem": ("问题编号", "Problem"),
    "state": ("状态", "State"),
    "overdue": ("超期未解决", "Overdue"),
    "age_days": ("已持续天数", "Days open"),
    "subject": ("对象", "Subject"),
    "subject_kind": ("对象类型", "Subject kind"),
    "task": ("任务", "Task"),
    "summary": ("问题描述", "What blocks it"),
    "needs": ("所需支持", "Needs"),
    "raised_by": ("提出单位", "Raised by"),
    "asked": ("请求协助单位", "Asked of"),
    "raised_at": ("提出时间", "Raised"),
    "acknowledged_at": ("受理时间", "Acknowledged"),
    "finished_at": ("办结时间", "Ended"),
    "comments": ("评论数", "Comments"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
}
STATES: Final[Mapping[str, tuple[str, str]]] = {
    "open": ("待处理", "Open"),
    "acknowledged": ("已受理", "Acknowledged"),
    "resolved": ("已解决", "Resolved"),
    "closed": ("已关闭", "Closed"),
}


def problems_table(plan: Plan, problems: Sequence[Mapping[str, Any]], lang: Lang) -> Table:
    def pick(pair: tuple[str, str]) -> str:
        return pair[0] if lang is Lang.ZH else pair[1]

    def agency(agency_id: str) -> str:
        found = plan.agencies.get(agency_id)
        return agency_id if found is None else pick((found.name_zh, found.name_en))

    rows: list[tuple[Cell, ...]] = []
    for p in sorted(problems, key=lambda p: (str(p["raised_at"]), str(p["problem_id"]))):
        state = str(p["state"])
        rows.append(
            (
                p["problem_id"],
                pick(STATES.get(state, (state, state))),
                pick(WORDS["yes" if p["overdue"] else "no"]),
                p["age_days"],
                p["subject"],
                p["subject_kind"],
                p["task"],
                p["summary"],
                p["needs"],
                agency(str(p["raised_by"])),
                "、".join(agency(a) for a in p["from_agencies"])
                if lang is Lang.ZH
                else ", ".join(agency(a) for a in p["from_agencies"]),
                p["raised_at"],
                p["acknowledged_at"],
                p["finished_at"],
                p["comments"],
            )
        )
    keys = ("problem", "state", "overdue", "age_days", "subject", "subject_kind", "task",
            "summary", "needs", "raised_by", "asked", "raised_at", "acknowledged_at",
            "finished_at", "comments")  # fmt: skip
    return Table("problems", tuple(pick(WORDS[k]) for k in keys), tuple(rows))
