"""`planwatch score`: a plan's state as known at the end of a day, offline, from a JSONL file
of CloudEvents (read by `planwatch.events_file`: bad lines reported and skipped, or an error
with `--strict`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from planwatch.events_file import (
    AtOption,
    CatalogOption,
    EventsOption,
    PlanOption,
    StrictOption,
    load_plan_events,
    parse_day,
)
from shared.domain.catalog import Plan
from shared.domain.method_v1 import PlanState, Rollup, Status, plan_state_to_json, score_plan
from shared.domain.timebase import end_of_day
from shared.vocabulary import STATUS_LABEL, Lang, word

score_app = typer.Typer(help="Score a plan offline from a file of events.")


class OutputFormat(StrEnum):
    JSON = "json"
    TABLE = "table"


# --- table output ---------------------------------------------------------------------------

STATUS_STYLE: Mapping[Status, str] = {
    Status.ACHIEVED: "bold green",
    Status.ON_TRACK: "green",
    Status.INSUFFICIENT_DATA: "dim",
    Status.AT_RISK: "yellow",
    Status.OFF_TRACK: "dark_orange",
    Status.DETERIORATING: "red",
    Status.MISSED: "bold red",
    Status.NO_DATA: "dim",
}
HEADINGS: Mapping[str, tuple[str, str]] = {  # key: (zh, en)
    "targets": ("指标", "Targets"),
    "tasks": ("任务", "Tasks"),
    "areas": ("领域", "Areas"),
    "agencies": ("单位", "Agencies"),
    "alerts": ("告警", "Alerts firing"),
    "id": ("编号", "ID"),
    "name": ("名称", "Name"),
    "status": ("状态", "Status"),
    "score": ("得分", "Score"),
    "progress": ("完成度", "Progress"),
    "expected": ("应完成", "Expected"),
    "pace": ("进度比", "Pace R"),
    "current": ("最新值", "Current"),
    "days_left": ("剩余天数", "Days left"),
    "stale": ("逾期未报", "Stale"),
    "counts": ("状态分布", "Counts"),
    "lead": ("牵头", "Lead"),
    "co": ("配合", "Co-owner"),
    "target": ("指标", "Target"),
    "rule": ("规则", "Rule"),
    "severity": ("级别", "Severity"),
    "plan": ("总体", "Plan"),
    "as_of": ("截至", "as known at"),
    "yes": ("是", "yes"),
}


WIDE_TABLE = 140
PIPE_WIDTH = 200


def _h(key: str, lang: Lang) -> str:
    zh, en = HEADINGS[key]
    return zh if lang is Lang.ZH else en


def _column(table: Table, key: str, lang: Lang) -> None:
    """Names wrap; ids, statuses and numbers stay on one line."""
    if key == "name":
        table.add_column(_h(key, lang), ratio=1, min_width=12, overflow="fold")
    else:
        table.add_column(_h(key, lang), no_wrap=True)


def _status(status: Status | None, lang: Lang) -> Text:
    if status is None:
        return Text("—", style="dim")
    label = STATUS_LABEL[Lang.ZH][status] if lang is Lang.ZH else status.value
    return Text(label, style=STATUS_STYLE[status])


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{100 * min(max(share, 0.0), 1.0):.1f}%"


def _counts(rollup: Rollup, lang: Lang) -> str:
    parts = [
        f"{STATUS_LABEL[Lang.ZH][s] if lang is Lang.ZH else s.value} {n}"
        for s, n in rollup.counts.items()
        if n
    ]
    return ", ".join(parts) or "—"


def _rollup_table(
    title: str, rollups: Mapping[str, Rollup], names: Mapping[str, str], lang: Lang
) -> Table:
    table = Table(title=title, title_justify="left")
    for key in ("id", "name", "status", "score", "counts"):
        _column(table, key, lang)
    for level_id, rollup in rollups.items():
        table.add_row(
            level_id,
            names.get(level_id, ""),
            _status(rollup.status, lang),
            _num(rollup.score),
            _counts(rollup, lang),
        )
    return table


def _print_tracked(state: PlanState, plan: Plan, lang: Lang, console: Console) -> None:
    """Commitments (done / total, date) and indicators (latest value): tracked, never scored."""
    assert state.tracked is not None
    zh = lang is Lang.ZH
    commitments = Table(title=word("commitments", lang), title_justify="left")
    for key in ("id", "task", "done", "deadline"):
        commitments.add_column(word(key, lang) if key in ("done", "deadline") else key)
    for commitment_id, c in state.tracked.commitments.items():
        when = c.deadline.isoformat() if c.deadline else word("no_date", lang)
        late = Text(f" {word('late', lang)}", style="red") if c.late else ""
        commitments.add_row(commitment_id, c.task, f"{c.done}/{c.total}", Text.assemble(when, late))
    console.print(commitments)
    indicators = Table(title=word("indicators", lang), title_justify="left")
    for key in ("id", "task", "current", "trend"):
        indicators.add_column(word(key, lang) if key in ("current", "trend") else key)
    for indicator_id, i in state.tracked.indicators.items():
        unit = plan.indicators[indicator_id]
        unit_text = unit.unit_zh if zh else unit.unit_en
        current = (
            "—"
            if i.current is None
            else f"{i.current.value:g} {unit_text} @ {i.current.as_of.isoformat()}"
        )
        trend = " → ".join(f"{p.value:g}" for p in i.trend)
        indicators.add_row(indicator_id, i.task, current, trend)
    console.print(indicators)


def render_table(state: PlanState, plan: Plan, lang: Lang, console: Console) -> None:
    zh = lang is Lang.ZH
    title = plan.title_zh if zh else plan.title_en
    console.print(
        Text.assemble(
            (title, "bold"),
            f"  {_h('as_of', lang)} {state.day.isoformat()}  (method {state.method})",
        )
    )
    console.print(
        Text.assemble(
            f"{_h('plan', lang)}: ",
            _status(state.total.status, lang),
            f"  {_h('score', lang)} {_num(state.total.score)}  {_counts(state.total, lang)}",
        )
    )
    if state.tracked is not None:
        tasks = state.tracked.tasks
        console.print(
            f"{word('coverage', lang)} {_percent(state.total.coverage)}  "
            f"{len(tasks.scored)} / {tasks.total} {word('tasks_scored', lang)}  "
            f"{len(tasks.tracked)} / {tasks.total} {word('tasks_tracked', lang)}"
        )

    targets = Table(title=_h("targets", lang), title_justify="left")
    # Target names are long: below WIDE_TABLE columns the ids (which say what they are) stand
    # alone, so the figures keep their room.
    names = console.width >= WIDE_TABLE
    keys = ["id", "name", "status", "score", "progress", "expected", "pace", "current"]
    for key in [*keys, "days_left", "stale"]:
        if key != "name" or names:
            _column(targets, key, lang)
    for target_id, result in state.targets.items():
        target = plan.targets[target_id]
        current = result.current
        name_cell = [target.metric_zh if zh else target.name_en] if names else []
        targets.add_row(
            target_id,
            *name_cell,
            _status(result.status, lang),
            _num(result.score),
            _percent(result.progress_share),
            _percent(result.expected_share),
            _num(result.pace_ratio),
            "—" if current is None else f"{current.value:g} @ {current.as_of.isoformat()}",
            "—" if result.days_left is None else str(result.days_left),
            Text(_h("yes", lang), style="red") if result.stale else "",
        )
    console.print(targets)

    task_names = {t.id: t.name_zh if zh else t.name_en for t in plan.tasks.values()}
    area_names = {a.id: a.name_zh if zh else a.name_en for a in plan.areas.values()}
    console.print(_rollup_table(_h("tasks", lang), state.tasks, task_names, lang))
    console.print(_rollup_table(_h("areas", lang), state.areas, area_names, lang))

    agencies = Table(title=_h("agencies", lang), title_justify="left")
    for key in ("id", "name", "lead", "co", "stale"):
        _column(agencies, key, lang)
    for agency_id, card in state.agencies.items():
        agency = plan.agencies.get(agency_id)
        name = "" if agency is None else agency.name_zh if zh else agency.name_en
        agencies.add_row(
            agency_id,
            name,
            Text.assemble(_status(card.lead.status, lang), f" {_num(card.lead.score)}"),
            Text.assemble(_status(card.co.status, lang), f" {_num(card.co.score)}"),
            str(card.stale),
        )
    console.print(agencies)
    if state.tracked is not None:
        _print_tracked(state, plan, lang, console)

    alerts = Table(title=_h("alerts", lang), title_justify="left")
    for key in ("target", "rule", "severity"):
        _column(alerts, key, lang)
    severity_style = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
    for alert in state.alerts:
        alerts.add_row(
            alert.target,
            alert.rule.value,
            Text(alert.severity.value, style=severity_style[alert.severity.value]),
        )
    console.print(alerts)


# --- the command ----------------------------------------------------------------------------


@score_app.command("score")
def score(
    *,
    events: EventsOption,
    at: AtOption,
    plan_id: PlanOption = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="json (for programs) or table (for people).")
    ] = (OutputFormat.JSON),
    lang: Annotated[
        Lang, typer.Option("--lang", help="Language of the table: zh or en.")
    ] = Lang.ZH,
    strict: StrictOption = False,
    catalog_dir: CatalogOption = None,
) -> None:
    """Print a plan's scores, roll-ups and firing alerts as known at the end of a day."""
    day = parse_day(at, "--at")
    plan, observations = load_plan_events(events, catalog_dir, plan_id, strict=strict)
    state = score_plan(plan, observations, end_of_day(day))
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(plan_state_to_json(state), ensure_ascii=False, indent=2))
    else:
        console = Console()
        if not console.is_terminal:  # a file or a pipe: no need to squeeze into 80 columns
            console = Console(width=PIPE_WIDTH)
        render_table(state, plan, lang, console)
