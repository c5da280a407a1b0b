"""Entry point of the scoring service: `planwatch-scoring`."""

from __future__ import annotations

import sys

from services.scoring.app import create_app
from services.scoring.config import ScoringSettings
from shared.runtime.clock_key import ClockKeyError
from shared.runtime.host import serve
from shared.runtime.logging import configure_logging, get_logger


def main() -> None:
    settings = ScoringSettings()
    configure_logging("scoring", settings.log_level)
    try:
        app = create_app(settings)
    except ClockKeyError as exc:
        get_logger("planwatch.scoring").error("clock keys refused", error=str(exc))
        print(f"scoring: {exc}", file=sys.stderr)
        sys.exit(2)
    serve(app, settings.http, settings.management_http())


if __name__ == "__main__":
    main()
