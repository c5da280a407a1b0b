"""Applies batches of accepted events and clock ticks to the stored scoring state.

Per batch: fold each event into its target's winners (the method's order-free fold), update the
bounded windows, move the clock to the greatest `reported_at` or tick consumed, rescore (every
target of every plan when the clock moved, else the targets touched), roll up, then write:
target documents (each with its outbox), plan documents, the clock; then flush the outboxes
(points, history records, score and alert messages). The caller commits the Kafka offsets after
`apply` returns. After any failure the in-memory state is dropped and reloaded (outboxes
re-flushed) before the next attempt, so MongoDB is always the truth.

Why this is idempotent: a target's state is a function of the set of events folded in (winners
are maxima of a total order), of its last report and of the clock (a maximum); folding an event
twice changes nothing. A crash after a target document was written but before its outbox was
flushed is repaired on reload by flushing that outbox (same ids); a crash before the write leaves
nothing behind, so the redelivered batch produces the write anew.
"""

from __future__ import annotations

import bisect
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from services.scoring.alert_payload import alert_event
from services.scoring.documents import (
    JSON,
    AlertStates,
    alerts_from_doc,
    alerts_to_doc,
    as_observation,
    as_point,
    fold_winners,
    history_record,
    iso,
    parse_instant,
    result_json,
    result_signature,
    score_message,
    target_key,
    window_from_doc,
    window_to_doc,
    winner_to_doc,
)
from services.scoring.metrics import ScoringMetrics
from services.scoring.store import ScoringStore
from services.scoring.window import (
    MIN_TAIL_SIZE,
    TAIL_SIZE,
    NeedsReloadError,
    SeriesWindow,
    WindowedSeries,
    WindowMissError,
    apply_change,
    window_from_series,
)
from shared import topics
from shared.accepted import AcceptedEvent
from shared.contract.alert_event import encode_alert_event
from shared.domain.catalog import Catalog, Plan, Target
from shared.domain.method_v1 import (
    AlertTransition,
    PlanState,
    SeriesPoint,
    Status,
    TargetResult,
    alert_states,
    alert_transitions,
    assemble_plan_state,
    evaluate_target,
    plan_state_to_json,
    supersedes,
)
from shared.domain.observation import Observation
from shared.domain.timebase import cst_date
from shared.runtime.kafka import Outbound

Publisher = Callable[[Sequence[Outbound]], Awaitable[None]]
WallClock = Callable[[], float]


async def publish_nothing(messages: Sequence[Outbound]) -> None:
    """A publisher for rebuilding state without emitting (replay's default)."""
    return


class UnknownTargetEventError(ValueError):
    """An accepted event names a plan or target the catalog does not have."""


def check_known(catalog: Catalog, event: AcceptedEvent) -> None:
    """Raises UnknownTargetEventError when the catalog has no such plan or target."""
    plan = catalog.plans.get(event.plan)
    if plan is None or event.target not in plan.targets:
        raise UnknownTargetEventError(
            f"event {event.event_id} names target {event.target!r} of plan {event.plan!r}, "
            "which the catalog does not have"
        )


@dataclass
class TargetState:
    plan: Plan
    target: Target
    key: str
    window: SeriesWindow = field(default_factory=SeriesWindow)
    last_report_at: datetime | None = None
    latest_event_at: datetime | None = None
    stored_result: JSON | None = None
    stored_alerts: AlertStates = field(default_factory=dict)
    result: TargetResult | None = None
    # Every point, kept in memory once the window was not enough (a retraction emptied it, or
    # the regression scan ran past it along a long flat run); kept current from then on.
    full: list[SeriesPoint] | None = None
    history_seq: int = 0  # the number of the target's last history record

    def update_full(self, as_of: date, new: SeriesPoint | None) -> None:
        if self.full is None:
            return
        dates = [p.as_of for p in self.full]
        i = bisect.bisect_left(dates, as_of)
        if i < len(dates) and dates[i] == as_of:
            del self.full[i]
        if new is not None:
            self.full.insert(i, new)


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    clock: datetime | None
    rescored: int
    written: tuple[str, ...]  # target keys whose document was written
    transitions: tuple[AlertTransition, ...]
    fallbacks: int  # evaluations or window updates that needed the full series


@dataclass
class _Batch:
    """One batch's folding state."""

    initial: dict[tuple[str, date], Observation | None] = field(default_factory=dict)
    winners: dict[tuple[str, date], Observation | None] = field(default_factory=dict)
    last_event: dict[str, AcceptedEvent] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)
    point_writes: dict[str, list[JSON]] = field(default_factory=dict)
    reload: set[str] = field(default_factory=set)

    def overlay(self, key: str) -> dict[date, Observation | None]:
        return {as_of: w for (k, as_of), w in self.winners.items() if k == key}


def _message_doc(message: Outbound) -> JSON:
    return {
        "topic": message.topic,
        "key": message.key.decode("utf-8") if message.key is not None else None,
        "value": message.value.decode("utf-8"),
        "headers": dict(message.headers),
    }


def _message_from_doc(doc: Mapping[str, object]) -> Outbound:
    key = doc.get("key")
    headers = doc.get("headers") or {}
    assert isinstance(headers, dict)
    return Outbound(
        topic=str(doc["topic"]),
        value=str(doc["value"]).encode("utf-8"),
        key=str(key).encode("utf-8") if key is not None else None,
        headers={str(k): str(v) for k, v in headers.items()},
    )


def state_text(data: JSON) -> str:
    """A plan state as stored: JSON text (floats round-trip exactly)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _dumps(data: JSON) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class ScoringEngine:
    def __init__(
        self,
        catalog: Catalog,
        store: ScoringStore,
        publish: Publisher,
        *,
        base_url: str,
        metrics: ScoringMetrics | None = None,
        scores_topic: str = topics.SCORES,
        alerts_topic: str = topics.ALERTS,
        wall_clock: WallClock = time.time,
        tail_size: int = TAIL_SIZE,
        on_applied: Callable[[Sequence[AcceptedEvent], float], None] | None = None,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.publish = publish
        self.base_url = base_url
        self.metrics = metrics
        self.scores_topic = scores_topic
        self.alerts_topic = alerts_topic
        self.wall_clock = wall_clock
        # Told each batch's events and the wall time their scores were stored (benchmarks).
        self.on_applied = on_applied
        if tail_size < MIN_TAIL_SIZE:
            raise ValueError(f"tail_size must be at least {MIN_TAIL_SIZE}, not {tail_size}")
        self.tail_size = tail_size
        self.loaded = False
        self.clock: datetime | None = None
        self.states: dict[str, TargetState] = {}
        self.plan_json: dict[str, JSON | None] = {}
        self._batch = _Batch()

    # --- public -----------------------------------------------------------------------------

    def check(self, event: AcceptedEvent) -> None:
        """Raises UnknownTargetEventError when the catalog has no such plan or target."""
        check_known(self.catalog, event)

    async def apply(
        self, events: Sequence[AcceptedEvent], ticks: Sequence[datetime] = ()
    ) -> BatchOutcome:
        """Apply one batch (events checked with `check`). Idempotent; safe to call again with the
        same batch after a failure."""
        try:
            if not self.loaded:
                await self.load()
            return await self._apply(events, ticks)
        except BaseException:
            self.loaded = False
            raise

    async def load(self) -> None:
        """Read the state from MongoDB, re-flush every stored outbox, rescore at the clock."""
        self.loaded = False
        meta = await self.store.load_meta()
        self.clock = parse_instant(meta["at"]) if meta and meta.get("at") else None
        docs = {doc["_id"]: doc for doc in await self.store.load_targets()}
        self.states = {}
        for plan in self._plans():
            for target_id in sorted(plan.targets):
                key = target_key(plan.id, target_id)
                doc = docs.get(key, {})
                last_report = doc.get("last_report_at")
                latest = doc.get("latest_event_at")
                self.states[key] = TargetState(
                    plan=plan,
                    target=plan.targets[target_id],
                    key=key,
                    window=window_from_doc(doc.get("window")),
                    last_report_at=parse_instant(last_report) if last_report else None,
                    latest_event_at=parse_instant(latest) if latest else None,
                    stored_result=doc.get("result"),
                    stored_alerts=alerts_from_doc(doc.get("alerts")),
                    history_seq=int(doc.get("history_seq", 0)),
                )
        await self._flush([doc["outbox"] for _, doc in sorted(docs.items()) if doc.get("outbox")])
        self.plan_json = {
            doc["_id"]: json.loads(doc["state"])
            for doc in await self.store.load_plans()
            if doc.get("state")
        }
        self._batch = _Batch()
        if self.clock is not None:
            await self._evaluate(list(self.states), self.clock)
        self.loaded = True

    def results(self, plan_id: str) -> dict[str, TargetResult]:
        """The current in-memory results of a plan's targets (after `load` or `apply`)."""
        out: dict[str, TargetResult] = {}
        for state in self.states.values():
            if state.plan.id == plan_id and state.result is not None:
                out[state.target.id] = state.result
        return out

    def plan_state(self, plan_id: str) -> PlanState | None:
        results = self.results(plan_id)
        plan = self.catalog.plan(plan_id)
        if self.clock is None or len(results) != len(plan.targets):
            return None
        return assemble_plan_state(plan, results, self.clock)

    # --- the batch -------------------------------------------------------------------------

    def _plans(self) -> list[Plan]:
        return [self.catalog.plans[p] for p in sorted(self.catalog.plans)]

    async def _apply(
        self, events: Sequence[AcceptedEvent], ticks: Sequence[datetime]
    ) -> BatchOutcome:
        started = time.perf_counter()
        instants = [e.reported_at for e in events] + list(ticks)
        if self.clock is not None:
            instants.append(self.clock)
        if not instants:
            return BatchOutcome(self.clock, 0, (), (), 0)
        new_clock = max(instants)
        batch = self._batch = _Batch()
        await self._fold(events, batch)
        fallbacks = await self._update_windows(batch)
        keys = list(self.states) if new_clock != self.clock else sorted(batch.touched)
        fallbacks += await self._evaluate(keys, new_clock)

        tick_trigger = f"tick:{iso(new_clock)}"
        target_updates: dict[str, JSON] = {}
        new_alerts: dict[str, AlertStates] = {}
        outboxes: list[JSON] = []
        transitions: list[AlertTransition] = []
        for key in keys:
            state = self.states[key]
            update = self._target_update(state, batch, new_clock, tick_trigger)
            if update is None:
                continue
            fields, alerts, emitted = update
            target_updates[key] = fields
            new_alerts[key] = alerts
            outboxes.append(fields["outbox"])
            transitions.extend(emitted)

        plan_updates: dict[str, JSON] = {}
        plan_states: list[PlanState] = []
        for plan in self._plans():
            plan_state = self.plan_state_at(plan, new_clock)
            plan_states.append(plan_state)
            data = plan_state_to_json(plan_state)
            if data != self.plan_json.get(plan.id):
                # As JSON text: its keys are catalog ids with dots, which FerretDB refuses.
                plan_updates[plan.id] = {"state": state_text(data), "clock": iso(new_clock)}

        await self.store.write_targets(target_updates)
        await self.store.write_plans(plan_updates)
        meta: JSON = {}
        if new_clock != self.clock:
            meta["at"] = iso(new_clock)
        if ticks:
            meta["last_tick"] = iso(max(ticks))
        if meta:
            await self.store.write_meta(meta)
        await self._flush(outboxes)

        self._remember(target_updates, new_alerts, plan_updates)
        self.clock = new_clock
        self._batch = _Batch()
        if self.on_applied is not None:
            self.on_applied(events, self.wall_clock())
        self._observe(
            events=events,
            ticks=ticks,
            keys=keys,
            batch=batch,
            transitions=transitions,
            plan_states=plan_states,
            started=started,
        )
        return BatchOutcome(
            new_clock, len(keys), tuple(target_updates), tuple(transitions), fallbacks
        )

    def _remember(
        self,
        target_updates: Mapping[str, JSON],
        new_alerts: Mapping[str, AlertStates],
        plan_updates: Mapping[str, JSON],
    ) -> None:
        """What was just written becomes the stored state the next batch compares with."""
        for key, fields in target_updates.items():
            self.states[key].stored_result = fields["result"]
            self.states[key].stored_alerts = new_alerts[key]
            self.states[key].history_seq = fields["history_seq"]
        for plan_id, fields in plan_updates.items():
            self.plan_json[plan_id] = json.loads(fields["state"])

    def plan_state_at(self, plan: Plan, at: datetime) -> PlanState:
        results = {}
        for target_id in plan.targets:
            result = self.states[target_key(plan.id, target_id)].result
            assert result is not None, "every target is evaluated once the clock is set"
            results[target_id] = result
        return assemble_plan_state(plan, results, at)

    async def _fold(self, events: Sequence[AcceptedEvent], batch: _Batch) -> None:
        """Fold each event into the batch's winners (order-free: the winner is a maximum)."""
        lookups: dict[tuple[str, date], Observation | None] = {}
        for event in events:
            state = self.states[target_key(event.plan, event.target)]
            slot = (state.key, event.as_of)
            if slot not in lookups and isinstance(
                state.window.known_point(event.as_of), WindowMissError
            ):
                docs = await self.store.date_points(
                    event.plan, event.target, event.as_of.isoformat()
                )
                lookups[slot] = fold_winners(docs).get(event.as_of)
        for event in events:
            key = target_key(event.plan, event.target)
            state = self.states[key]
            observation = event.to_observation()
            slot = (key, event.as_of)
            if slot not in batch.initial:
                if slot in lookups:
                    initial = lookups[slot]
                else:
                    known = state.window.known_point(event.as_of)
                    assert not isinstance(known, WindowMissError)
                    initial = as_observation(event.target, known) if known is not None else None
                batch.initial[slot] = initial
                batch.winners[slot] = initial
            current = batch.winners[slot]
            if current is None or supersedes(observation, current):
                batch.winners[slot] = observation
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

    async def _update_windows(self, batch: _Batch) -> int:
        changed = sorted(
            (slot for slot, winner in batch.winners.items() if winner != batch.initial[slot]),
            key=lambda slot: (slot[0], slot[1]),
        )
        for key, as_of in changed:
            state = self.states[key]
            winner = batch.winners[(key, as_of)]
            assert winner is not None  # a changed slot has a new winner
            batch.point_writes.setdefault(key, []).append(winner_to_doc(state.plan.id, winner))
            batch.touched.add(key)
            state.update_full(as_of, as_point(winner))
            if key in batch.reload:
                continue
            try:
                state.window = apply_change(
                    state.window,
                    as_of,
                    as_point(batch.initial[(key, as_of)]),
                    as_point(winner),
                    self.tail_size,
                )
            except NeedsReloadError:
                batch.reload.add(key)
        for key in sorted(batch.reload):
            state = self.states[key]
            if state.full is None:
                state.full = await self._full_series(state, batch)
            max_as_of = max(as_of for k, as_of in batch.winners if k == key)
            if state.window.max_as_of is not None:
                max_as_of = max(max_as_of, state.window.max_as_of)
            state.window = window_from_series(state.full, max_as_of, self.tail_size)
        return len(batch.reload)

    async def _full_series(self, state: TargetState, batch: _Batch) -> list[SeriesPoint]:
        """Every point of a target (stored points overlaid with this batch's winners): a scan
        of the points collection, done once per target and process (then kept in memory)."""
        winners: dict[date, Observation | None] = dict(
            fold_winners(await self.store.target_points(state.plan.id, state.target.id))
        )
        winners.update(batch.overlay(state.key))
        return [p for as_of in sorted(winners) if (p := as_point(winners[as_of])) is not None]

    async def _evaluate(self, keys: Iterable[str], at: datetime) -> int:
        """Rescore targets at `at` from their windows; on a window miss, from all points."""
        day = cst_date(at)
        misses: list[str] = []
        for key in keys:
            state = self.states[key]
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
            state = self.states[key]
            state.full = await self._full_series(state, self._batch)
            known = [p for p in state.full if p.as_of <= day]
            state.result = evaluate_target(
                state.plan, state.target, known, state.last_report_at, at
            )
        return len(misses)

    def _target_update(
        self, state: TargetState, batch: _Batch, at: datetime, tick_trigger: str
    ) -> tuple[JSON, AlertStates, list[AlertTransition]] | None:
        result = state.result
        assert result is not None
        after = result_json(result)
        before = state.stored_result
        previous = {rule: severity for rule, (severity, _) in state.stored_alerts.items()}
        current = alert_states(result)
        event = batch.last_event.get(state.key)
        trigger = event.event_id if event is not None else tick_trigger
        emitted = list(
            alert_transitions(state.plan.id, state.target.id, previous, current, trigger)
        )
        if after == before and not emitted and state.key not in batch.touched:
            return None
        since = {rule: started for rule, (_, started) in state.stored_alerts.items()}
        alerts: AlertStates = {
            rule: (severity, since.get(rule, iso(at))) for rule, severity in current.items()
        }
        history: list[JSON] = []
        messages: list[Outbound] = []
        key_bytes = state.target.id.encode("utf-8")
        if result_signature(after) != result_signature(before):
            names = {"plan": state.plan.id, "target": state.target.id, "trigger": trigger}
            seq = state.history_seq + 1
            history.append(history_record(**names, at=at, before=before, after=after, seq=seq))
            messages.append(
                Outbound(
                    self.scores_topic,
                    _dumps(score_message(**names, at=at, before=before, after=after)),
                    key=key_bytes,
                    headers={"content-type": "application/json"},
                )
            )
        for transition in emitted:
            started = since.get(transition.rule)
            payload = alert_event(
                transition,
                result,
                state.plan,
                starts_at=parse_instant(started) if started is not None else at,
                base_url=self.base_url,
            )
            messages.append(
                Outbound(
                    self.alerts_topic,
                    encode_alert_event(payload),
                    key=key_bytes,
                    headers={"content-type": "application/json", "alert-id": transition.id},
                )
            )
        fields: JSON = {
            "plan": state.plan.id,
            "target": state.target.id,
            "window": window_to_doc(state.window),
            "last_report_at": iso(state.last_report_at) if state.last_report_at else None,
            "latest_event_at": iso(state.latest_event_at) if state.latest_event_at else None,
            "result": after,
            "alerts": alerts_to_doc(alerts),
            "history_seq": state.history_seq + len(history),
            "outbox": {
                "points": batch.point_writes.get(state.key, []),
                "history": history,
                "messages": [_message_doc(m) for m in messages],
            },
            "clock": iso(at),
        }
        return fields, alerts, emitted

    async def _flush(self, outboxes: Sequence[JSON]) -> None:
        points = [p for box in outboxes for p in box.get("points", [])]
        history = [h for box in outboxes for h in box.get("history", [])]
        messages = [_message_from_doc(m) for box in outboxes for m in box.get("messages", [])]
        await self.store.insert_points(points)
        await self.store.insert_history(history)
        await self.publish(messages)

    # --- metrics ---------------------------------------------------------------------------

    def _observe(
        self,
        *,
        events: Sequence[AcceptedEvent],
        ticks: Sequence[datetime],
        keys: Sequence[str],
        batch: _Batch,
        transitions: Sequence[AlertTransition],
        plan_states: Sequence[PlanState],
        started: float,
    ) -> None:
        metrics = self.metrics
        if metrics is None:
            return
        metrics.rescore_duration.observe(time.perf_counter() - started)
        for key in keys:
            event = batch.last_event.get(key)
            trigger = "tick" if event is None else event.kind.value
            metrics.rescores.labels(trigger).inc()
        now = self.wall_clock()
        for event in events:
            metrics.event_to_score.observe(max(0.0, now - event.received_at.timestamp()))
        for transition in transitions:
            metrics.alert_transitions.labels(
                transition.rule.value, transition.severity.value, transition.kind.value
            ).inc()
        counts = dict.fromkeys(Status, 0)
        for state in self.states.values():
            if state.result is not None:
                counts[state.result.status] += 1
        for status, n in counts.items():
            metrics.targets.labels(status.value).set(n)
        for plan_state in plan_states:
            if plan_state.total.score is not None:
                metrics.plan_score.labels(plan_state.plan).set(plan_state.total.score)
            for area_id, rollup in plan_state.areas.items():
                if rollup.score is not None:
                    metrics.area_score.labels(plan_state.plan, area_id).set(rollup.score)
            for agency_id, card in plan_state.agencies.items():
                metrics.agency_stale_targets.labels(agency_id).set(card.stale)
        if self.clock is not None:
            metrics.clock.set(self.clock.timestamp())
        if ticks:
            metrics.last_tick.set(now)
