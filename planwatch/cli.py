"""The `planwatch` command line: one root app; each area adds its commands in its own module.

To add a command group, define a `typer.Typer()` in your module and register it in `_register`.
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from shared.runtime.service_args import planwatch_version

app = typer.Typer(
    name="planwatch",
    help="Tracks a government plan's targets as the agencies report on them.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

# (module, attribute, command-group name or None to add the module's commands at the top level)
_COMMAND_MODULES: tuple[tuple[str, str, str | None], ...] = (
    ("planwatch.infra.cli", "infra_app", "infra"),
    ("planwatch.keys_cli", "keys_app", "keys"),
    ("planwatch.keyring_cli", "keyring_app", "keyring"),
    ("planwatch.publish_cli", "publish_app", None),
    ("planwatch.problem_cli", "problem_app", "problem"),
    ("planwatch.template_cli", "template_app", None),
    ("planwatch.score_cli", "score_app", None),
    ("planwatch.report_cli", "report_app", None),
    ("planwatch.simulate_cli", "simulate_app", None),
    ("planwatch.demo_cli", "demo_app", None),
    ("planwatch.cluster_cli", "cluster_app", "cluster"),
    ("planwatch.tick_cli", "tick_app", None),
    ("planwatch.replay_cli", "replay_app", None),
    ("planwatch.replay_cli", "state_app", "state"),
    ("planwatch.silence_cli", "silence_app", "silence"),
    ("planwatch.ack_cli", "ack_app", "ack"),
    ("planwatch.routing_cli", "routing_app", "routing"),
    ("planwatch.asyncapi", "asyncapi_app", None),
    ("planwatch.mongo_users", "mongo_users_app", "mongo-users"),
)


def _version(show: bool) -> None:
    if show:
        typer.echo(f"planwatch {planwatch_version()}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Tracks a government plan's targets as the agencies report on them."""


def _register() -> None:
    for module_name, attribute, group in _COMMAND_MODULES:
        module = importlib.import_module(module_name)
        sub: typer.Typer = getattr(module, attribute)
        if group is None:
            for command in sub.registered_commands:
                app.registered_commands.append(command)
        else:
            app.add_typer(sub, name=group)


def main() -> None:
    _register()
    app()
