"""Entry point of the ingest service: `planwatch-ingest`."""

from __future__ import annotations

from services.ingest.app import create_app
from services.ingest.config import IngestSettings
from shared.runtime.host import serve
from shared.runtime.logging import configure_logging


def main() -> None:
    settings = IngestSettings()
    configure_logging("ingest", settings.log_level)
    serve(create_app(settings), settings.http, settings.management_http())


if __name__ == "__main__":
    main()
