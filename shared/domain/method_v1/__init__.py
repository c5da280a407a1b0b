"""Scoring method v1.1 (docs/scoring-method.md, after ../shared/docs/scoring.md): pure functions.

The package keeps the v1 family's name; v1.1 changed who counts in a series (reporters,
breakdowns by scope) and how roll-ups weigh their members (by the scored targets under them).

Entry points: `score_plan` (offline: a plan's state from its events at an instant),
`evaluate_target` (one target from its effective series), `IncrementalSeries` /
`fold_observation` (the live service's per-target state), `alert_states` / `alert_transitions`,
and `plan_state_to_json`.
"""

from .alerts import (
    AlertRule,
    AlertTransition,
    FiringAlert,
    Severity,
    TransitionKind,
    alert_states,
    alert_transitions,
    fingerprint,
    firing_alerts,
    transition_id,
)
from .breakdowns import ScopedFigure, breakdowns_of
from .evaluate import METHOD_VERSION, TargetResult, evaluate_target
from .figures import Projection, Staleness
from .json_view import plan_state_to_json, rollup_to_json, target_to_json
from .plan_state import PlanState, UnknownTargetError, assemble_plan_state, score_plan
from .rollup import AgencyScorecard, Rollup, Rollups, agency_scorecards, roll_up
from .series import (
    IncrementalSeries,
    SeriesError,
    SeriesPoint,
    Slot,
    as_point,
    date_point,
    effective_series,
    fold_observation,
    is_known_at,
    last_report_at,
    points_by_date,
    series_from_winners,
    slot_of,
    supersedes,
)
from .shares import Baseline, BaselineSource, achieved
from .status import BADNESS, Status, is_worse, status_from_score
from .tracked import (
    CommitmentState,
    DeliverableState,
    IndicatorState,
    TaskCoverage,
    Tracked,
    tracked_state,
)

__all__ = [
    "BADNESS",
    "METHOD_VERSION",
    "AgencyScorecard",
    "AlertRule",
    "AlertTransition",
    "Baseline",
    "BaselineSource",
    "CommitmentState",
    "DeliverableState",
    "FiringAlert",
    "IncrementalSeries",
    "IndicatorState",
    "PlanState",
    "Projection",
    "Rollup",
    "Rollups",
    "ScopedFigure",
    "SeriesError",
    "SeriesPoint",
    "Severity",
    "Slot",
    "Staleness",
    "Status",
    "TargetResult",
    "TaskCoverage",
    "Tracked",
    "TransitionKind",
    "UnknownTargetError",
    "achieved",
    "agency_scorecards",
    "alert_states",
    "alert_transitions",
    "as_point",
    "assemble_plan_state",
    "breakdowns_of",
    "date_point",
    "effective_series",
    "evaluate_target",
    "fingerprint",
    "firing_alerts",
    "fold_observation",
    "is_known_at",
    "is_worse",
    "last_report_at",
    "plan_state_to_json",
    "points_by_date",
    "roll_up",
    "rollup_to_json",
    "score_plan",
    "series_from_winners",
    "slot_of",
    "status_from_score",
    "supersedes",
    "target_to_json",
    "tracked_state",
    "transition_id",
]
