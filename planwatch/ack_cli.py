"""`planwatch ack FINGERPRINT --receiver R [--note N] [--until 4h|ISO]`, `planwatch ack list`,
`planwatch ack withdraw FINGERPRINT --receiver R`: acknowledging alerts through notify's API
(/api/v1). The token (PLANWATCH_TOKEN_FILE or PLANWATCH_TOKEN) needs `alerts:ack`; notify
records its subject as the one who acknowledged."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from planwatch.cli_options import FormatOption, JsonAlias, OutputFormat, chosen_format
from planwatch.silence_cli import UrlOption, _call, _instant
from services.notify.domain.durations import DurationError, parse_duration


class _DefaultToAdd(TyperGroup):
    """`planwatch ack FP ...` is `planwatch ack add FP ...`: a first argument that names no
    command is a fingerprint."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's vendored Context
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["add", *args]
        return super().parse_args(ctx, args)


ack_app = typer.Typer(
    cls=_DefaultToAdd,
    help="Acknowledge notify's alerts: reminders to that receiver stop, escalation stops.",
    no_args_is_help=True,
)

ReceiverOption = Annotated[
    str, typer.Option("--receiver", "-r", help="The receiver acknowledged for (routing file).")
]


def _until(text: str) -> datetime:
    """`--until`: a duration from now (`4h`, `1d`) or an ISO 8601 instant with its offset."""
    try:
        return datetime.now(UTC) + parse_duration(text)
    except DurationError:
        return _instant(text, "--until")


@ack_app.command("add")
def add(
    fingerprint: Annotated[str, typer.Argument(help="The alert's fingerprint.")],
    *,
    receiver: ReceiverOption,
    note: Annotated[str, typer.Option("--note", "-n", help="What is being done.")] = "",
    until: Annotated[
        str | None, typer.Option(help="A duration (4h, 1d) or an ISO 8601 instant.")
    ] = None,
    url: UrlOption = "http://127.0.0.1:8003",
) -> None:
    """Acknowledge an alert for a receiver (as the token's subject)."""
    payload: dict[str, Any] = {"receiver": receiver, "note": note}
    if until:
        payload["until"] = _until(until).isoformat()
    answer = _call("POST", f"{url.rstrip('/')}/api/v1/alerts/{fingerprint}/ack", json=payload)
    typer.echo(_line(answer))


@ack_app.command("withdraw")
def withdraw(
    fingerprint: Annotated[str, typer.Argument(help="The alert's fingerprint.")],
    *,
    receiver: ReceiverOption,
    url: UrlOption = "http://127.0.0.1:8003",
) -> None:
    """Withdraw your acknowledgement."""
    params = {"receiver": receiver}
    _call("DELETE", f"{url.rstrip('/')}/api/v1/alerts/{fingerprint}/ack", params=params)
    typer.echo(f"withdrawn {fingerprint} for {receiver}")


@ack_app.command("list")
def list_acks(
    *,
    url: UrlOption = "http://127.0.0.1:8003",
    fingerprint: Annotated[str | None, typer.Option(help="Only this alert's.")] = None,
    receiver: Annotated[str | None, typer.Option(help="Only for this receiver.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Include ended ones.")] = False,
    output: FormatOption = OutputFormat.TEXT,
    as_json: JsonAlias = False,
) -> None:
    """List acknowledgements, newest first (active ones; --all for every one)."""
    params = {"fingerprint": fingerprint, "receiver": receiver}
    if not every:
        params["active"] = "true"
    wanted = {k: v for k, v in params.items() if v is not None}
    items = _call("GET", f"{url.rstrip('/')}/api/v1/acks", params=wanted)
    if chosen_format(output, as_json) is OutputFormat.JSON:  # the API's JSON
        typer.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    for item in items:
        typer.echo(_line(item))


def _line(ack: dict[str, Any]) -> str:
    state = "active" if ack["active"] else "ended"
    until = ack["until"] or "withdrawn"
    return (
        f"{ack['fingerprint']}  {ack['receiver']}  {state:<6} by {ack['by']} "
        f"at {ack['at']} until {until}: {ack['note']}"
    )
