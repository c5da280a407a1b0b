"""`planwatch publish --file FILE`: every row of a reports sheet, checked, signed and sent.

The steps, each in its module: read the sheet (planwatch.sheets), parse and check every row as
ingest would (planwatch.publish_file), stop with the list of errors unless `--skip-bad`, note
the rows' report times (planwatch.sent_ledger), sign, send (planwatch.publish_send) and print
the receipt (planwatch.receipt). Exit status 1 when a row was invalid, rejected or not sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from planwatch.events_file import choose_plan
from planwatch.publish_file import check_rows, parse_rows, row_event_id
from planwatch.publish_send import Progress as Advance
from planwatch.publish_send import SendError, SignedRow, send_http, send_kafka, unsent
from planwatch.receipt import FAILED, ReceiptLine, RowStatus, error_lines, json_lines, write_table
from planwatch.sent_ledger import default_path, note_times, read_times
from planwatch.sheets import SheetError, read_sheet
from shared.catalog import CatalogError, load_catalog
from shared.contract.events import parse_rfc3339
from shared.contract.signing import sign
from shared.domain.timebase import CST
from shared.runtime.settings import KafkaSettings

#: Files with at least this many rows to send get a progress bar (on stderr, if a terminal).
PROGRESS_MIN_ROWS: Final = 100


@dataclass(frozen=True, slots=True)
class FileOptions:
    path: Path
    agency: str
    key_id: str
    private_key: Ed25519PrivateKey
    plan: str | None
    time: str | None
    via_http: bool
    structured: bool
    kafka: KafkaSettings
    topic: str
    url: str
    timeout_s: float
    skip_bad: bool
    as_json: bool
    ledger: Path | None


def _print(lines: Sequence[ReceiptLine], options: FileOptions, title: str) -> None:
    if options.as_json:
        for text in json_lines(lines):
            typer.echo(text)
    else:
        console = Console()
        if not console.is_terminal:  # a file or a pipe: no folding of long messages
            console = Console(width=max(console.width, 200))
        write_table(lines, console, title)


@contextmanager
def _progress_bar(total: int) -> Iterator[Advance]:
    console = Console(stderr=True)
    bar = Progress(
        TextColumn("sending"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=total < PROGRESS_MIN_ROWS or not console.is_terminal,
    )
    with bar:
        task = bar.add_task("sending", total=total)
        yield lambda done: bar.advance(task, done)


def _report_time(text: str | None) -> str:
    if text is None:
        return datetime.now(CST).replace(microsecond=0).isoformat()
    try:
        parse_rfc3339(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--time") from None
    return text


def publish_file(options: FileOptions) -> None:
    try:
        catalog = load_catalog()
    except CatalogError as exc:
        typer.echo(f"catalog: {exc}", err=True)
        raise typer.Exit(2) from None
    plan = choose_plan(catalog, options.plan)
    if options.agency not in plan.agencies:
        raise typer.BadParameter(
            f"plan {plan.id!r} has no agency {options.agency!r}", param_hint="--agency"
        )
    try:
        sheet = read_sheet(options.path)
    except SheetError as exc:
        raise typer.BadParameter(str(exc), param_hint="--file") from None

    reports, errors = parse_rows(sheet)
    ledger = options.ledger or default_path(options.agency)
    ids = {row_event_id(options.agency, plan.id, report) for report in reports}
    try:
        known = read_times(ledger, ids)
    except OSError as exc:
        raise typer.BadParameter(
            f"{ledger}: {exc.strerror or exc}", param_hint="--ledger"
        ) from None
    ready, more = check_rows(
        reports,
        agency=options.agency,
        plan=plan,
        catalog=catalog,
        times=known,
        default_time=_report_time(options.time),
        now=datetime.now(CST),
    )
    errors = sorted(errors + more, key=lambda error: error.row)
    if errors and not options.skip_bad:
        _print(error_lines(errors, RowStatus.INVALID), options, f"{options.path.name}: errors")
        rows = len({error.row for error in errors})
        typer.echo(
            f"{rows} row(s) with errors; nothing was sent "
            "(fix them, or pass --skip-bad to send the other rows)",
            err=True,
        )
        raise typer.Exit(1)
    if not ready:
        typer.echo(f"{options.path.name}: no report to send", err=True)
        raise typer.Exit(1)

    signed = [SignedRow(r.row, sign(r.event, options.private_key, options.key_id)) for r in ready]
    try:
        note_times(ledger, {row.event.id: row.event.envelope.time for row in signed}, known)
    except OSError as exc:  # without the note, a re-send could not keep the report times
        typer.echo(f"error: {ledger}: {exc.strerror or exc}; nothing was sent", err=True)
        raise typer.Exit(1) from None
    lines = error_lines(errors, RowStatus.SKIPPED) + _send(signed, options)
    lines.sort(key=lambda line: line.row)
    _print(lines, options, f"{options.path.name}: receipt")
    if options.via_http is False:
        typer.echo(
            "sent to Kafka: ingest judges the rows later (--via http answers each)", err=True
        )
    if any(line.status in FAILED for line in lines):
        raise typer.Exit(1)


def _send(rows: Sequence[SignedRow], options: FileOptions) -> list[ReceiptLine]:
    with _progress_bar(len(rows)) as advance:
        try:
            if options.via_http:
                return asyncio.run(
                    send_http(rows, options.url, timeout_s=options.timeout_s, progress=advance)
                )
            return asyncio.run(
                send_kafka(
                    rows,
                    options.kafka,
                    options.topic,
                    structured=options.structured,
                    timeout_s=options.timeout_s,
                    progress=advance,
                )
            )
        except SendError as exc:
            typer.echo(f"error: {exc}", err=True)
            return unsent(rows, str(exc))
