"""Entry point of the scoring service: `planwatch-scoring`."""

from __future__ import annotations

import sys

from services.scoring.app import create_app
from services.scoring.config import ScoringSettings
from shared.runtime.clock_key import ClockKeyError
from shared.runtime.host import serve
from shared.runtime.logging import configure_logging, get_logger
from shared.runtime.service_args import handle_arguments, load_settings

SUMMARY = """Rescores a target whenever an accepted event or a clock tick arrives, rolls the
scores up to tasks, areas, the plan and each agency, stores them, emits alerts and serves
the read API and the dashboard (docs/scoring-service.md)."""


def main() -> None:
    handle_arguments(
        sys.argv[1:], program="planwatch-scoring", summary=SUMMARY, settings_type=ScoringSettings
    )
    settings = load_settings(ScoringSettings, "planwatch-scoring")
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
