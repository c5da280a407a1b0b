"""The dashboard's tables as rows, for its CSV and Excel downloads: what each section of the
page shows, from the read API's state (`plan_state_to_json`) and the catalog, in one language.

Pure: state and catalog in, rows out. Numbers stay numbers (unrounded); statuses, rules and
severities are their names in the language; a missing figure is None (an empty cell).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from shared.domain.catalog import Plan
from shared.domain.method_v1 import AlertRule, Severity, Status
from shared.vocabulary import (
    RULE_LABEL,
    SEVERITY_LABEL,
    STATUS_LABEL,
    STATUS_ORDER,
    Lang,
    word,
)

Cell = str | int | float | None
JSON = dict[str, Any]

# Column headings only the downloads use, or that read better there; key: (zh, en).
EXPORT_WORDS: Final[Mapping[str, tuple[str, str]]] = {
    "id": ("编号", "ID"),
    "as_of": ("截至", "As of"),
    "done": ("已完成", "Done"),
    "late": ("已过期限", "Late"),
    "evidence": ("佐证材料", "Evidence"),
    "name": ("名称", "Name"),
    "level": ("层级", "Level"),
    "unit": ("单位", "Unit"),
    "change": ("变化", "Change"),
    "comparator": ("比较", "Comparator"),
    "fingerprint": ("告警指纹", "Fingerprint"),
    "targets_n": ("指标数", "Targets"),
    "commitment": ("工作事项", "Commitment"),
    "deliverable_id": ("事项编号", "Deliverable ID"),
    "done_of": ("完成情况", "Done / total"),
}
# Severities as the page orders its alerts.
SEVERITY_RANK: Final = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass(frozen=True, slots=True)
class Table:
    name: str  # one of TABLES: the file's and the sheet's name
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


class _Words:
    def __init__(self, lang: Lang) -> None:
        self.lang = lang

    def __call__(self, key: str) -> str:
        if key in EXPORT_WORDS:
            zh, en = EXPORT_WORDS[key]
            return zh if self.lang is Lang.ZH else en
        return word(key, self.lang)

    def pick(self, zh: str, en: str) -> str:
        return zh if self.lang is Lang.ZH else en

    def status(self, status: str | None) -> str | None:
        return None if status is None else STATUS_LABEL[self.lang][Status(status)]

    def yes_no(self, flag: bool) -> str:
        return self("yes" if flag else "no")


def _id(item: Any) -> str:
    return str(item.id)


def _agency(plan: Plan, w: _Words, agency_id: str) -> str:
    agency = plan.agencies.get(agency_id)
    return agency_id if agency is None else w.pick(agency.name_zh, agency.name_en)


def _alerts(plan: Plan, state: JSON, w: _Words) -> Table:
    alerts = sorted(
        state["alerts"], key=lambda a: (SEVERITY_RANK[Severity(a["severity"])], a["target"])
    )
    rows = []
    for a in alerts:
        target = plan.targets.get(a["target"])
        rows.append(
            (
                SEVERITY_LABEL[w.lang][Severity(a["severity"])],
                RULE_LABEL[w.lang][AlertRule(a["rule"])],
                a["target"],
                None if target is None else w.pick(target.metric_zh, target.name_en),
                None if target is None else _agency(plan, w, target.lead),
                a["fingerprint"],
            )
        )
    header = (w("severity"), w("rule"), w("id"), w("target"), w("lead"), w("fingerprint"))
    return Table("alerts", header, tuple(rows))


def _areas(plan: Plan, state: JSON, w: _Words) -> Table:
    rows: list[tuple[Cell, ...]] = []

    def counts(rollup: JSON) -> tuple[int, ...]:
        return tuple(int(rollup["counts"].get(s.value, 0)) for s in STATUS_ORDER)

    for area in sorted(plan.areas.values(), key=_id):
        r = state["areas"].get(area.id)
        if r is None:
            continue
        name = w.pick(area.name_zh, area.name_en)
        rows.append((w("area"), area.id, name, w.status(r["status"]), r["score"], *counts(r)))
        for task in sorted((t for t in plan.tasks.values() if t.area == area.id), key=_id):
            t = state["tasks"].get(task.id)
            if t is None:
                continue
            unscored = task.id in (t.get("unscored") or [])
            status = w("unscored") if unscored else w.status(t["status"])
            name = w.pick(task.name_zh, task.name_en)
            rows.append((w("task"), task.id, name, status, t["score"], *counts(t)))
    labels = tuple(STATUS_LABEL[w.lang][s] for s in STATUS_ORDER)
    header = (w("level"), w("id"), w("name"), w("status"), w("score"), *labels)
    return Table("areas", header, tuple(rows))


def _commitments(plan: Plan, state: JSON, w: _Words) -> Table:
    tracked = (state.get("tracked") or {}).get("commitments") or {}
    rows = []
    for c in sorted(plan.commitments.values(), key=lambda c: (c.task, c.id)):
        st = tracked.get(c.id) or {}
        total = st.get("total", len(c.deliverables))
        done_of = f"{st.get('done', 0)}/{total}"
        deadline = c.deadline.isoformat() if c.deadline else w("no_date")
        for d in c.deliverables:
            ds = (st.get("deliverables") or {}).get(d.id) or {}
            current = ds.get("current") or {}
            rows.append(
                (
                    c.task,
                    c.id,
                    w.pick(c.name_zh, c.name_en),
                    _agency(plan, w, c.lead),
                    deadline,
                    done_of,
                    w.yes_no(bool(st.get("late"))),
                    d.id,
                    w.pick(d.name_zh, d.name_en),
                    w.yes_no(bool(ds.get("done"))),
                    current.get("as_of"),
                    ds.get("evidence"),
                )
            )
    header = (
        w("task"), w("id"), w("commitment"), w("lead"), w("deadline"), w("done_of"),
        w("late"), w("deliverable_id"), w("deliverable"), w("done"), w("as_of"), w("evidence"),
    )  # fmt: skip
    return Table("commitments", header, tuple(rows))


def _indicators(plan: Plan, state: JSON, w: _Words) -> Table:
    tracked = (state.get("tracked") or {}).get("indicators") or {}
    rows = []
    for i in sorted(plan.indicators.values(), key=lambda i: i.id):
        st = tracked.get(i.id) or {}
        current = st.get("current") or {}
        trend = " → ".join(f"{p['value']:g}" for p in st.get("trend") or [])
        rows.append(
            (
                i.id,
                i.task,
                w.pick(i.metric_zh, i.name_en),
                w.pick(i.unit_zh, i.unit_en),
                current.get("value"),
                current.get("as_of"),
                st.get("change"),
                trend or None,
            )
        )
    header = (
        w("id"), w("task"), w("name"), w("unit"), w("current"), w("as_of"), w("change"),
        w("trend"),
    )  # fmt: skip
    return Table("indicators", header, tuple(rows))


def _targets(plan: Plan, state: JSON, w: _Words) -> Table:
    rows = []
    for target_id in sorted(plan.targets):
        r = state["targets"].get(target_id)
        if r is None:
            continue
        t = plan.targets[target_id]
        current = r.get("current") or {}
        co = sorted(plan.co_owners(target_id))
        rows.append(
            (
                t.id,
                w.pick(t.metric_zh, t.name_en),
                plan.tasks[t.task].area,
                t.task,
                _agency(plan, w, t.lead),
                w.pick("、", ", ").join(_agency(plan, w, a) for a in co) or None,
                w.status(r["status"]),
                r["score"],
                current.get("value"),
                current.get("as_of"),
                t.comparator.value,
                t.target,
                t.deadline.isoformat() if t.deadline else w("no_date"),
                r.get("progress_share"),
                r.get("expected_share"),
                r.get("pace_ratio"),
                r.get("projected"),
                r.get("days_left"),
                r.get("days_since_report"),
                w.yes_no(bool(r.get("stale"))),
                r.get("points"),
            )
        )
    header = (
        w("id"), w("target"), w("area"), w("task"), w("lead"), w("co"), w("status"), w("score"),
        w("current"), w("as_of"), w("comparator"), w("goal"), w("deadline"), w("progress"),
        w("expected"), w("pace"), w("projection"), w("days_left"), w("days_since_report"),
        w("stale"), w("points"),
    )  # fmt: skip
    return Table("targets", header, tuple(rows))


def _agencies(plan: Plan, state: JSON, w: _Words) -> Table:
    rows = []
    for agency in sorted(plan.agencies.values(), key=lambda a: a.id):
        c = state["agencies"].get(agency.id)
        if c is None:
            continue
        led = sum(c["lead"]["counts"].values())
        co = sum(c["co"]["counts"].values())
        if not led and not co:
            continue  # as on the page: agencies with targets only
        rows.append(
            (
                agency.id,
                w.pick(agency.name_zh, agency.name_en),
                w.status(c["lead"]["status"]),
                led,
                c["lead"]["score"],
                w.status(c["co"]["status"]),
                co,
                c["co"]["score"],
                c["stale"],
            )
        )
    sep = w.pick("", " ")
    lead, co = (
        tuple(f"{w(who)}{sep}{w(k)}" for k in ("status", "targets_n", "score"))
        for who in ("lead", "co")
    )
    header = (w("id"), w("agency"), *lead, *co, w("stale"))
    return Table("agencies", header, tuple(rows))


BUILDERS: Final[Mapping[str, Callable[[Plan, JSON, _Words], Table]]] = {
    "alerts": _alerts,
    "areas": _areas,
    "commitments": _commitments,
    "indicators": _indicators,
    "targets": _targets,
    "agencies": _agencies,
}
TABLES: Final = tuple(BUILDERS)


def build_table(name: str, plan: Plan, state: JSON, lang: Lang) -> Table:
    """The table `name` (one of TABLES) of the plan's state; KeyError for another name."""
    return BUILDERS[name](plan, state, _Words(lang))
