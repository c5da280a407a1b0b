"""Entry point of the notify service: `planwatch-notify`."""

from __future__ import annotations

from services.notify.app import create_app
from services.notify.config import NotifySettings
from services.notify.domain.config import RoutingConfigError
from shared.runtime.service_main import run_service

SUMMARY = """Routes, groups, deduplicates, silences and delivers scoring's alerts to webhooks,
e-mail and Kafka, like Prometheus Alertmanager, and serves Alertmanager's API v2
(docs/notify.md)."""


def main() -> None:
    run_service(
        "notify",
        summary=SUMMARY,
        settings_type=NotifySettings,
        create_app=create_app,
        refusals=(RoutingConfigError,),
    )


if __name__ == "__main__":
    main()
