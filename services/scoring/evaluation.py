"""Rescoring targets at an instant from their bounded windows (the full series on a miss)."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from services.scoring.folding import full_series
from services.scoring.store import ScoringStore
from services.scoring.target_state import Batch, TargetState
from services.scoring.window import WindowedSeries, WindowMissError
from shared.domain.method_v1 import SeriesPoint, evaluate_target
from shared.domain.timebase import cst_date


async def evaluate_targets(
    states: Mapping[str, TargetState],
    keys: Iterable[str],
    at: datetime,
    store: ScoringStore,
    batch: Batch,
) -> int:
    """Rescore each target of `keys` at `at` (its `result`); returns the window misses, which
    were rescored from all of the target's points (then kept in memory)."""
    day = cst_date(at)
    misses: list[str] = []
    for key in keys:
        state = states[key]
        try:
            series: Sequence[SeriesPoint]
            if state.full is not None:
                end = bisect.bisect_right([p.as_of for p in state.full], day)
                series = state.full[:end]
            else:
                series = WindowedSeries(state.window, day)
            state.result = evaluate_target(
                state.plan, state.target, series, state.last_report_at, at
            )
        except WindowMissError:
            misses.append(key)
    for key in misses:
        state = states[key]
        state.full = await full_series(store, state, batch)
        known = [p for p in state.full if p.as_of <= day]
        state.result = evaluate_target(state.plan, state.target, known, state.last_report_at, at)
    return len(misses)
