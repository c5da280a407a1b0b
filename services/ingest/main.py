"""Entry point of the ingest service: `planwatch-ingest`."""

from __future__ import annotations

import sys

from services.ingest.app import create_app
from services.ingest.config import IngestSettings
from shared.runtime.host import serve
from shared.runtime.logging import configure_logging
from shared.runtime.service_args import handle_arguments, load_settings

SUMMARY = """The door agencies report through: validates, authenticates and authorises each signed
progress event (Kafka and HTTP), stores it once in MongoDB and passes it on to scoring;
bad events go to the dead-letter topic with a reason (docs/ingest.md)."""


def main() -> None:
    handle_arguments(
        sys.argv[1:], program="planwatch-ingest", summary=SUMMARY, settings_type=IngestSettings
    )
    settings = load_settings(IngestSettings, "planwatch-ingest")
    configure_logging("ingest", settings.log_level)
    serve(create_app(settings), settings.http, settings.management_http())


if __name__ == "__main__":
    main()
