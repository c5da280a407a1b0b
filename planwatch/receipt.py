"""The receipt of `planwatch publish --file`: one line per row, then the totals.

As a table (rich) in the chosen language (statuses, headings and each reason's meaning; the
details ingest and the contract give stay English) or, with `--format json`, as JSON lines,
the same in any language: one object per row, then `{"totals": …}`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from planwatch.messages import Msg, reason_meaning, say
from planwatch.publish_file import RowError
from shared.vocabulary import Lang


class RowStatus(StrEnum):
    # ingest's answers (--via http)
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    # Kafka gives no verdict per event: the broker took it, ingest judges it later (--via kafka)
    SENT = "sent"
    # the local checks: skipped with --skip-bad; invalid (and nothing sent) without it
    SKIPPED = "skipped"
    INVALID = "invalid"
    # checked, but it could not be sent (the server did not answer, or refused the request)
    UNSENT = "unsent"


#: Statuses that make the command exit 1.
FAILED = frozenset({RowStatus.REJECTED, RowStatus.INVALID, RowStatus.UNSENT})

_STYLE = {
    RowStatus.ACCEPTED: "green",
    RowStatus.DUPLICATE: "cyan",
    RowStatus.SENT: "green",
    RowStatus.REJECTED: "red",
    RowStatus.INVALID: "red",
    RowStatus.UNSENT: "red",
    RowStatus.SKIPPED: "yellow",
}


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    row: int
    status: RowStatus
    event_id: str | None = None
    target: str | None = None
    as_of: str | None = None
    reason: str | None = None
    message: str = ""  # English: the JSON's
    text: Msg | None = field(default=None, compare=False)  # the table's, in any language

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"row": self.row, "status": self.status.value}
        for name in ("event_id", "target", "as_of", "reason"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        if self.message:
            body["message"] = self.message
        return body


def error_lines(errors: Iterable[RowError], status: RowStatus) -> list[ReceiptLine]:
    return [
        ReceiptLine(
            e.row,
            status,
            target=e.target,
            as_of=e.as_of,
            reason=e.reason,
            message=e.message,
            text=e.text,
        )
        for e in errors
    ]


def totals(lines: Iterable[ReceiptLine]) -> dict[str, int]:
    """Rows by status, in the enum's order (a row with two errors counts once); statuses no
    row has are left out."""
    rows: dict[RowStatus, set[int]] = {status: set() for status in RowStatus}
    for line in lines:
        rows[line.status].add(line.row)
    return {status.value: len(numbers) for status, numbers in rows.items() if numbers}


def json_lines(lines: Sequence[ReceiptLine]) -> Iterator[str]:
    for line in lines:
        yield json.dumps(line.to_json(), ensure_ascii=False)
    yield json.dumps({"totals": totals(lines)})


def line_message(line: ReceiptLine, lang: Lang) -> str:
    """The message column: the catalog's own text, else the reason's meaning and the detail."""
    if line.text is not None:
        return line.text.render(lang)
    if line.reason:
        meaning = reason_meaning(line.reason, lang)
        return say("receipt.explained", lang, meaning=meaning, message=line.message)
    return line.message


def write_table(
    lines: Sequence[ReceiptLine], console: Console, title: str | None = None, lang: Lang = Lang.EN
) -> None:
    table = Table(title=title)
    table.add_column(say("receipt.row", lang), justify="right", no_wrap=True)
    for heading in ("target", "as_of", "status", "reason"):
        table.add_column(say(f"receipt.{heading}", lang), no_wrap=True)
    table.add_column(say("receipt.message", lang), overflow="fold")
    for line in lines:
        # Text, not markup: cells hold what the sheet and the server said.
        table.add_row(
            Text(str(line.row)),
            Text(line.target or ""),
            Text(line.as_of or ""),
            Text(say(f"status.{line.status.value}", lang), style=_STYLE[line.status]),
            Text(line.reason or ""),
            Text(line_message(line, lang)),
        )
    console.print(table)
    counts = ", ".join(
        f"{say(f'status.{status}', lang)} {count}" for status, count in totals(lines).items()
    )
    console.print(Text(say("receipt.totals", lang, counts=counts)))
