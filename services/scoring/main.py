"""Entry point of the scoring service: `planwatch-scoring`."""

from __future__ import annotations

from services.scoring.app import create_app
from services.scoring.config import ScoringSettings
from shared.runtime.clock_key import ClockKeyError
from shared.runtime.service_main import run_service

SUMMARY = """Rescores a target whenever an accepted event or a clock tick arrives, rolls the
scores up to tasks, areas, the plan and each agency, stores them, emits alerts and serves
the read API and the dashboard (docs/scoring-service.md)."""


def main() -> None:
    run_service(
        "scoring",
        summary=SUMMARY,
        settings_type=ScoringSettings,
        create_app=create_app,
        refusals=(ClockKeyError,),
    )


if __name__ == "__main__":
    main()
