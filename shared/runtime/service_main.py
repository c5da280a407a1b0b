"""The one way a service process starts: its arguments (`--help`, `--version`), its settings
from the environment (refused as sentences), JSON logs, the app, then both ports until
SIGTERM. A configuration the app refuses at build time (a routing file, the clock's keys)
stops it with exit 2 and the reason on stderr, before anything connects."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from fastapi import FastAPI

from shared.runtime.host import serve
from shared.runtime.logging import configure_logging, get_logger
from shared.runtime.service_args import handle_arguments, load_settings
from shared.runtime.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


def run_service(
    service: str,
    *,
    summary: str,
    settings_type: type[S],
    create_app: Callable[[S], FastAPI],
    refusals: tuple[type[Exception], ...] = (),
) -> None:
    program = f"planwatch-{service}"
    handle_arguments(sys.argv[1:], program=program, summary=summary, settings_type=settings_type)
    settings = load_settings(settings_type, program)
    configure_logging(service, settings.log_level)
    try:
        app = create_app(settings)
    except refusals as exc:
        get_logger(f"planwatch.{service}").error("start refused", reason=str(exc))
        print(f"{program}: refused to start:\n{exc}", file=sys.stderr)
        sys.exit(2)
    serve(app, settings.http, settings.management_http())
