"""`planwatch silence add|list|expire`: notify's silences through its HTTP API (/api/v2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer

from planwatch.cli_options import FormatOption, JsonAlias, OutputFormat, chosen_format
from planwatch.http_refusal import refusal_message
from planwatch.http_token import TokenError, auth_headers
from services.notify.domain.durations import DurationError, parse_duration
from services.notify.domain.matchers import MatcherError, MatchType, parse_matchers

silence_app = typer.Typer(help="Silence notify's alerts for a time window.", no_args_is_help=True)

UrlOption = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="PLANWATCH_NOTIFY_URL",
        metavar="<url>",
        help="The notify service's base URL.",
    ),
]


def _fail(message: str) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(1)


def _instant(text: str, what: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _fail(f"{what}: {text!r} is not an ISO 8601 instant") from None
    if value.tzinfo is None:
        raise _fail(f"{what}: {text!r} needs a time zone offset (e.g. +08:00 or Z)")
    return value


def _call(method: str, url: str, **kwargs: Any) -> Any:
    try:
        headers = auth_headers()  # PLANWATCH_TOKEN_FILE / PLANWATCH_TOKEN (silences:write)
    except TokenError as exc:
        raise _fail(str(exc)) from None
    try:
        response = httpx.request(method, url, timeout=10.0, headers=headers, **kwargs)
    except httpx.HTTPError as exc:
        raise _fail(f"cannot reach notify at {url}: {exc}") from None
    if response.status_code >= 400:
        raise _fail(refusal_message("notify", response))
    return response.json()


@silence_app.command("add")
def add(
    matchers: Annotated[
        list[str], typer.Argument(help='Matchers, e.g. agency="qy.miit" severity=~"warn.*".')
    ],
    *,
    author: Annotated[
        str,
        typer.Option(
            "--author",
            "-a",
            help="Who silences (ignored: notify records the token's subject).",
        ),
    ] = "",
    comment: Annotated[str, typer.Option("--comment", "-c", help="Why.")] = "",
    duration: Annotated[
        str, typer.Option("--duration", "-d", help="How long, e.g. 2h or 1d.")
    ] = "1h",
    start: Annotated[
        str | None, typer.Option(metavar="<ISO8601>", help="ISO 8601 start; default: now.")
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(metavar="<ISO8601>", help="ISO 8601 end; default: start + duration."),
    ] = None,
    url: UrlOption = "http://127.0.0.1:8003",
) -> None:
    """Create a silence; prints its id."""
    try:
        parsed = [m for text in matchers for m in parse_matchers(text)]
    except MatcherError as exc:
        raise _fail(f"bad matcher: {exc}") from None
    starts = _instant(start, "--start") if start else datetime.now(UTC)
    if end:
        ends = _instant(end, "--end")
    else:
        try:
            ends = starts + parse_duration(duration)
        except DurationError as exc:
            raise _fail(f"--duration: {exc}") from None
    payload = {
        "matchers": [
            {
                "name": m.name,
                "value": m.value,
                "isRegex": m.type in (MatchType.REGEX, MatchType.NOT_REGEX),
                "isEqual": m.type in (MatchType.EQUAL, MatchType.REGEX),
            }
            for m in parsed
        ],
        "startsAt": starts.isoformat(),
        "endsAt": ends.isoformat(),
        "createdBy": author,
        "comment": comment,
    }
    answer = _call("POST", f"{url.rstrip('/')}/api/v2/silences", json=payload)
    typer.echo(answer["silenceID"])


def _matcher_text(m: dict[str, Any]) -> str:
    op = ("=~" if m["isRegex"] else "=") if m["isEqual"] else ("!~" if m["isRegex"] else "!=")
    return f"{m['name']}{op}{json.dumps(m['value'], ensure_ascii=False)}"


@silence_app.command("list")
def list_silences(
    url: UrlOption = "http://127.0.0.1:8003",
    output: FormatOption = OutputFormat.TEXT,
    as_json: JsonAlias = False,
    expired: Annotated[bool, typer.Option("--expired", help="Include expired ones.")] = False,
) -> None:
    """List silences (active and pending; --expired for all); json: the API's JSON."""
    items = _call("GET", f"{url.rstrip('/')}/api/v2/silences")
    if not expired:
        items = [s for s in items if s["status"]["state"] != "expired"]
    if chosen_format(output, as_json) is OutputFormat.JSON:
        typer.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    for s in items:
        matchers = ", ".join(_matcher_text(m) for m in s["matchers"])
        typer.echo(
            f"{s['id']}  {s['status']['state']:<8} {s['startsAt']} → {s['endsAt']}  "
            f"{{{matchers}}}  by {s['createdBy']}: {s['comment']}"
        )


@silence_app.command("expire")
def expire(
    silence_id: Annotated[str, typer.Argument(help="The silence's id.")],
    url: UrlOption = "http://127.0.0.1:8003",
) -> None:
    """Expire a silence now."""
    _call("DELETE", f"{url.rstrip('/')}/api/v2/silence/{silence_id}")
    typer.echo(f"expired {silence_id}")
