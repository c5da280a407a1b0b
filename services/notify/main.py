"""Entry point of the notify service: `planwatch-notify`."""

from __future__ import annotations

from services.notify.app import create_app
from services.notify.config import NotifySettings
from shared.runtime.host import serve
from shared.runtime.logging import configure_logging


def main() -> None:
    settings = NotifySettings()
    configure_logging("notify", settings.log_level)
    serve(create_app(settings), settings.http)


if __name__ == "__main__":
    main()
