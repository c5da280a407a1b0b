"""Entry point of the notify service: `planwatch-notify`."""

from __future__ import annotations

import sys

from services.notify.app import create_app
from services.notify.config import NotifySettings
from services.notify.domain.config import RoutingConfigError
from shared.runtime.host import serve
from shared.runtime.logging import configure_logging, get_logger


def main() -> None:
    settings = NotifySettings()
    configure_logging("notify", settings.log_level)
    try:
        app = create_app(settings)
    except RoutingConfigError as exc:
        get_logger("planwatch.notify").error("routing file refused", issues=str(exc))
        print(f"notify: the routing file is refused:\n{exc}", file=sys.stderr)
        sys.exit(2)
    serve(app, settings.http, settings.management_http())


if __name__ == "__main__":
    main()
