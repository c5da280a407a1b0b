"""Entry point of the scoring service: `planwatch-scoring`."""

from __future__ import annotations

from services.scoring.app import create_app
from services.scoring.config import ScoringSettings
from shared.runtime.host import serve
from shared.runtime.logging import configure_logging


def main() -> None:
    settings = ScoringSettings()
    configure_logging("scoring", settings.log_level)
    serve(create_app(settings), settings.http, settings.management_http())


if __name__ == "__main__":
    main()
