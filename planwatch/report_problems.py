"""Where `planwatch report` gets the problems it shows: the problem events of the same input as
the progress reports (the events file, or the events ingest stored in MongoDB), as each
problem's entries (planwatch/problem_events.py, planwatch/stored_problems.py), then folded as
known at the report's day (planwatch/report/problems.py). What could not be read is said on
stderr; with `strict` it is an error (exit 1), as a bad line of the events file is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import typer
from pymongo.errors import PyMongoError

from planwatch.events_file import load_catalog_or_exit
from planwatch.problem_events import read_problem_file
from planwatch.report.problems import ReportProblems, problems_at
from planwatch.stored_problems import read_stored_problems
from shared.domain.catalog import Plan
from shared.domain.problems import ProblemEntry
from shared.runtime.settings import MongoSettings


def _complain(reasons: Sequence[str], *, strict: bool) -> None:
    for reason in reasons:
        typer.echo(f"problems: {reason}", err=True)
    if reasons and strict:
        raise typer.Exit(1)


def problem_entries(
    events: Path | None, plan: Plan, catalog_dir: Path | None, *, strict: bool
) -> Mapping[str, list[ProblemEntry]]:
    """The plan's problem events from the events file, or (None) from MongoDB."""
    if events is not None:
        read = read_problem_file(events, load_catalog_or_exit(catalog_dir), plan)
        _complain([str(bad) for bad in read.bad], strict=strict)
        return read.entries
    try:
        stored = asyncio.run(read_stored_problems(plan, MongoSettings()))
    except PyMongoError as exc:
        typer.echo(f"report: cannot read the stored problem events in MongoDB: {exc}", err=True)
        raise typer.Exit(1) from None
    _complain(stored.unreadable, strict=strict)
    return stored.entries


def report_problems(
    events: Path | None,
    plan: Plan,
    day: date,
    since: date,
    *,
    catalog_dir: Path | None,
    strict: bool,
) -> ReportProblems:
    found = problems_at(plan, problem_entries(events, plan, catalog_dir, strict=strict), day, since)
    typer.echo(
        f"{len(found.open)} open problem(s), {len(found.ended)} ended in the period", err=True
    )
    return found
