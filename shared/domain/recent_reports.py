"""A target's recent reports with their notes and evidence links: what the read API, the
dashboard and the report's appendix show with each report. Pure.

The reports are the current winners of the target's headline slots (one per date and agency:
a corrected report shows as its correction, a retracted one not at all), newest first by
`(reported_at, event_id)`, at most `limit` of them. The live service folds its points log,
the offline report the events known at its instant; both give the same list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from shared.domain.method_v1 import Slot, fold_observation, is_known_at
from shared.domain.observation import Observation

RECENT_REPORTS = 20  # how many the API, the dashboard and the report show by default


def known_winners(observations: Iterable[Observation], at: datetime) -> dict[Slot, Observation]:
    """The current winner of each (as_of, agency) among the headline events known at `at`."""
    winners: Mapping[Slot, Observation] = {}
    for observation in observations:
        if observation.scope is None and is_known_at(observation, at):
            winners = fold_observation(winners, observation)
    return dict(winners)


def recent_reports(
    winners: Mapping[Slot, Observation], limit: int = RECENT_REPORTS
) -> list[Observation]:
    """The winning reports (not retractions), newest first, at most `limit`."""
    reports = [w for w in winners.values() if w.value is not None]
    reports.sort(key=lambda o: (o.reported_at, o.event_id), reverse=True)
    return reports[: max(limit, 0)]


def shown_with(observation: Observation) -> dict[str, str]:
    """The report's `evidence` and `note`, each only when set."""
    found: dict[str, str] = {}
    if observation.evidence is not None:
        found["evidence"] = observation.evidence
    if observation.note is not None:
        found["note"] = observation.note
    return found


def report_to_json(observation: Observation) -> dict[str, Any]:
    """One report as the read API gives it (`evidence`/`note` only when set)."""
    return {
        "as_of": observation.as_of.isoformat(),
        "value": observation.value,
        "agency": observation.agency,
        "reported_at": observation.reported_at.isoformat(),
        "event_id": observation.event_id,
        **shown_with(observation),
    }
