"""`planwatch tick`: publish one clock tick (the k8s CronJob runs it; `--at` overrides now).

The scoring service's clock is the greatest report or tick time it consumed; a tick makes it
rescore every target (stale reports, deadlines near or missed) even when nobody reports.
Publishing the same instant twice is harmless.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.scoring.ticks import now_utc, tick_message
from shared import topics
from shared.contract.events import parse_rfc3339
from shared.kafka_admin import ensure_topics
from shared.runtime.clock_key import ClockKeyError, load_clock_key
from shared.runtime.publisher import KafkaPublisher
from shared.runtime.settings import KafkaSettings

tick_app = typer.Typer(help="Clock ticks for the scoring service.")


def _instant(text: str | None) -> datetime:
    if text is None:
        return now_utc()
    try:
        return parse_rfc3339(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--at") from None


async def publish_tick(
    settings: KafkaSettings, at: datetime, topic: str, clock_key: Ed25519PrivateKey | None
) -> None:
    await ensure_topics(settings, {topic: topics.PARTITIONS.get(topic, 1)})
    async with KafkaPublisher.for_settings(settings, "tick") as kafka:
        await kafka.publish([tick_message(at, topic, clock_key)])


@tick_app.command("tick")
def tick(
    at: Annotated[
        str | None,
        typer.Option(
            "--at", metavar="<RFC3339>", help="RFC 3339 instant with offset; default: now (UTC)."
        ),
    ] = None,
    topic: Annotated[str, typer.Option("--topic", help="The clock topic.")] = topics.CLOCK,
) -> None:
    """Publish one clock tick to Kafka (KAFKA_BOOTSTRAP_SERVERS), signed with the clock's key
    (PLANWATCH_CLOCK_KEY_FILE), and print its instant."""
    instant = _instant(at)
    try:
        clock_key = load_clock_key()
    except ClockKeyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if clock_key is None:
        typer.echo(
            "warning: no PLANWATCH_CLOCK_KEY_FILE: the tick is unsigned, and only a scoring "
            "service in PLANWATCH_AUTH_MODE=dev (the local demo) applies it",
            err=True,
        )
    asyncio.run(publish_tick(KafkaSettings(), instant, topic, clock_key))
    typer.echo(instant.isoformat())
