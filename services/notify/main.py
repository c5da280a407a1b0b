"""Entry point of the notify service: `planwatch-notify`."""

from __future__ import annotations

import sys

from services.notify.app import create_app
from services.notify.config import NotifySettings
from services.notify.domain.config import RoutingConfigError
from shared.runtime.host import serve
from shared.runtime.logging import configure_logging, get_logger
from shared.runtime.service_args import handle_arguments, load_settings

SUMMARY = """Routes, groups, deduplicates, silences and delivers scoring's alerts to webhooks,
e-mail and Kafka, like Prometheus Alertmanager, and serves Alertmanager's API v2
(docs/notify.md)."""


def main() -> None:
    handle_arguments(
        sys.argv[1:], program="planwatch-notify", summary=SUMMARY, settings_type=NotifySettings
    )
    settings = load_settings(NotifySettings, "planwatch-notify")
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
