"""The service commands' own arguments: `planwatch-ingest --help` describes the service and the
environment variables that configure it, `--version` prints the version; anything else is an
error (exit 2). A service takes no other argument: it is configured by its environment."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, SettingsError

SHARED_PREFIXES = "KAFKA_*, MONGODB_*, PLANWATCH_AUTH_* (docs/deploy.md)"

S = TypeVar("S", bound=BaseSettings)


def planwatch_version() -> str:
    try:
        return version("planwatch")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _default(value: Any) -> str:
    if value is None or (isinstance(value, list | dict) and not value):
        return ""
    return f" (default: {value if value != '' else 'empty'})"


def settings_variables(settings_type: type[BaseSettings]) -> Iterator[str]:
    """`PREFIX_NAME (default: ...)` for each field; nested models as `PREFIX_NAME__FIELD`.
    The shared groups with their own prefixes (kafka, mongo, auth) are left to the docs."""
    prefix = str(settings_type.model_config.get("env_prefix", "")).upper()
    delimiter = str(settings_type.model_config.get("env_nested_delimiter") or "__")
    defaults = settings_type.model_construct()  # the defaults, not the environment's values
    for name, field in settings_type.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseSettings):
            own = kind.model_config.get("env_prefix")
            if own:  # read from its own prefix (KAFKA_, MONGODB_, ...)
                continue
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            nested = getattr(defaults, name)
            for sub_name in kind.model_fields:
                value = _default(getattr(nested, sub_name))
                yield f"{prefix}{name.upper()}{delimiter}{sub_name.upper()}{value}"
            continue
        yield f"{prefix}{name.upper()}{_default(getattr(defaults, name))}"


def handle_arguments(
    argv: Sequence[str], *, program: str, summary: str, settings_type: type[BaseSettings]
) -> None:
    """Returns when there are no arguments (start the service); exits otherwise."""
    if not argv:
        return
    if list(argv) in (["--help"], ["-h"]):
        print(f"usage: {program} [--help | --version]\n\n{summary.strip()}\n")
        print("Configured by environment variables:")
        for line in settings_variables(settings_type):
            print(f"  {line}")
        print(f"  and {SHARED_PREFIXES}")
        sys.exit(0)
    if list(argv) == ["--version"]:
        print(f"{program} {planwatch_version()}")
        sys.exit(0)
    print(
        f"{program}: unexpected argument(s) {' '.join(argv)!r}; the service is configured by "
        f"environment variables ({program} --help lists them)",
        file=sys.stderr,
    )
    sys.exit(2)


def env_name(settings_type: type[BaseSettings], location: Sequence[int | str]) -> str:
    """The environment variable of a settings field's location, e.g. `SCORING_HTTP__PORT`."""
    prefix = str(settings_type.model_config.get("env_prefix", "")).upper()
    delimiter = str(settings_type.model_config.get("env_nested_delimiter") or "__")
    return prefix + delimiter.join(str(part).upper() for part in location)


def settings_sentences(settings_type: type[BaseSettings], error: ValidationError) -> list[str]:
    """One sentence per invalid setting: its variable, what is wrong, and the value given.
    A group read from its own prefix (KAFKA_, MONGODB_, ...) fails as itself: named by it."""
    for field in settings_type.model_fields.values():
        kind = field.annotation
        if (
            isinstance(kind, type)
            and issubclass(kind, BaseSettings)
            and kind.__name__ == error.title
        ):
            settings_type = kind
    sentences = []
    for item in error.errors(include_url=False):
        given = f" (given: {item['input']!r})" if item["type"] != "missing" else ""
        sentences.append(f"{env_name(settings_type, item['loc'])}: {item['msg']}{given}")
    return sentences


def load_settings(settings_type: type[S], program: str) -> S:
    """The settings from the environment; a bad one stops the service with sentences naming
    each variable (exit 2), not a traceback."""
    try:
        return settings_type()
    except ValidationError as exc:
        lines = settings_sentences(settings_type, exc)
    except SettingsError as exc:  # a value that is not the JSON a list or a model needs
        field = str(exc).split('"')[1] if '"' in str(exc) else "?"
        lines = [f"{env_name(settings_type, [field])}: not valid JSON ({exc.__cause__})"]
    print(f"{program}: the configuration is refused:", file=sys.stderr)
    for line in lines:
        print(f"  {line}", file=sys.stderr)
    sys.exit(2)
