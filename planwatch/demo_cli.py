"""`planwatch demo`: bring the platform up on this machine and play the demo feed through it."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer
from rich.console import Console

from planwatch.demo.receivers import MissingExtraError
from planwatch.demo.run import DemoConfig, DemoError, run_demo
from planwatch.infra.errors import InfraError
from planwatch.simulate.feed import DEFAULT_SPEED, FeedError
from planwatch.simulate.scenario import DEFAULT_SEED
from planwatch.simulate_cli import Via

demo_app = typer.Typer(help="The demo.")


async def _main(config: DemoConfig, console: Console) -> bool:
    """Runs the demo; SIGINT/SIGTERM stop it cleanly. Returns whether it was interrupted."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        result = await run_demo(config, console, stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return result.interrupted or stop.is_set()


@demo_app.command("demo")
def demo(
    *,
    speed: Annotated[
        float,
        typer.Option(help="Simulated days per wall-clock second (6: about two minutes)."),
    ] = DEFAULT_SPEED,
    seed: Annotated[int, typer.Option(help="Seed of the feed (and the demo agencies' keys).")] = (
        DEFAULT_SEED
    ),
    keep_running: Annotated[
        bool,
        typer.Option(help="Leave the platform up after the feed, until Ctrl-C."),
    ] = False,
    feed: Annotated[
        bool,
        typer.Option(
            "--feed/--no-feed", help="--no-feed: just the platform (implies --keep-running)."
        ),
    ] = True,
    down: Annotated[
        bool, typer.Option(help="Also stop Kafka and FerretDB at the end; default: leave them up.")
    ] = False,
    via: Annotated[
        Via, typer.Option(help="kafka: the progress topic; http: ingest's POST /v1/events.")
    ] = Via.KAFKA,
    base_port: Annotated[
        int, typer.Option(help="HTTP port of ingest; scoring and notify take the next two.")
    ] = 8001,
    database: Annotated[
        str, typer.Option(help="MongoDB database (reset when the feed runs).")
    ] = "planwatch_demo",
    live: Annotated[
        bool | None,
        typer.Option("--live/--plain", help="Live view or plain lines; default: live on a TTY."),
    ] = None,
    replicas: Annotated[
        int,
        typer.Option(
            help="Processes of each service, sharing the work through Kafka's consumer groups "
            "(ports after the first three)."
        ),
    ] = 1,
) -> None:
    """Infrastructure and the three services up, the seeded feed played in compressed time, a
    live view of statuses and alerts, then a summary. Ctrl-C stops everything cleanly."""
    console = Console()
    try:
        config = DemoConfig(
            seed=seed,
            speed=speed,
            via=via.value,
            feed=feed,
            keep_running=keep_running or not feed,
            down=down,
            base_port=base_port,
            database=database,
            live=live,
            replicas=replicas,
        )
        interrupted = asyncio.run(_main(config, console))
    except (DemoError, InfraError, FeedError, MissingExtraError) as exc:
        console.print(f"[red]demo failed:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    if interrupted:
        raise typer.Exit(130)
