"""`planwatch infra up | down | status | build`: the local Kafka + FerretDB."""

from __future__ import annotations

import asyncio
import sys

import typer

from planwatch.infra.build import ensure_built
from planwatch.infra.errors import InfraError
from planwatch.infra.manager import down, ensure_up, status
from planwatch.infra.settings import InfraSettings

infra_app = typer.Typer(
    help="Local Kafka 4.1 (KRaft) and FerretDB on 127.0.0.1, for development and tests.",
    no_args_is_help=True,
)


def _progress(message: str) -> None:
    typer.echo(message, err=True)


def _fail(error: InfraError) -> typer.Exit:
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


@infra_app.command("up")
def up_command() -> None:
    """Start Kafka and FerretDB unless already up; print the endpoints."""
    try:
        endpoints = asyncio.run(ensure_up(InfraSettings(), report=_progress))
    except InfraError as error:
        raise _fail(error) from error
    typer.echo(f"KAFKA_BOOTSTRAP_SERVERS={endpoints.kafka_bootstrap}")
    typer.echo(f"MONGODB_URI={endpoints.mongodb_uri}")


@infra_app.command("down")
def down_command() -> None:
    """Stop the servers this tool started (SIGTERM, then SIGKILL after a grace period)."""
    try:
        stopped = down(InfraSettings())
    except InfraError as error:
        raise _fail(error) from error
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@infra_app.command("status")
def status_command() -> None:
    """Show each server's endpoint, pid and whether it answers; exit 1 unless all answer."""
    rows = asyncio.run(status(InfraSettings()))
    for row in rows:
        owner = "external" if row.external else (f"pid {row.pid}" if row.pid else "not running")
        state = "up" if row.up else "DOWN"
        typer.echo(f"{row.name:<9} {state:<5} {row.endpoint:<32} {owner}")
    if not all(row.up for row in rows):
        sys.exit(1)


@infra_app.command("build")
def build_command() -> None:
    """Build the Kafka jars (Maven) and the FerretDB binary (Go), skipping what exists."""
    try:
        ensure_built(report=_progress)
    except InfraError as error:
        raise _fail(error) from error
