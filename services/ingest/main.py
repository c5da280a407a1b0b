"""Entry point of the ingest service: `planwatch-ingest`."""

from __future__ import annotations

from services.ingest.app import create_app
from services.ingest.config import IngestSettings
from shared.runtime.service_main import run_service

SUMMARY = """The door agencies report through: validates, authenticates and authorises each signed
progress event (Kafka and HTTP), stores it once in MongoDB and passes it on to scoring;
bad events go to the dead-letter topic with a reason (docs/ingest.md)."""


def main() -> None:
    run_service(
        "ingest",
        summary=SUMMARY,
        settings_type=IngestSettings,
        create_app=create_app,
    )


if __name__ == "__main__":
    main()
