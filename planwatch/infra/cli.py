"""`planwatch infra up | down | status | build`: the local Kafka + FerretDB."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import typer

from planwatch.infra import acls, secure_kafka
from planwatch.infra.build import ensure_built
from planwatch.infra.errors import InfraError
from planwatch.infra.manager import down, ensure_up, status
from planwatch.infra.settings import InfraSettings
from shared import topics
from shared.kafka_admin import ensure_topics

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


SECURE_HOME_DEFAULT = ".infra/kafka-secure"


@infra_app.command("secure-up")
def secure_up_command(
    home: str = typer.Option(SECURE_HOME_DEFAULT, help="Where the broker, CA and passwords live."),
    port: int = typer.Option(9094, help="The SASL_SSL listener's port on 127.0.0.1."),
    controller_port: int = typer.Option(9095, help="The KRaft controller's port."),
) -> None:
    """Start a second, secured Kafka as in production: SASL_SSL (SCRAM-SHA-512, a local CA),
    the StandardAuthorizer with no ACL meaning no access, one SCRAM user per principal of
    deploy/kafka-acls.yaml with its ACLs, and the platform's topics. Prints, per principal, the
    file of KAFKA_* settings a client of that user sources (passwords stay in 0600 files)."""

    async def run() -> secure_kafka.SecureKafka:
        source = acls.load()
        kafka = await asyncio.to_thread(
            secure_kafka.start, Path(home), port, controller_port, list(source.principals)
        )
        await secure_kafka.wait_ready(kafka)
        admin = kafka.settings(secure_kafka.ADMIN)
        await ensure_topics(admin, dict(topics.PARTITIONS), configs=topics.CONFIGS)
        await acls.create_acls(admin, acls.bindings(source))
        return kafka

    try:
        kafka = asyncio.run(run())
    except InfraError as error:
        raise _fail(error) from error
    env_dir = kafka.home / "env"
    env_dir.mkdir(exist_ok=True)
    for user in [secure_kafka.ADMIN, *acls_principals()]:
        lines = "".join(f"{k}={v}\n" for k, v in kafka.env(user).items())
        path = env_dir / f"{user}.env"
        path.write_text(lines, encoding="utf-8")
        typer.echo(f"{user}: {path}")


def acls_principals() -> list[str]:
    return list(acls.load().principals)


@infra_app.command("secure-down")
def secure_down_command(
    home: str = typer.Option(SECURE_HOME_DEFAULT, help="The secured broker's folder."),
) -> None:
    """Stop the secured Kafka that `secure-up` started."""
    stopped = secure_kafka.stop(secure_kafka.SecureKafka(Path(home).resolve(), 0, 0))
    typer.echo("secured kafka: stopped" if stopped else "secured kafka: not running")
