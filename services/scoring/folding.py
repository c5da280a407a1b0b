"""Folding a batch's events into its targets' winners and bounded windows (the method's
order-free fold: each winner is a maximum, so redelivery changes nothing)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from services.scoring.documents import (
    as_observation,
    date_winners,
    fold_winners,
    target_key,
    winner_to_doc,
)
from services.scoring.store import ScoringStore
from services.scoring.target_state import Batch, DateWinners, TargetState
from services.scoring.tracked import TrackedSubject
from services.scoring.window import (
    NeedsReloadError,
    WindowMissError,
    apply_change,
    window_from_series,
)
from shared.accepted import AcceptedEvent
from shared.domain.method_v1 import SeriesPoint, date_point, points_by_date, supersedes


async def fold_events(
    events: Sequence[AcceptedEvent],
    batch: Batch,
    states: Mapping[str, TargetState],
    tracked: Mapping[str, TrackedSubject],
    store: ScoringStore,
) -> None:
    """Fold each headline event into the batch's winners (order-free: each winner is a
    maximum). Scoped events (v1.1 breakdowns) never enter the headline; deliverables and
    indicators fold into their own subjects."""
    for event in [e for e in events if target_key(e.plan, e.target) in tracked]:
        key = target_key(event.plan, event.target)
        if tracked[key].fold(event.to_observation()):
            batch.tracked.add(key)
    events = [e for e in events if target_key(e.plan, e.target) not in tracked]
    headline = [event for event in events if event.scope is None]
    for event in events:
        if event.scope is not None:
            key = target_key(event.plan, event.target)
            if states[key].fold_scoped(event.to_observation()):
                batch.touched.add(key)
    lookups: dict[tuple[str, date], DateWinners] = {}
    for event in headline:
        state = states[target_key(event.plan, event.target)]
        slot = (state.key, event.as_of)
        if slot not in lookups and needs_lookup(state, event.as_of):
            docs = await store.date_points(event.plan, event.target, event.as_of.isoformat())
            lookups[slot] = date_winners(docs)
    for event in headline:
        _fold_headline(event, batch, states[target_key(event.plan, event.target)], lookups)


def _fold_headline(
    event: AcceptedEvent,
    batch: Batch,
    state: TargetState,
    lookups: Mapping[tuple[str, date], DateWinners],
) -> None:
    key = state.key
    observation = event.to_observation()
    slot = (key, event.as_of)
    if slot not in batch.initial:
        if slot in lookups:
            initial = dict(lookups[slot])
        else:
            known = state.window.known_point(event.as_of)
            assert not isinstance(known, WindowMissError)
            initial = {} if known is None else {known.agency: as_observation(event.target, known)}
        batch.initial[slot] = initial
        batch.winners[slot] = dict(initial)
    winners = batch.winners[slot]
    current = winners.get(observation.agency)
    if current is None or supersedes(observation, current):
        winners[observation.agency] = observation
    at = event.reported_at
    if observation.value is not None and (
        state.last_report_at is None or at > state.last_report_at
    ):
        state.last_report_at = at
        batch.touched.add(key)
    if state.latest_event_at is None or at > state.latest_event_at:
        state.latest_event_at = at
        batch.touched.add(key)
    batch.last_event[key] = event


def needs_lookup(state: TargetState, as_of: date) -> bool:
    """Whether a date's winners must be read from the points log: the window does not know
    its point, or it does but the target has several reporters (the window keeps each
    date's point, not every reporter's winner)."""
    known = state.window.known_point(as_of)
    if isinstance(known, WindowMissError):
        return True
    return known is not None and len(state.target.headline_reporters) > 1


async def update_windows(
    batch: Batch, states: Mapping[str, TargetState], store: ScoringStore, tail_size: int
) -> int:
    """Apply the batch's changed winners to the windows (and the points to write); returns
    how many targets needed their full series."""
    changed = sorted(
        (slot for slot, winners in batch.winners.items() if winners != batch.initial[slot]),
        key=lambda slot: (slot[0], slot[1]),
    )
    for key, as_of in changed:
        state = states[key]
        before, after = batch.initial[(key, as_of)], batch.winners[(key, as_of)]
        writes = batch.point_writes.setdefault(key, [])
        for agency in sorted(after):
            if before.get(agency) != after[agency]:
                writes.append(winner_to_doc(state.plan.id, after[agency]))
        batch.touched.add(key)
        point = date_point(after.values())
        state.update_full(as_of, point)
        if key in batch.reload:
            continue
        try:
            state.window = apply_change(
                state.window, as_of, date_point(before.values()), point, tail_size
            )
        except NeedsReloadError:
            batch.reload.add(key)
    for key in sorted(batch.reload):
        state = states[key]
        if state.full is None:
            state.full = await full_series(store, state, batch)
        max_as_of = max(as_of for k, as_of in batch.winners if k == key)
        if state.window.max_as_of is not None:
            max_as_of = max(max_as_of, state.window.max_as_of)
        state.window = window_from_series(state.full, max_as_of, tail_size)
    return len(batch.reload)


async def full_series(store: ScoringStore, state: TargetState, batch: Batch) -> list[SeriesPoint]:
    """Every point of a target (stored points overlaid with this batch's winners): a scan
    of the points collection, done once per target and process (then kept in memory)."""
    winners = fold_winners(await store.target_points(state.plan.id, state.target.id))
    winners.update(batch.overlay(state.key))
    points = points_by_date(winners)
    return [points[as_of] for as_of in sorted(points)]
