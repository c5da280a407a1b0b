"""Applies batches of accepted events and clock ticks to the stored scoring state of the targets
this replica owns.

Ownership: `planwatch.accepted` is keyed by target, so a target's events all reach the replica
assigned its partition. The engine keeps in memory only the targets of the partitions it owns
(`set_ownership`; None owns every target, as replay does); on assignment it takes each
partition's next fencing epoch, claims its targets' documents with it and loads them; every
target write is conditional on that epoch, so a replica that was paused and lost a partition
meanwhile writes nothing for it and publishes nothing on its behalf (it drops those targets).
Roll-ups are read back from the stored target documents (whichever replica wrote them) and the
plan document is written only forward. The clock is shared: a batch whose reports move it
publishes the new instant on the replicas' clock topic, and every replica rescores its targets
at every instant it reads there or on the public clock topic.

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

from services.scoring.alert_payload import alert_events
from services.scoring.clock_sync import clock_sync_message, micros
from services.scoring.documents import (
    JSON,
    AlertStates,
    alerts_from_doc,
    alerts_to_doc,
    as_observation,
    date_winners,
    fold_winners,
    history_record,
    iso,
    parse_instant,
    result_json,
    result_signature,
    scoped_from_doc,
    scoped_to_doc,
    score_message,
    target_key,
    window_from_doc,
    window_to_doc,
    winner_to_doc,
)
from services.scoring.metrics import ScoringMetrics
from services.scoring.result_doc import result_from_doc, result_to_doc
from services.scoring.store import ScoringStore
from services.scoring.tracked import TrackedSubject, tracked_of_docs
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
    breakdowns_of,
    date_point,
    evaluate_target,
    plan_state_to_json,
    points_by_date,
    supersedes,
)
from shared.domain.observation import Observation
from shared.domain.timebase import cst_date
from shared.runtime.kafka import Outbound
from shared.runtime.logging import get_logger

log = get_logger("planwatch.scoring.engine")

Publisher = Callable[[Sequence[Outbound]], Awaitable[None]]
WallClock = Callable[[], float]


async def publish_nothing(messages: Sequence[Outbound]) -> None:
    """A publisher for rebuilding state without emitting (replay's default)."""
    return


class UnknownTargetEventError(ValueError):
    """An accepted event names a plan or target the catalog does not have."""


def check_known(catalog: Catalog, event: AcceptedEvent) -> None:
    """Raises UnknownTargetEventError when the catalog has no such plan or target (or
    deliverable, or indicator)."""
    plan = catalog.plans.get(event.plan)
    if plan is None or plan.subject(event.target) is None:
        raise UnknownTargetEventError(
            f"event {event.event_id} names target {event.target!r} of plan {event.plan!r}, "
            "which the catalog does not have"
        )


MAX_SCOPED_DATES = 48  # per scope: four years of monthly breakdowns


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
    # Method v1.1 breakdowns: each (scope, as_of, agency)'s winner; never in the headline.
    scoped: dict[tuple[str, date, str], Observation] = field(default_factory=dict)

    def fold_scoped(self, observation: Observation) -> bool:
        """Fold a scoped event; returns whether a winner changed. Each scope keeps its latest
        MAX_SCOPED_DATES dates (a bound on the document: older breakdowns are history)."""
        assert observation.scope is not None
        slot = (observation.scope, observation.as_of, observation.agency)
        current = self.scoped.get(slot)
        if current is not None and not supersedes(observation, current):
            return False
        self.scoped[slot] = observation
        dates = sorted({d for scope, d, _ in self.scoped if scope == observation.scope})
        for old in dates[:-MAX_SCOPED_DATES]:
            for stale in [s for s in self.scoped if s[0] == observation.scope and s[1] == old]:
                del self.scoped[stale]
        return True

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


# One date's headline winners by agency (method v1.1: each reporter's latest event).
DateWinners = dict[str, Observation]


@dataclass
class _Batch:
    """One batch's folding state: per (target key, as_of), the agencies' winners."""

    initial: dict[tuple[str, date], DateWinners] = field(default_factory=dict)
    winners: dict[tuple[str, date], DateWinners] = field(default_factory=dict)
    last_event: dict[str, AcceptedEvent] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)
    point_writes: dict[str, list[JSON]] = field(default_factory=dict)
    reload: set[str] = field(default_factory=set)
    tracked: set[str] = field(default_factory=set)  # deliverables and indicators changed

    def overlay(self, key: str) -> dict[tuple[date, str], Observation]:
        return {
            (as_of, agency): winner
            for (k, as_of), winners in self.winners.items()
            if k == key
            for agency, winner in winners.items()
        }


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
        partition_of: Callable[[str], int] | None = None,
        sync_topic: str | None = None,
    ) -> None:
        """`partition_of` maps a target id to its input partition (needed once ownership is
        set); `sync_topic` is where clock moves made by reports are told to the other
        replicas (None: a lone engine, replay)."""
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
        self.tracked: dict[str, TrackedSubject] = {}  # deliverables and indicators, never scored
        self.partition_of = partition_of
        self.sync_topic = sync_topic
        # The input partitions this replica owns (None: every target) and their epochs.
        self.owned: frozenset[int] | None = None
        self.epochs: dict[int, int] = {}
        # The greatest instant read on the clock topics: moves past it are told to the others.
        self.shared_clock: datetime | None = None
        self.plan_written: dict[str, tuple[int, int]] = {}  # plan -> (clock_us, basis) written
        self._batch = _Batch()

    # --- public -----------------------------------------------------------------------------

    def check(self, event: AcceptedEvent) -> None:
        """Raises UnknownTargetEventError when the catalog has no such plan or target."""
        check_known(self.catalog, event)

    def set_ownership(self, partitions: Iterable[int] | None) -> None:
        """The input partitions this replica now owns (None: every target). Takes effect at the
        next `load` (or `apply`, which loads first)."""
        if partitions is not None and self.partition_of is None:
            raise ValueError("ownership by partition needs `partition_of`")
        self.owned = None if partitions is None else frozenset(partitions)
        self.loaded = False

    def owns(self, target_id: str) -> bool:
        return self.owned is None or (
            self.partition_of is not None and self.partition_of(target_id) in self.owned
        )

    def note_shared_clock(self, at: datetime) -> None:
        """An instant read on the clock topics (every replica reads them whole)."""
        if self.shared_clock is None or at > self.shared_clock:
            self.shared_clock = at

    async def apply(
        self,
        events: Sequence[AcceptedEvent],
        ticks: Sequence[datetime] = (),
        *,
        clock_to: datetime | None = None,
    ) -> BatchOutcome:
        """Apply one batch (events checked with `check`); `clock_to` moves the clock like a
        tick (another replica's reports moved it there). Idempotent; safe to call again with
        the same batch after a failure."""
        try:
            if not self.loaded:
                await self.load()
            return await self._apply(events, ticks, clock_to)
        except BaseException:
            self.loaded = False
            raise

    async def load(self) -> None:
        """Claim the owned partitions (next epoch, stamped on their targets' documents), read
        their targets' state from MongoDB, re-flush their stored outboxes, rescore at the clock."""
        self.loaded = False
        started = time.perf_counter()
        meta = await self.store.load_meta()
        stored_clock = parse_instant(meta["at"]) if meta and meta.get("at") else None
        if stored_clock is not None and (self.clock is None or stored_clock > self.clock):
            self.clock = stored_clock
        owned = [
            (plan, target_id)
            for plan in self._plans()
            for target_id in sorted(plan.targets)
            if self.owns(target_id)
        ]
        subjects = [
            (plan, subject)
            for plan in self._plans()
            for subject in sorted([*plan.deliverables, *plan.indicators])
            if self.owns(subject)
        ]
        lost = await self._claim([target_key(plan.id, t) for plan, t in [*owned, *subjects]])
        keys = [
            target_key(plan.id, t)
            for plan, t in [*owned, *subjects]
            if target_key(plan.id, t) not in lost
        ]
        docs = {doc["_id"]: doc for doc in await self.store.load_targets(keys)}
        self.tracked = {
            key: TrackedSubject.from_doc(plan, subject, key, docs.get(key, {}))
            for plan, subject in subjects
            if (key := target_key(plan.id, subject)) not in lost
        }
        self.states = {}
        for plan, target_id in owned:
            key = target_key(plan.id, target_id)
            if key in lost:
                continue
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
                scoped={
                    (w.scope or "", w.as_of, w.agency): w
                    for w in (scoped_from_doc(target_id, d) for d in doc.get("scoped") or [])
                },
            )
        await self._flush([doc["outbox"] for _, doc in sorted(docs.items()) if doc.get("outbox")])
        self._batch = _Batch()
        if self.clock is not None:
            await self._evaluate(list(self.states), self.clock)
        self.loaded = True
        if self.metrics is not None:
            self.metrics.partitions_owned.set(len(self.owned) if self.owned is not None else 0)
            self.metrics.targets_loaded.set(len(self.states))
            self.metrics.load_duration.observe(time.perf_counter() - started)

    async def _claim(self, keys: Sequence[str]) -> set[str]:
        """Take the next epoch of every owned partition and stamp it on the partition's target
        documents; the keys a newer epoch already holds are returned (and left alone)."""
        if self.owned is None or self.partition_of is None:
            self.epochs = {}
            return set()
        self.epochs = {p: await self.store.next_epoch(p) for p in sorted(self.owned)}
        lost = await self.store.claim_targets({key: self._epoch(key) for key in keys})
        if lost:
            log.warning("targets held by a newer owner", targets=sorted(lost))
        return lost

    def _epoch(self, key: str) -> int:
        assert self.partition_of is not None
        return self.epochs[self.partition_of(key.split(":", 1)[1])]

    def _drop_fenced(self, keys: set[str]) -> None:
        """A newer owner holds these targets: this replica lost their partitions (it was paused
        past its session, or a rebalance overtook it). Forget every target of those partitions
        until Kafka assigns them again."""
        assert self.partition_of is not None and self.owned is not None
        partitions = {self.partition_of(key.split(":", 1)[1]) for key in keys}
        self.owned = self.owned - partitions
        for key in [k for k, state in self.states.items() if not self.owns(state.target.id)]:
            del self.states[key]
        for key in [k for k, subject in self.tracked.items() if not self.owns(subject.subject)]:
            del self.tracked[key]
        log.warning(
            "fenced: partitions lost to a newer owner",
            partitions=sorted(partitions),
            targets=sorted(keys),
        )
        if self.metrics is not None:
            self.metrics.fenced_writes.inc(len(keys))
            self.metrics.partitions_owned.set(len(self.owned))

    def results(self, plan_id: str) -> dict[str, TargetResult]:  # the owned targets only
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
        self, events: Sequence[AcceptedEvent], ticks: Sequence[datetime], clock_to: datetime | None
    ) -> BatchOutcome:
        started = time.perf_counter()
        instants = [e.reported_at for e in events] + list(ticks)
        if clock_to is not None:
            instants.append(clock_to)
        if self.clock is not None:
            instants.append(self.clock)
        if not instants:
            return BatchOutcome(self.clock, 0, (), (), 0)
        new_clock = max(instants)
        clock_moved = new_clock != self.clock
        batch = self._batch = _Batch()
        await self._fold(events, batch)
        fallbacks = await self._update_windows(batch)
        keys = list(self.states) if clock_moved else sorted(batch.touched)
        fallbacks += await self._evaluate(keys, new_clock)

        tick_trigger = f"tick:{iso(new_clock)}"
        target_updates: dict[str, JSON] = {}
        new_alerts: dict[str, AlertStates] = {}
        emitted: dict[str, list[AlertTransition]] = {}
        for key in keys:
            update = self._target_update(self.states[key], batch, new_clock, tick_trigger)
            if update is not None:
                target_updates[key], new_alerts[key], emitted[key] = update

        epochs = (
            {key: self._epoch(key) for key in target_updates} if self.owned is not None else None
        )
        fenced = await self.store.write_targets(target_updates, epochs)
        for key in fenced:  # a newer owner holds them: nothing of theirs leaves this replica
            del target_updates[key], new_alerts[key], emitted[key]
        if fenced:
            self._drop_fenced(fenced)
        tracked_written = await self._write_tracked(batch, new_clock)
        await self._flush([fields["outbox"] for fields in target_updates.values()])
        self._remember(target_updates, new_alerts)
        self.clock = new_clock
        if clock_moved:
            await self.store.advance_clock(iso(new_clock), micros(new_clock))
        if ticks:
            await self.store.write_meta({"last_tick": iso(max(ticks))})
        plan_states: list[PlanState] = []
        if clock_moved or target_updates or tracked_written:
            touched = {self.states[key].plan.id for key in target_updates}
            touched |= {self.tracked[key].plan.id for key in tracked_written}
            plan_states = await self._roll_up(touched if not clock_moved else None, new_clock)
        await self._tell_clock(events)

        self._batch = _Batch()
        transitions = [t for key in sorted(emitted) for t in emitted[key]]
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

    async def _write_tracked(self, batch: _Batch, at: datetime) -> set[str]:
        """Write the changed deliverables' and indicators' documents (fenced like targets);
        returns the keys written."""
        updates = {key: self.tracked[key].document(at) for key in sorted(batch.tracked)}
        epochs = {key: self._epoch(key) for key in updates} if self.owned is not None else None
        fenced = await self.store.write_targets(updates, epochs)
        if fenced:
            self._drop_fenced(fenced)
        return set(updates) - fenced

    def _remember(
        self, target_updates: Mapping[str, JSON], new_alerts: Mapping[str, AlertStates]
    ) -> None:
        """What was just written becomes the stored state the next batch compares with."""
        for key, fields in target_updates.items():
            self.states[key].stored_result = fields["result"]
            self.states[key].stored_alerts = new_alerts[key]
            self.states[key].history_seq = fields["history_seq"]

    async def _roll_up(self, plan_ids: set[str] | None, at: datetime) -> list[PlanState]:
        """Each plan (of `plan_ids`, or all) rolled up from its stored target documents, whoever
        wrote them, and its document written if it is newer than the stored one. A plan some of
        whose targets have no result yet (their owner has not scored them) is left as it is."""
        states: list[PlanState] = []
        for plan in self._plans():
            if plan_ids is not None and plan.id not in plan_ids:
                continue
            stored = await self.store.plan_results(plan.id)
            docs = {
                doc["target"]: doc
                for doc in stored
                if doc.get("result_full") is not None and doc.get("target") in plan.targets
            }
            subjects = [doc for doc in stored if plan.is_tracked_only(str(doc.get("target")))]
            if len(docs) != len(plan.targets):
                continue
            results = {t: result_from_doc(doc["result_full"]) for t, doc in docs.items()}
            breakdowns = {
                t: breakdowns_of(
                    plan.targets[t], [scoped_from_doc(t, d) for d in doc.get("scoped") or []], at
                )
                for t, doc in docs.items()
            }
            tracked = tracked_of_docs(plan, subjects, at)
            state = assemble_plan_state(plan, results, at, breakdowns, tracked)
            states.append(state)
            versions = [*docs.values(), *subjects]
            written = (micros(at), sum(int(doc.get("version", 0)) for doc in versions))
            if self.plan_written.get(plan.id) == written:
                continue
            # As JSON text: its keys are catalog ids with dots, which FerretDB refuses.
            fields = {"state": state_text(plan_state_to_json(state)), "clock": iso(at)}
            if await self.store.write_plan(plan.id, fields, *written):
                self.plan_written[plan.id] = written
        return states

    async def _tell_clock(self, events: Sequence[AcceptedEvent]) -> None:
        """Publish the instant this batch's reports moved the clock to, for the replicas that
        own the other targets (they read the sync topic whole, this one included)."""
        if self.sync_topic is None or not events:
            return
        latest = max(e.reported_at for e in events)
        if self.shared_clock is not None and latest <= self.shared_clock:
            return
        await self.publish([clock_sync_message(latest, self.sync_topic)])
        self.note_shared_clock(latest)

    async def _fold(self, events: Sequence[AcceptedEvent], batch: _Batch) -> None:
        """Fold each headline event into the batch's winners (order-free: each winner is a
        maximum). Scoped events (v1.1 breakdowns) never enter the headline."""
        tracked = [e for e in events if target_key(e.plan, e.target) in self.tracked]
        for event in tracked:
            key = target_key(event.plan, event.target)
            if self.tracked[key].fold(event.to_observation()):
                batch.tracked.add(key)
        events = [e for e in events if target_key(e.plan, e.target) not in self.tracked]
        headline = [event for event in events if event.scope is None]
        for event in events:
            if event.scope is not None:
                key = target_key(event.plan, event.target)
                if self.states[key].fold_scoped(event.to_observation()):
                    batch.touched.add(key)
        lookups: dict[tuple[str, date], DateWinners] = {}
        for event in headline:
            state = self.states[target_key(event.plan, event.target)]
            slot = (state.key, event.as_of)
            if slot not in lookups and self._needs_lookup(state, event.as_of):
                docs = await self.store.date_points(
                    event.plan, event.target, event.as_of.isoformat()
                )
                lookups[slot] = date_winners(docs)
        for event in headline:
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
                    initial = (
                        {} if known is None else {known.agency: as_observation(event.target, known)}
                    )
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

    @staticmethod
    def _needs_lookup(state: TargetState, as_of: date) -> bool:
        """Whether a date's winners must be read from the points log: the window does not know
        its point, or it does but the target has several reporters (the window keeps each
        date's point, not every reporter's winner)."""
        known = state.window.known_point(as_of)
        if isinstance(known, WindowMissError):
            return True
        return known is not None and len(state.target.headline_reporters) > 1

    async def _update_windows(self, batch: _Batch) -> int:
        changed = sorted(
            (slot for slot, winners in batch.winners.items() if winners != batch.initial[slot]),
            key=lambda slot: (slot[0], slot[1]),
        )
        for key, as_of in changed:
            state = self.states[key]
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
                    state.window, as_of, date_point(before.values()), point, self.tail_size
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
        winners = fold_winners(await self.store.target_points(state.plan.id, state.target.id))
        winners.update(batch.overlay(state.key))
        points = points_by_date(winners)
        return [points[as_of] for as_of in sorted(points)]

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
            copies = alert_events(  # one per responsible agency, same key: kept in order
                transition,
                result,
                state.plan,
                starts_at=parse_instant(started) if started is not None else at,
                base_url=self.base_url,
            )
            messages.extend(
                Outbound(
                    self.alerts_topic,
                    encode_alert_event(payload),
                    key=key_bytes,
                    headers={"content-type": "application/json", "alert-id": payload.id},
                )
                for payload in copies
            )
        fields: JSON = {
            "plan": state.plan.id,
            "target": state.target.id,
            "window": window_to_doc(state.window),
            "last_report_at": iso(state.last_report_at) if state.last_report_at else None,
            "latest_event_at": iso(state.latest_event_at) if state.latest_event_at else None,
            "result": after,
            "result_full": result_to_doc(result),
            "alerts": alerts_to_doc(alerts),
            "scoped": [scoped_to_doc(w) for _, w in sorted(state.scoped.items())],
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
