"""`planwatch cluster up | status | down`: N replicas of every service on this machine."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from planwatch.cli_options import FormatOption, OutputFormat
from planwatch.cluster.run import ClusterConfig, MemberStatus, down, status, up
from planwatch.cluster.state import ClusterError, ClusterState
from planwatch.demo.supervisor import MANAGEMENT_PORT_OFFSET
from planwatch.infra.errors import InfraError
from shared.kafka_admin import TopicSetupError

cluster_app = typer.Typer(
    help="N processes of each service on this machine, detached, over the local Kafka.",
    no_args_is_help=True,
)


def _say(message: str) -> None:
    typer.echo(message, err=True)


def _fail(error: Exception) -> typer.Exit:
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


@cluster_app.command("up")
def up_command(
    *,
    replicas: Annotated[
        int,
        typer.Option(
            help="Processes of each service, sharing the work through Kafka's consumer groups "
            "(1 to 6, the topics' partitions)."
        ),
    ] = 2,
    base_port: Annotated[
        int,
        typer.Option(
            help="HTTP port of the first ingest; scoring and notify take the next two, the "
            "other replicas the ports after them (management ports: each + "
            f"{MANAGEMENT_PORT_OFFSET})."
        ),
    ] = 8001,
    database: Annotated[
        str, typer.Option(help="MongoDB database (its name starts with planwatch_demo).")
    ] = "planwatch_demo",
    routing: Annotated[
        Path | None,
        typer.Option(
            metavar="<file>",
            help="notify's routing file (Alertmanager-style, docs/notify.md), e.g. to your own "
            "webhook (a loopback URL needs `allow_private: true`); default: every alert to the "
            "planwatch.notifications topic.",
        ),
    ] = None,
) -> None:
    """Kafka and FerretDB up (the infra manager), the topics, then each service's replicas,
    detached, each ready before this returns; members already running are left as they are.
    `planwatch cluster down` stops them."""
    config = ClusterConfig(
        replicas=replicas, base_port=base_port, database=database, routing=routing
    )
    try:
        state = asyncio.run(up(config, _say))
    except (ClusterError, InfraError, TopicSetupError) as exc:
        raise _fail(exc) from None
    for member in state.members:
        typer.echo(f"{member.name:<11} pid {member.pid:<7} {member.url}")
    _say(
        f"send events: planwatch simulate --via http --url {state.members[0].url} "
        f"(MONGODB_DATABASE={state.database}); sign ticks with "
        f"PLANWATCH_CLOCK_KEY_FILE={state.clock_key_file}"
    )


def _row(row: MemberStatus) -> str:
    member = row.member
    state = "ready" if row.ready else ("up" if row.running else "DOWN")
    held = " ".join(
        f"{topic}[{','.join(map(str, parts))}]" for topic, parts in sorted(row.partitions.items())
    )
    group = row.group or "-"
    return f"{member.name:<11} {state:<6} pid {member.pid:<7} {member.url:<22} {group}  {held}"


def _as_json(state: ClusterState, rows: list[MemberStatus], error: str | None) -> str:
    return json.dumps(
        {
            "replicas": state.replicas,
            "kafka_bootstrap": state.kafka_bootstrap,
            "kafka_error": error,
            "members": [
                {
                    "name": r.member.name,
                    "service": r.member.service,
                    "pid": r.member.pid,
                    "url": r.member.url,
                    "running": r.running,
                    "ready": r.ready,
                    "client_id": r.member.client_id,
                    "group": r.group,
                    "partitions": r.partitions,
                }
                for r in rows
            ],
        },
        indent=2,
    )


@cluster_app.command("status")
def status_command(output: FormatOption = OutputFormat.TEXT) -> None:
    """Each replica: running and ready or not, its consumer group and the partitions the
    broker assigned it; exit 1 unless every replica is ready."""
    state, rows, error = asyncio.run(status(ClusterConfig()))
    if state is None:
        _say("no cluster (planwatch cluster up starts one)")
        raise typer.Exit(1)
    if output is OutputFormat.JSON:
        typer.echo(_as_json(state, rows, error))
    else:
        for row in rows:
            typer.echo(_row(row))
        if error is not None:
            _say(f"Kafka at {state.kafka_bootstrap} did not describe the groups: {error}")
    if not all(row.ready for row in rows):
        raise typer.Exit(1)


@cluster_app.command("down")
def down_command() -> None:
    """Stop every replica (SIGTERM, then SIGKILL after 15 s); Kafka and FerretDB stay up
    (`planwatch infra down` stops them)."""
    stopped = down(ClusterConfig())
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
