"""Breakdowns by scope (method v1.1): each (target, scope) has its own series, by the same rules
as the headline with the reporting agencies in place of the reporters. Shown beside the
headline (value, `as_of`, who reported, the scope's own share of distance for share targets);
never entering the headline's status, score or alerts. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.domain.catalog import Kind, Target
from shared.domain.observation import Observation

from .series import SeriesPoint, effective_series
from .shares import Baseline, BaselineSource, progress_share


@dataclass(frozen=True, slots=True)
class ScopedFigure:
    """The latest point of one scope's series, with its own share of distance."""

    scope: str
    current: SeriesPoint
    points: int
    progress_share: float | None  # share targets only: (v - b) / (T - b) over the scope's series


def scoped_figure(target: Target, scope: str, series: Sequence[SeriesPoint]) -> ScopedFigure | None:
    """The figure of one scope's effective series; None when the series is empty."""
    if not series:
        return None
    share: float | None = None
    if target.kind is Kind.SHARE:
        # The scope's own start: its first point (a catalog baseline is the headline's).
        first = series[0]
        baseline = Baseline(first.as_of, first.value, BaselineSource.FIRST_POINT)
        share = progress_share(target, baseline, series[-1].value)
    return ScopedFigure(scope, series[-1], len(series), share)


def breakdowns_of(
    target: Target, scoped: Iterable[Observation], at: datetime
) -> Mapping[str, ScopedFigure]:
    """Every scope of a target with a point at `at`, sorted by scope id."""
    by_scope: dict[str, list[Observation]] = {}
    for observation in scoped:
        assert observation.scope is not None
        by_scope.setdefault(observation.scope, []).append(observation)
    figures: dict[str, ScopedFigure] = {}
    for scope in sorted(by_scope):
        figure = scoped_figure(target, scope, effective_series(by_scope[scope], at))
        if figure is not None:
            figures[scope] = figure
    return figures
