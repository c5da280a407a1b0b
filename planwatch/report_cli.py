"""`planwatch report`: a self-contained HTML progress report (and a PDF) from a JSONL file.

The same inputs as `planwatch score` (one structured CloudEvent per line, read by
`read_events`), scored by the same `score_plan` at the end of `--at`; the report embeds the
exact JSON that `planwatch score --format json` prints for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from planwatch.events_file import (
    AtOption,
    CatalogOption,
    EventsOption,
    PlanOption,
    StrictOption,
    load_plan_events,
    parse_day,
)
from planwatch.report.model import DEFAULT_STEP_DAYS, ReportPeriodError, build_report
from planwatch.report.pdf import PdfError, find_chromium, print_to_pdf
from planwatch.report.render import render_report
from shared.domain.method_v1 import UnknownTargetError
from shared.vocabulary import Lang

report_app = typer.Typer(help="Write a progress report.")


@report_app.command("report")
def report(
    *,
    events: EventsOption,
    at: AtOption,
    plan_id: PlanOption = None,
    lang: Annotated[Lang, typer.Option("--lang", help="zh (default) or en.")] = Lang.ZH,
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.", dir_okay=False)] = (
        Path("report.html")
    ),
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Also write a PDF beside it (needs chromium).")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option("--since", help="First day of the alert period; default: plan issue date."),
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
    plan, observations = load_plan_events(events, catalog_dir, plan_id, strict=strict)
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
