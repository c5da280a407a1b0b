"""`planwatch report`: a self-contained HTML progress report (and a PDF) from a JSONL file or
from the running platform.

The same inputs as `planwatch score` (one structured CloudEvent per line, read by
`read_events`), or the reports ingest stored in MongoDB (`--from-mongodb`, with MONGODB_URI
and MONGODB_DATABASE), scored by the same `score_plan` at the end of `--at`; the report embeds
the exact JSON that `planwatch score --format json` prints for them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from pymongo.errors import PyMongoError

from planwatch.events_file import (
    AtOption,
    CatalogOption,
    PlanOption,
    StrictOption,
    choose_plan,
    load_catalog_or_exit,
    load_plan_events,
    parse_day,
)
from planwatch.report.model import DEFAULT_STEP_DAYS, ReportPeriodError, build_report
from planwatch.report.pdf import PdfError, find_chromium, print_to_pdf
from planwatch.report.render import render_report
from planwatch.stored_reports import read_stored_reports
from shared.domain.catalog import Plan
from shared.domain.method_v1 import UnknownTargetError
from shared.domain.observation import Observation
from shared.runtime.settings import MongoSettings
from shared.vocabulary import Lang

report_app = typer.Typer(help="Write a progress report.")


def _stored(
    catalog_dir: Path | None, plan_id: str | None, *, strict: bool
) -> tuple[Plan, list[Observation]]:
    plan = choose_plan(load_catalog_or_exit(catalog_dir), plan_id)
    settings = MongoSettings()
    try:
        found = asyncio.run(read_stored_reports(plan, settings))
    except PyMongoError as exc:
        typer.echo(f"report: cannot read the stored reports in MongoDB: {exc}", err=True)
        raise typer.Exit(1) from None
    for reason in found.unreadable:
        typer.echo(reason, err=True)
    if found.unknown:
        typer.echo(f"{found.unknown} stored report(s) on unknown targets skipped", err=True)
    if found.unreadable and strict:
        raise typer.Exit(1)
    typer.echo(
        f"{len(found.observations)} stored report(s) of {plan.id} in {settings.database}", err=True
    )
    return plan, found.observations


@report_app.command("report")
def report(
    *,
    events: Annotated[
        Path | None,
        typer.Option(
            "--events",
            help="JSONL file: one CloudEvent in JSON structured format per line.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    from_mongodb: Annotated[
        bool,
        typer.Option(
            "--from-mongodb",
            help="Read the running platform's stored reports (MONGODB_URI, MONGODB_DATABASE).",
        ),
    ] = False,
    at: AtOption,
    plan_id: PlanOption = None,
    lang: Annotated[
        Lang, typer.Option("--lang", help="Language of the report: zh or en.")
    ] = Lang.ZH,
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.", dir_okay=False)] = (
        Path("report.html")
    ),
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Also write a PDF beside it (needs chromium).")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="<YYYY-MM-DD>",
            help="First day of the alert period; default: plan issue date.",
        ),
    ] = None,
    step_days: Annotated[
        int,
        typer.Option("--step-days", min=1, help="Re-evaluate every N days for the period alerts."),
    ] = DEFAULT_STEP_DAYS,
    strict: StrictOption = False,
    catalog_dir: CatalogOption = None,
) -> None:
    """Write the plan's progress report as known at the end of a day."""
    day = parse_day(at, "--at")
    first = parse_day(since, "--since") if since is not None else None
    if (events is None) == (not from_mongodb):
        raise typer.BadParameter("give --events FILE or --from-mongodb (one of them)")
    if events is not None:
        plan, observations = load_plan_events(events, catalog_dir, plan_id, strict=strict)
    else:
        plan, observations = _stored(catalog_dir, plan_id, strict=strict)
    try:
        data = build_report(plan, observations, day, since=first, step_days=step_days)
    except (ReportPeriodError, UnknownTargetError) as exc:
        typer.echo(f"report: {exc}", err=True)
        raise typer.Exit(2) from None
    out.write_text(render_report(data, lang), encoding="utf-8")
    typer.echo(f"wrote {out}")
    if pdf:
        chromium = find_chromium()
        if chromium is None:
            typer.echo(
                "no PDF: chromium is not installed (/usr/bin/chromium); "
                "services/scoring/dashboard/install-chromium.sh installs it",
                err=True,
            )
            return
        target = out.with_suffix(".pdf")
        try:
            print_to_pdf(chromium, out, target)
        except PdfError as exc:
            typer.echo(f"no PDF: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"wrote {target}")
