"""What the project provides to run: its console scripts and the `planwatch` CLI's commands."""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Iterable

import typer
from pydantic_settings import BaseSettings

from planwatch import cli
from tests.deploy.paths import REPO


def project_scripts() -> dict[str, str]:
    """[project.scripts] of pyproject.toml: console script name -> "module:function"."""
    with (REPO / "pyproject.toml").open("rb") as handle:
        scripts: dict[str, str] = tomllib.load(handle)["project"]["scripts"]
    return scripts


def typer_commands() -> set[str]:
    """The top-level commands and groups of the `planwatch` CLI (read, not registered: the CLI's
    `_register()` mutates the global app)."""
    names: set[str] = set()
    for module_name, attribute, group in cli._COMMAND_MODULES:
        if group is not None:
            names.add(group)
            continue
        sub: typer.Typer = getattr(importlib.import_module(module_name), attribute)
        for command in sub.registered_commands:
            callback = command.callback.__name__ if command.callback else ""
            names.add((command.name or callback).replace("_", "-"))
    return names


def unknown_settings_env(
    settings_class: type[BaseSettings], prefix: str, env: Iterable[str]
) -> set[str]:
    """Variables named `<prefix>...` that name no field of the settings class (a typo there
    is silently ignored by pydantic-settings, whose models use extra="ignore")."""
    fields = set(settings_class.model_fields)
    return {
        name
        for name in env
        if name.startswith(prefix) and name[len(prefix) :].lower().split("__")[0] not in fields
    }
