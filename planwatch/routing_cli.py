"""`planwatch routing check FILE...`: validate notify's routing files as `amtool check-config`
validates Alertmanager's, with the parser notify starts with (`file:line: reason` for every
problem). `--secrets` also resolves every secret reference here (`env:NAME`, `file:/path`), as
notify does at start; run it where notify runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from services.notify.domain.config import RoutingConfig, RoutingConfigError
from services.notify.routing_file import load_routing_file
from services.notify.secrets import unresolved_secrets

routing_app = typer.Typer(help="notify's routing files.", no_args_is_help=True)


@routing_app.callback()
def routing() -> None:
    """notify's routing files (a group even with one command: `planwatch routing check`)."""


def _summary(config: RoutingConfig) -> str:
    routes = sum(1 for _ in config.route.walk())
    integrations = sum(len(r.integrations) for r in config.receivers.values())
    return (
        f"{routes} routes, {len(config.receivers)} receivers ({integrations} integrations), "
        f"{len(config.inhibit_rules)} inhibit rules"
    )


@routing_app.command("check")
def check(
    files: Annotated[list[Path], typer.Argument(help="Routing files to check.")],
    secrets: Annotated[
        bool,
        typer.Option("--secrets", help="Also require every secret reference to resolve here."),
    ] = False,
) -> None:
    """Exit 0 when every file is valid; otherwise 1, each problem as `file:line: reason`."""
    failed = False
    for path in files:
        try:
            config = load_routing_file(path)
            if secrets and (issues := unresolved_secrets(config)):
                raise RoutingConfigError(config.source, issues)
        except RoutingConfigError as exc:
            failed = True
            typer.echo(str(exc), err=True)
            typer.echo(f"{path}: FAILED ({len(exc.issues)} problems)")
            continue
        typer.echo(f"{path}: SUCCESS ({_summary(config)})")
    if failed:
        raise typer.Exit(1)
