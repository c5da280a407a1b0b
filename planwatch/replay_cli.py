"""`planwatch replay` (rebuild the scoring state, and the problems, from ingest's stored
reports into fresh collections) and `planwatch state digest` (a deterministic digest of a
scoring state)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pymongo import AsyncMongoClient

from planwatch.cli_options import either, hidden_alias
from planwatch.events_file import CatalogOption
from services.scoring.config import ScoringSettings
from services.scoring.digest import digest_of, read_payload
from services.scoring.engine import Publisher, publish_nothing
from services.scoring.problem_store import MongoProblemStore
from services.scoring.replay import ReplayError, replay
from services.scoring.store import DEFAULT_PREFIX, MongoScoringStore
from shared.catalog import CatalogError, load_catalog
from shared.contract.events import parse_rfc3339
from shared.runtime.mongo import Document, make_client
from shared.runtime.publisher import KafkaPublisher
from shared.runtime.settings import KafkaSettings, MongoSettings

replay_app = typer.Typer(help="Rebuild scoring state from stored reports.")
state_app = typer.Typer(help="Inspect the scoring state.", no_args_is_help=True)

REPLAY_PREFIX = "replay_"


class Emit(StrEnum):
    NONE = "none"
    ALL = "all"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


async def _replay(
    *,
    source_db: str,
    reports: str,
    db: str,
    prefix: str,
    at: datetime | None,
    emit: Emit,
    drop: bool,
    catalog_dir: Path | None,
) -> None:
    catalog = load_catalog(catalog_dir)
    client: AsyncMongoClient[Document] = make_client(MongoSettings())
    kafka = KafkaPublisher.for_settings(KafkaSettings(), "replay") if emit is Emit.ALL else None
    try:
        store = MongoScoringStore(client[db], prefix)
        problems = MongoProblemStore(client[db], prefix)
        if drop:
            await store.drop()
            await problems.drop()
        if at is None:  # the live state's clock, so that the two can be compared
            live = await MongoScoringStore(client[source_db], DEFAULT_PREFIX).load_meta()
            at = parse_rfc3339(live["at"]) if live and live.get("at") else None
        publish: Publisher = publish_nothing
        if kafka is not None:
            await kafka.start()
            publish = kafka.publish
        outcome = await replay(
            catalog,
            client[source_db][reports],
            store,
            publish,
            at=at,
            problems=problems,
            # The live service's age (SCORING_PROBLEM_ESCALATE_AFTER), for the same alerts.
            escalate_after=ScoringSettings().problem_escalate_after,
        )
        payload = await read_payload(store)
        typer.echo(
            json.dumps(
                {
                    "events": outcome.events,
                    "skipped": outcome.skipped,
                    "clock": outcome.clock.isoformat() if outcome.clock else None,
                    "messages": outcome.messages,
                    "problem_events": outcome.problem_events,
                    "database": db,
                    "prefix": prefix,
                    "digest": digest_of(payload),
                }
            )
        )
    finally:
        if kafka is not None:
            await kafka.stop()
        await client.close()


@replay_app.command("replay")
def replay_command(
    *,
    prefix: Annotated[
        str, typer.Option("--prefix", help="Collection prefix of the rebuilt state.")
    ] = REPLAY_PREFIX,
    database: Annotated[
        str | None,
        typer.Option("--database", help="Database of the rebuilt state; default: the source's."),
    ] = None,
    source_database: Annotated[
        str | None,
        typer.Option(
            "--source-database", help="Database holding `reports`; default: MONGODB_DATABASE."
        ),
    ] = None,
    reports: Annotated[str, typer.Option("--reports", help="Ingest's collection.")] = "reports",
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="<RFC3339>",
            help="Final clock, RFC 3339; default: the live state's clock.",
        ),
    ] = None,
    emit: Annotated[
        Emit, typer.Option("--emit", help="none: rebuild only; all: publish every message.")
    ] = Emit.NONE,
    drop: Annotated[bool, typer.Option("--drop", help="Drop the destination first.")] = False,
    catalog_dir: CatalogOption = None,
    db: Annotated[str | None, hidden_alias("--db", "--database")] = None,
    source_db: Annotated[str | None, hidden_alias("--source-db", "--source-database")] = None,
    old_catalog: Annotated[Path | None, hidden_alias("--catalog-dir", "--catalog")] = None,
) -> None:
    """Rebuild all scoring state from the stored reports into fresh collections; prints a JSON
    summary with the rebuilt state's digest (compare with `planwatch state digest`)."""
    source = either(source_database, source_db) or MongoSettings().database
    target_db = either(database, db) or source
    catalog_dir = either(catalog_dir, old_catalog)
    if target_db == source and prefix == DEFAULT_PREFIX:
        raise _fail(f"--prefix {prefix!r} in database {source!r} is the live state; pick another")
    try:
        instant = parse_rfc3339(at) if at is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--at") from None
    try:
        asyncio.run(
            _replay(
                source_db=source,
                reports=reports,
                db=target_db,
                prefix=prefix,
                at=instant,
                emit=emit,
                drop=drop,
                catalog_dir=catalog_dir,
            )
        )
    except (ReplayError, CatalogError) as exc:
        raise _fail(str(exc)) from None


async def _digest(db: str, prefix: str, show: bool) -> None:
    client: AsyncMongoClient[Document] = make_client(MongoSettings())
    try:
        payload = await read_payload(MongoScoringStore(client[db], prefix))
    finally:
        await client.close()
    if show:
        typer.echo(json.dumps(payload, sort_keys=True, ensure_ascii=False, indent=1))
    typer.echo(digest_of(payload))


@state_app.command("digest")
def digest_command(
    prefix: Annotated[str, typer.Option("--prefix", help="Collection prefix.")] = DEFAULT_PREFIX,
    database: Annotated[
        str | None, typer.Option("--database", help="Database; default: MONGODB_DATABASE.")
    ] = None,
    show: Annotated[bool, typer.Option("--show", help="Print the digested JSON first.")] = False,
    db: Annotated[str | None, hidden_alias("--db", "--database")] = None,
) -> None:
    """Print the SHA-256 of the canonical JSON of the scoring state (target results, roll-ups,
    agency scorecards, alert states, point counts, clock)."""
    asyncio.run(_digest(either(database, db) or MongoSettings().database, prefix, show))
