"""`planwatch simulate`: the demo feed — the plan's agencies reporting, in compressed time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from planwatch.cli_options import either, hidden_alias
from planwatch.simulate.agencies import write_keys_file
from planwatch.simulate.feed import (
    DEFAULT_SPEED,
    DryRunTransport,
    FeedError,
    FeedProgress,
    HttpTransport,
    KafkaTransport,
    Transport,
    run_feed,
    wall_seconds,
    write_jsonl,
)
from planwatch.simulate.keys import INGEST_KEYS_REFRESH_S, KeyRegistrationError, register_in_mongo
from planwatch.simulate.scenario import (
    DEFAULT_SEED,
    DEFAULT_UNTIL,
    FeedItem,
    Scenario,
    ScenarioError,
    build_scenario,
)
from shared.catalog import load_catalog
from shared.runtime.clock_key import ClockKeyError, load_clock_key
from shared.runtime.settings import KafkaSettings, MongoSettings

DEFAULT_PLAN = "qingyuan-digital-economy-2021"
DEFAULT_INGEST_URL = "http://127.0.0.1:8001"

simulate_app = typer.Typer(help="The demo feed.")


class Via(StrEnum):
    KAFKA = "kafka"
    HTTP = "http"


def make_scenario(plan_id: str, seed: int, until: date) -> Scenario:
    try:
        plan = load_catalog().plan(plan_id)
        return build_scenario(plan, seed, until=until)
    except (KeyError, ScenarioError) as exc:
        raise typer.BadParameter(str(exc).strip("'\"")) from None


def summary_lines(scenario: Scenario, speed: float) -> list[str]:
    last = scenario.items[-1]
    lines = [
        f"plan {scenario.plan}, seed {scenario.seed}: {len(scenario.items)} items from "
        f"{scenario.start.date()} to {scenario.end.date()}",
        f"about {wall_seconds(last, speed):.0f} s of wall time at {speed:g} simulated days/s",
    ]
    lines += [f"  {count:4d} {what}" for what, count in sorted(scenario.expected_counts().items())]
    return lines


class _PlainProgress:
    """One line per simulated month (and every mismatch an HTTP answer reveals)."""

    def __init__(self) -> None:
        self._month: tuple[int, int] | None = None
        self._mismatches = 0

    def __call__(self, state: FeedProgress, item: FeedItem) -> None:
        month = (item.at.year, item.at.month)
        if month != self._month:
            self._month = month
            typer.echo(
                f"[{item.at.date()}] {state.sent}/{state.total} sent "
                f"({state.reports} agency events) — {item.label}"
            )
        for line in state.mismatches[self._mismatches :]:
            typer.echo(f"  unexpected: {line}", err=True)
        self._mismatches = len(state.mismatches)


async def _send(
    scenario: Scenario, make_transport: Callable[[], Transport], speed: float, quiet: bool
) -> FeedProgress:
    # Made here, inside the running loop: aiokafka's producer refuses to be created outside one.
    transport = make_transport()
    await transport.start()
    try:
        return await run_feed(
            scenario.items, transport, speed=speed, on_item=None if quiet else _PlainProgress()
        )
    finally:
        await transport.stop()


@simulate_app.command("simulate")
def simulate(
    *,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same feed.")] = (
        DEFAULT_SEED
    ),
    speed: Annotated[
        float,
        typer.Option(
            help="Simulated days per wall-clock second (6: about two minutes); 0: no pacing."
        ),
    ] = DEFAULT_SPEED,
    via: Annotated[Via, typer.Option(help="kafka: planwatch.progress; http: ingest's door.")] = (
        Via.KAFKA
    ),
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write the events the platform should accept as JSON lines (structured mode) "
            "for `planwatch score --events`, and send nothing.",
            dir_okay=False,
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Print what would be sent; send nothing.")] = False,
    until: Annotated[
        str, typer.Option(metavar="<YYYY-MM-DD>", help="Last simulated day.")
    ] = DEFAULT_UNTIL.isoformat(),
    plan: Annotated[str, typer.Option(help="Plan id.")] = DEFAULT_PLAN,
    keys_file: Annotated[
        Path | None,
        typer.Option(
            help="Also write the demo agencies' public keys here (JSON lines, for "
            "INGEST_KEYS_FILE).",
            dir_okay=False,
        ),
    ] = None,
    register_keys: Annotated[
        bool,
        typer.Option(
            help="Register the demo keys in MongoDB `agency_keys` (MONGODB_URI, "
            "MONGODB_DATABASE) before sending."
        ),
    ] = True,
    keys_wait: Annotated[
        float,
        typer.Option(
            help="Seconds to wait after registering new keys, so a running ingest refreshes "
            "its key snapshot first."
        ),
    ] = INGEST_KEYS_REFRESH_S + 2,
    url: Annotated[
        str,
        typer.Option(
            "--url",
            envvar="PLANWATCH_INGEST_URL",
            metavar="<url>",
            help="Ingest's base URL (--via http).",
        ),
    ] = DEFAULT_INGEST_URL,
    quiet: Annotated[bool, typer.Option(help="No progress lines.")] = False,
    ingest_url: Annotated[str | None, hidden_alias("--ingest-url", "--url")] = None,
) -> None:
    """Send a realistic, seeded feed of the plan's agencies reporting (and a few bad events)."""
    try:
        last_day = date.fromisoformat(until)
    except ValueError:
        raise typer.BadParameter(f"{until!r} is not YYYY-MM-DD", param_hint="--until") from None
    scenario = make_scenario(plan, seed, last_day)
    for line in summary_lines(scenario, speed):
        typer.echo(line)
    if keys_file is not None:
        write_keys_file(keys_file, scenario.keys)
        typer.echo(f"keys: {keys_file} ({len(scenario.keys)} agencies)")
    if out is not None:
        count = write_jsonl(out, scenario)
        typer.echo(f"wrote {count} events to {out} (nothing sent)")
        return
    if dry_run:
        dry = DryRunTransport()
        asyncio.run(_send(scenario, lambda: dry, 0.0, quiet=True))
        for item in dry.sent:
            if item.role.value != "tick":
                typer.echo(f"{item.at.isoformat()}  {item.expected!s:28} {item.label}")
        return
    if register_keys:
        try:
            added = asyncio.run(register_in_mongo(scenario.keys, MongoSettings()))
        except KeyRegistrationError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"keys: {added} new of {len(scenario.keys)} registered in MongoDB")
        if added and keys_wait > 0:
            typer.echo(f"waiting {keys_wait:g} s for ingest to refresh its key snapshot")
            asyncio.run(asyncio.sleep(keys_wait))
    kafka = KafkaSettings()
    try:
        clock_key = load_clock_key()  # the feed's ticks, signed as the platform's
    except ClockKeyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None

    base_url = either(ingest_url, url) or DEFAULT_INGEST_URL

    def make_transport() -> Transport:
        if via is Via.HTTP:
            return HttpTransport(base_url, KafkaTransport(kafka, clock_key=clock_key))
        return KafkaTransport(kafka, clock_key=clock_key)

    try:
        state = asyncio.run(_send(scenario, make_transport, speed, quiet))
    except FeedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"sent {state.sent} items ({state.reports} agency events, the rest clock ticks)")
    if state.answered:
        typer.echo(
            "ingest answered: " + ", ".join(f"{k} {v}" for k, v in sorted(state.answered.items()))
        )
    if state.mismatches:
        typer.echo(f"{len(state.mismatches)} answers differed from the expectation", err=True)
        raise typer.Exit(2)
