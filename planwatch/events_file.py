"""Offline input shared by `planwatch score` and `planwatch report`: the catalog, a JSONL file
of CloudEvents (JSON structured format, one per line) and the options that choose a plan and a day.

Signatures are not checked offline. A bad line is reported on stderr with its number and reason
and skipped; with `strict` any bad line is an error (exit 1). Clock ticks are ignored (the day is
given). Events of another plan of the catalog are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from shared.catalog import CatalogError, load_catalog
from shared.contract.codec import decode_structured
from shared.contract.events import ClockTick, ProgressReported, ProgressRetracted
from shared.contract.observation import to_observation
from shared.contract.parsing import parse_event
from shared.contract.reasons import ContractError, Reason
from shared.contract.responsibility import check_sender
from shared.domain.catalog import Catalog, Plan
from shared.domain.observation import Observation


@dataclass(frozen=True, slots=True)
class BadLine:
    number: int  # 1-based
    reason: str
    message: str

    def __str__(self) -> str:
        return f"line {self.number}: {self.reason}: {self.message}"


@dataclass(slots=True)
class ReadResult:
    observations: list[Observation] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    ticks: int = 0
    problems: int = 0  # problem events: not observations, skipped
    other_plans: int = 0
    duplicates: int = 0


def read_events(lines: Iterable[bytes], catalog: Catalog, plan: Plan) -> ReadResult:
    """Decode structured CloudEvents, one per line, into the plan's observations.

    Checks what can be checked without keys: the contract (envelope and data), the plan and
    target, the unit or stage (`to_observation`), that the reporting agency is responsible for
    the target, and that an event id is not reused by its agency with other content (ids are
    unique per source, as ingest keys them). Blank lines are skipped.
    """
    result = ReadResult()
    seen: dict[tuple[str, str], Observation] = {}
    for number, line in enumerate(lines, start=1):
        body = line.strip()
        if not body:
            continue
        try:
            event = parse_event(decode_structured(body))
            if isinstance(event, ClockTick):
                result.ticks += 1
                continue
            if not isinstance(event, ProgressReported | ProgressRetracted):
                result.problems += 1
                continue
            if event.data.plan != plan.id:
                if event.data.plan not in catalog.plans:
                    raise ContractError(Reason.UNKNOWN_PLAN, f"no plan {event.data.plan!r}")
                result.other_plans += 1
                continue
            observation = to_observation(event, plan)
            check_sender(plan, observation.target, observation.agency, observation.scope)
        except ContractError as exc:
            result.bad.append(BadLine(number, exc.reason.value, exc.message))
            continue
        key = (observation.agency, observation.event_id)
        earlier = seen.get(key)
        if earlier is not None:
            if earlier == observation:
                result.duplicates += 1
            else:
                result.bad.append(
                    BadLine(
                        number,
                        Reason.CONFLICT.value,
                        f"event id {observation.event_id!r} was used before with other content",
                    )
                )
            continue
        seen[key] = observation
        result.observations.append(observation)
    return result


# The options `planwatch score` and `planwatch report` share, declared once.
EventsOption = Annotated[
    Path,
    typer.Option(
        "--events",
        help="JSONL file: one CloudEvent in JSON structured format per line.",
        exists=True,
        dir_okay=False,
        readable=True,
    ),
]
AtOption = Annotated[
    str,
    typer.Option(
        "--at",
        metavar="<YYYY-MM-DD>",
        help="The day (YYYY-MM-DD): the state as known at its end, CST.",
    ),
]
PlanOption = Annotated[
    str | None, typer.Option("--plan", help="Plan id; default: the catalog's only plan.")
]
StrictOption = Annotated[bool, typer.Option("--strict", help="Any bad line is an error (exit 1).")]
CatalogOption = Annotated[
    Path | None,
    typer.Option("--catalog", help="Catalog folder; default: the shipped plans.", file_okay=False),
]


def parse_day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date YYYY-MM-DD", param_hint=option) from None


def choose_plan(catalog: Catalog, plan_id: str | None) -> Plan:
    known = ", ".join(sorted(catalog.plans))
    if plan_id is not None:
        if plan_id not in catalog.plans:
            raise typer.BadParameter(f"no plan {plan_id!r} (plans: {known})", param_hint="--plan")
        return catalog.plans[plan_id]
    if len(catalog.plans) != 1:
        raise typer.BadParameter(
            f"the catalog has several plans ({known}): name one", param_hint="--plan"
        )
    return next(iter(catalog.plans.values()))


def load_catalog_or_exit(catalog_dir: Path | None) -> Catalog:
    try:
        return load_catalog(catalog_dir)
    except CatalogError as exc:
        typer.echo(f"catalog: {exc}", err=True)
        raise typer.Exit(2) from None


def load_plan_events(
    events: Path, catalog_dir: Path | None, plan_id: str | None, *, strict: bool
) -> tuple[Plan, list[Observation]]:
    """The chosen plan and its observations from the file; bad lines reported on stderr."""
    catalog = load_catalog_or_exit(catalog_dir)
    plan = choose_plan(catalog, plan_id)
    with events.open("rb") as handle:
        read = read_events(handle, catalog, plan)
    for bad in read.bad:
        typer.echo(str(bad), err=True)
    if read.bad:
        typer.echo(f"{len(read.bad)} bad line(s)" + ("" if strict else " skipped"), err=True)
        if strict:
            raise typer.Exit(1)
        if not read.observations:  # nothing to score: not a plan with no reports yet
            typer.echo(f"{events}: every line is bad; nothing to score", err=True)
            raise typer.Exit(1)
    return plan, read.observations
