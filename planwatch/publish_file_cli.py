"""`planwatch publish --file FILE`: every row of a reports sheet, checked, signed and sent.

The steps, each in its module: read the sheet (planwatch.sheets), parse and check every row as
ingest would (planwatch.publish_file), stop with the list of errors unless `--skip-bad`, note
the rows' report times (planwatch.sent_ledger), sign, send (planwatch.publish_send) and print
the receipt (planwatch.receipt). Exit status 1 when a row was invalid, rejected or not sent.
Messages in the chosen language (`Voice`); the JSON receipt is the same in any.
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

from planwatch.cli_options import OutputFormat, Voice
from planwatch.publish_file import check_rows, parse_rows, row_event_id
from planwatch.publish_send import Progress as Advance
from planwatch.publish_send import SendError, SignedRow, send_http, send_kafka, unsent
from planwatch.receipt import FAILED, ReceiptLine, RowStatus, error_lines, json_lines, write_table
from planwatch.sent_ledger import default_path, note_times, read_times
from planwatch.sheets import SheetError, read_sheet
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
    output: OutputFormat
    ledger: Path | None
    voice: Voice


def _print(lines: Sequence[ReceiptLine], options: FileOptions, title: str) -> None:
    if options.output is OutputFormat.JSON:
        for text in json_lines(lines):
            typer.echo(text)
    else:
        console = Console()
        if not console.is_terminal:  # a file or a pipe: no folding of long messages
            console = Console(width=max(console.width, 200))
        write_table(lines, console, title, options.voice.lang)


@contextmanager
def _progress_bar(total: int, label: str) -> Iterator[Advance]:
    console = Console(stderr=True)
    bar = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=total < PROGRESS_MIN_ROWS or not console.is_terminal,
    )
    with bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.advance(task, done)


def _report_time(text: str | None, voice: Voice) -> str:
    if text is None:
        return datetime.now(CST).replace(microsecond=0).isoformat()
    try:
        parse_rfc3339(text)
    except ValueError as exc:
        raise voice.refuse("publish.bad_time", time=text, error=exc) from None
    return text


def publish_file(options: FileOptions) -> None:
    voice = options.voice
    catalog = voice.catalog()
    plan = voice.plan(catalog, options.plan)
    if options.agency not in plan.agencies:
        raise voice.refuse("plan.no_agency", plan=plan.id, agency=options.agency)
    try:
        sheet = read_sheet(options.path)
    except SheetError as exc:
        raise voice.fail_with(exc.text, exit_code=2) from None

    reports, errors = parse_rows(sheet)
    ledger = options.ledger or default_path(options.agency)
    ids = {row_event_id(options.agency, plan.id, report) for report in reports}
    try:
        known = read_times(ledger, ids)
    except OSError as exc:
        raise voice.refuse(
            "publish.ledger_unreadable", path=ledger, error=exc.strerror or exc
        ) from None
    ready, more = check_rows(
        reports,
        agency=options.agency,
        plan=plan,
        catalog=catalog,
        times=known,
        default_time=_report_time(options.time, voice),
        now=datetime.now(CST),
    )
    errors = sorted(errors + more, key=lambda error: error.row)
    if errors and not options.skip_bad:
        title = voice.say("receipt.errors_title", name=options.path.name)
        _print(error_lines(errors, RowStatus.INVALID), options, title)
        voice.note("publish.rows_invalid", rows=len({error.row for error in errors}))
        raise typer.Exit(1)
    if not ready:
        raise voice.fail("publish.nothing_to_send", name=options.path.name)

    signed = [SignedRow(r.row, sign(r.event, options.private_key, options.key_id)) for r in ready]
    try:
        note_times(ledger, {row.event.id: row.event.envelope.time for row in signed}, known)
    except OSError as exc:  # without the note, a re-send could not keep the report times
        error = exc.strerror or exc
        raise voice.fail("publish.ledger_unwritable", path=ledger, error=error) from None
    lines = error_lines(errors, RowStatus.SKIPPED) + _send(signed, options)
    lines.sort(key=lambda line: line.row)
    _print(lines, options, voice.say("receipt.title", name=options.path.name))
    if options.via_http is False:
        voice.note("publish.kafka_later")
    if any(line.status in FAILED for line in lines):
        raise typer.Exit(1)


def _send(rows: Sequence[SignedRow], options: FileOptions) -> list[ReceiptLine]:
    with _progress_bar(len(rows), options.voice.say("publish.sending")) as advance:
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
            options.voice.note("error", detail=exc)
            return unsent(rows, str(exc))
