"""`planwatch report`: a self-contained HTML progress report (and a PDF) from a JSONL file or
from the running platform, of the whole plan or of one agency (`--agency`), optionally sent
through notify's e-mail receiver (`--send-to`).

The same inputs as `planwatch score` (one structured CloudEvent per line, read by
`read_events`), or the reports ingest stored in MongoDB (`--from-mongodb`, with MONGODB_URI
and MONGODB_DATABASE), scored by the same `score_plan` at the end of `--at`; the report embeds
the exact JSON that `planwatch score --format json` prints for them (an agency's report: its
part of it). `--at yesterday` and `--since month` let a schedule (the monthly CronJob) name
the day without a shell. The problems raised and followed come from the same input (the file's
problem events, or those ingest stored), folded as known at the end of `--at`
(planwatch/report_problems.py).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from pymongo.errors import PyMongoError

from planwatch.cli_options import NotifyUrlOption
from planwatch.events_file import (
    CatalogOption,
    PlanOption,
    StrictOption,
    choose_plan,
    load_catalog_or_exit,
    load_plan_events,
    parse_day,
)
from planwatch.report.agency import UnknownAgencyError, agency_report
from planwatch.report.agency_render import render_agency_report
from planwatch.report.model import DEFAULT_STEP_DAYS, ReportData, ReportPeriodError, build_report
from planwatch.report.pdf import PdfError, find_chromium, print_to_pdf
from planwatch.report.problems import ReportProblems
from planwatch.report.render import name_of, render_report, word
from planwatch.report_problems import report_problems
from planwatch.report_send import ReportMail, ReportSendError, send_report
from planwatch.stored_reports import read_stored_reports
from shared.domain.catalog import Plan
from shared.domain.method_v1 import UnknownTargetError
from shared.domain.observation import Observation
from shared.domain.timebase import cst_date
from shared.runtime.settings import MongoSettings
from shared.vocabulary import Lang

report_app = typer.Typer(help="Write a progress report.")

YESTERDAY = "yesterday"  # --at: the CST day before today
MONTH = "month"  # --since: the first day of --at's month

COVER_NOTE = {
    Lang.ZH: "《{title}》{what}（截至 {day}）见附件 {filename}。本邮件由 planwatch 生成。",
    Lang.EN: "The {what} of the {title}, as known at {day}, is attached ({filename}). "
    "Sent by planwatch.",
}


def report_day(text: str, now: datetime | None = None) -> date:
    """`--at`: a day YYYY-MM-DD, or `yesterday` (the CST day before `now`'s)."""
    if text == YESTERDAY:
        return cst_date(now or datetime.now(UTC)) - timedelta(days=1)
    return parse_day(text, "--at")


def period_start(text: str | None, day: date) -> date | None:
    """`--since`: a day, `month` (the first day of `day`'s month), or None (the plan's issue)."""
    if text is None:
        return None
    if text == MONTH:
        return day.replace(day=1)
    return parse_day(text, "--since")


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
    at: Annotated[
        str,
        typer.Option(
            "--at",
            metavar="<YYYY-MM-DD>",
            help="The day (YYYY-MM-DD, or yesterday): the state as known at its end, CST.",
        ),
    ],
    plan_id: PlanOption = None,
    agency: Annotated[
        str | None,
        typer.Option(
            "--agency",
            help="One agency's report (its scorecard, targets and alerts); default: the plan's.",
        ),
    ] = None,
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
            help="First day of the alert period (YYYY-MM-DD, or month: the first of --at's "
            "month); default: plan issue date.",
        ),
    ] = None,
    step_days: Annotated[
        int,
        typer.Option("--step-days", min=1, help="Re-evaluate every N days for the period alerts."),
    ] = DEFAULT_STEP_DAYS,
    send_to: Annotated[
        str | None,
        typer.Option(
            "--send-to",
            metavar="<receiver>",
            help="Mail the report (the PDF with --pdf) to this receiver of notify's routing "
            "file, through notify (--url; token scope reports:send).",
        ),
    ] = None,
    url: NotifyUrlOption = None,
    strict: StrictOption = False,
    catalog_dir: CatalogOption = None,
) -> None:
    """Write the plan's (or one agency's) progress report as known at the end of a day."""
    day = report_day(at)
    first = period_start(since, day)
    if (events is None) == (not from_mongodb):
        raise typer.BadParameter("give --events FILE or --from-mongodb (one of them)")
    if send_to is not None and not url:
        raise typer.BadParameter("--send-to needs notify's --url", param_hint="--url")
    if events is not None:
        plan, observations = load_plan_events(events, catalog_dir, plan_id, strict=strict)
    else:
        plan, observations = _stored(catalog_dir, plan_id, strict=strict)
    try:
        data = build_report(plan, observations, day, since=first, step_days=step_days)
    except (ReportPeriodError, UnknownTargetError) as exc:
        typer.echo(f"report: {exc}", err=True)
        raise typer.Exit(2) from None
    problems = report_problems(
        events, plan, day, data.since, catalog_dir=catalog_dir, strict=strict
    )
    out.write_text(_render(data, agency, lang, problems), encoding="utf-8")
    typer.echo(f"wrote {out}")
    attachment = out
    if pdf:
        made = _pdf(out, needed=send_to is not None)
        if made is None:
            return
        attachment = made
    if send_to is not None and url:
        _send(url, send_to, attachment, data, agency=agency, lang=lang)


def _render(data: ReportData, agency: str | None, lang: Lang, problems: ReportProblems) -> str:
    if agency is None:
        return render_report(data, lang, problems)
    try:
        mine = problems.for_agency(data.plan, agency).all
        return render_agency_report(agency_report(data, agency, mine), lang)
    except UnknownAgencyError as exc:
        raise typer.BadParameter(str(exc), param_hint="--agency") from None


def _pdf(html: Path, *, needed: bool) -> Path | None:
    """The PDF beside `html`; None (exit 0) without chromium unless it is `needed` (exit 1)."""
    chromium = find_chromium()
    if chromium is None:
        typer.echo(
            "no PDF: chromium is not installed (/usr/bin/chromium); "
            "services/scoring/dashboard/install-chromium.sh installs it"
            + ("; nothing sent" if needed else ""),
            err=True,
        )
        if needed:
            raise typer.Exit(1)
        return None
    target = html.with_suffix(".pdf")
    try:
        print_to_pdf(chromium, html, target)
    except PdfError as exc:
        typer.echo(f"no PDF: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {target}")
    return target


def _send(
    url: str, receiver: str, attachment: Path, data: ReportData, *, agency: str | None, lang: Lang
) -> None:
    plan = data.plan
    title = plan.title_zh if lang is Lang.ZH else plan.title_en
    what = word("report_title" if agency is None else "agency_report_title", lang)
    if agency is not None:
        what = f"{name_of(plan, 'agency', agency, lang)} {what}"
    day = data.day.isoformat()
    mail = ReportMail(
        receiver=receiver,
        subject=f"{title} · {what} · {day}",
        text=COVER_NOTE[lang].format(title=title, what=what, day=day, filename=attachment.name),
        attachment=attachment,
    )
    try:
        answer = send_report(url, mail)
    except ReportSendError as exc:
        typer.echo(f"report: not sent: {exc}", err=True)
        raise typer.Exit(1) from None
    recipients = sorted({to for sent in answer.get("sent", []) for to in sent.get("to", [])})
    typer.echo(f"sent {attachment.name} to {receiver}: {', '.join(recipients)}")
