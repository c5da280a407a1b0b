"""Applies batches of accepted events and clock ticks to the stored scoring state of the targets
this replica owns.

Ownership: `planwatch.accepted` is keyed by target, so a target's events all reach the replica
assigned its partition. The engine keeps in memory only the targets of the partitions it owns
(`set_ownership`; None owns every target, as replay does); on assignment it takes each
partition's next fencing epoch, claims its targets' documents with it and loads them; every
target write is conditional on that epoch, so a replica that was paused and lost a partition
meanwhile writes nothing for it and publishes nothing on its behalf (it drops those targets).
Roll-ups are read back from the stored target documents (whichever replica wrote them) and the
plan document is written only forward; a batch only marks its plans due for one, and the roll-up
runs at the end of the batch (`defer_rollups=False`, replay and the engine's tests) or when the
service's timer calls `roll_up_due` (at most once per `SCORING_ROLLUP_INTERVAL_S`, under the same
lock as the batches), off the batch's path. The clock is shared: a roll-up after reports moved
it publishes the new instant on the replicas' clock topic, and every replica rescores its targets
at every instant it reads there or on the public clock topic.

Per batch: fold each event into its target's winners (the method's order-free fold), update the
bounded windows, move the clock to the greatest `reported_at` or tick consumed, rescore (every
target of every plan when the clock reached a new CST day, else the targets touched: a result
depends on the clock's date only), then write the target documents (each with its outbox); then
flush the outboxes (points, history records, score and alert messages), and mark the plans
written or moved due for a roll-up, which first stores the clock (rolled up and written now
unless deferred; the clock stored a roll-up late is repaired on load from the documents, which
carry theirs). The caller commits the Kafka offsets after `apply` returns. After any failure
the in-memory state is dropped and reloaded (outboxes re-flushed) before the next attempt, so
MongoDB is always the truth.

Why this is idempotent: a target's state is a function of the set of events folded in (winners
are maxima of a total order), of its last report and of the clock (a maximum); folding an event
twice changes nothing. A crash after a target document was written but before its outbox was
flushed is repaired on reload by flushing that outbox (same ids); a crash before the write leaves
nothing behind, so the redelivered batch produces the write anew.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.scoring.batch_metrics import observe_batch, observe_plans
from services.scoring.clock_sync import clock_sync_message, micros
from services.scoring.documents import (
    JSON,
    AlertStates,
    alerts_from_doc,
    iso,
    parse_instant,
    scoped_from_doc,
    target_key,
    window_from_doc,
)
from services.scoring.evaluation import evaluate_targets
from services.scoring.folding import fold_events, update_windows
from services.scoring.metrics import ScoringMetrics
from services.scoring.rollup import Written, roll_up
from services.scoring.store import ScoringStore
from services.scoring.target_document import (
    MessageTopics,
    Publisher,
    flush_outboxes,
    target_update,
)
from services.scoring.target_state import Batch, TargetState
from services.scoring.tracked import TrackedSubject
from services.scoring.window import MIN_TAIL_SIZE, TAIL_SIZE
from shared import topics
from shared.accepted import AcceptedEvent
from shared.domain.catalog import Catalog, Plan
from shared.domain.method_v1 import AlertTransition, PlanState, TargetResult, assemble_plan_state
from shared.domain.timebase import cst_date
from shared.runtime.logging import get_logger
from shared.runtime.publisher import Outbound

__all__ = [
    "BatchOutcome",
    "Publisher",
    "ScoringEngine",
    "UnknownTargetEventError",
    "check_known",
    "publish_nothing",
]

log = get_logger("planwatch.scoring.engine")

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


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    clock: datetime | None
    rescored: int
    written: tuple[str, ...]  # target keys whose document was written
    transitions: tuple[AlertTransition, ...]
    fallbacks: int  # evaluations or window updates that needed the full series


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
        defer_rollups: bool = False,
    ) -> None:
        """`partition_of` maps a target id to its input partition (needed once ownership is
        set); `sync_topic` is where clock moves made by reports are told to the other
        replicas (None: a lone engine, replay); `defer_rollups`: a batch only marks its plans
        due, and the caller runs `roll_up_due` (the service, on a timer) rather than every batch
        rolling them up."""
        self.catalog = catalog
        self.store = store
        self.publish = publish
        self.base_url = base_url
        self.metrics = metrics
        self.message_topics = MessageTopics(scores=scores_topic, alerts=alerts_topic)
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
        self.plan_written: dict[str, Written] = {}  # plan -> (clock_us, basis) written
        self.defer_rollups = defer_rollups
        # Plans whose targets were written or whose clock moved since their last roll-up.
        self.rollups_due: set[str] = set()
        # The clock moved since it was last stored (it is stored with the next roll-up).
        self.clock_unsaved = False
        self._batch = Batch()

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
        # The stored clock can lag the documents (a crash between a batch's target writes and
        # its clock write): never behind a document, or a target would be re-evaluated at an
        # earlier instant than its alerts were, and its transitions would go back in time.
        doc_clocks = [parse_instant(doc["clock"]) for doc in docs.values() if doc.get("clock")]
        if doc_clocks and (self.clock is None or max(doc_clocks) > self.clock):
            self.clock = max(doc_clocks)
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
        await flush_outboxes(
            self.store,
            self.publish,
            [doc["outbox"] for _, doc in sorted(docs.items()) if doc.get("outbox")],
        )
        self._batch = Batch()
        if self.clock is not None:
            # Rescore and write every loaded target now: the previous owner may have left them
            # evaluated at an earlier clock, and no later batch need move the clock again.
            await self._apply([], [], None, rescore_all=True)
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

    def _held(self, events: Sequence[AcceptedEvent]) -> Sequence[AcceptedEvent]:
        """The events of targets this replica holds. A newer owner may have taken some of the
        batch's targets (fenced at a write, or lost at the claim, while the batch was retried
        across a rebalance): their events are left to it, which reads them again from the
        partition's committed offset; folding them here would fail on a target not held."""
        if self.owned is None:
            return events
        held = [
            e
            for e in events
            if (k := target_key(e.plan, e.target)) in self.states or k in self.tracked
        ]
        if len(held) != len(events):
            log.warning(
                "events of targets held elsewhere left to their owner",
                count=len(events) - len(held),
            )
        return held

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
        self,
        events: Sequence[AcceptedEvent],
        ticks: Sequence[datetime],
        clock_to: datetime | None,
        *,
        rescore_all: bool = False,
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
        # After a load the clock may have come from the documents, ahead of the stored clock
        # and the plans: everything is then written as if the clock had just moved there.
        clock_moved = rescore_all or new_clock != self.clock
        # A result depends on the clock through its CST date only (method v1, evaluate.py):
        # within a day, a target no event touched would be rescored to the same result.
        new_day = rescore_all or self.clock is None or cst_date(new_clock) != cst_date(self.clock)
        batch = self._batch = Batch()
        events = self._held(events)
        await fold_events(events, batch, self.states, self.tracked, self.store)
        fallbacks = await update_windows(batch, self.states, self.store, self.tail_size)
        keys = list(self.states) if new_day else sorted(batch.touched)
        fallbacks += await evaluate_targets(self.states, keys, new_clock, self.store, batch)

        tick_trigger = f"tick:{iso(new_clock)}"
        target_updates: dict[str, JSON] = {}
        new_alerts: dict[str, AlertStates] = {}
        emitted: dict[str, list[AlertTransition]] = {}
        for key in keys:
            update = target_update(
                self.states[key],
                batch,
                new_clock,
                tick_trigger,
                topics=self.message_topics,
                base_url=self.base_url,
            )
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
        outboxes = [fields["outbox"] for fields in target_updates.values()]
        await flush_outboxes(self.store, self.publish, outboxes)
        self._remember(target_updates, new_alerts)
        self.clock = new_clock
        if ticks:
            await self.store.write_meta({"last_tick": iso(max(ticks))})
        self._mark_due(clock_moved, target_updates, tracked_written)
        if not self.defer_rollups:
            await self.roll_up_due()

        self._batch = Batch()
        transitions = [t for key in sorted(emitted) for t in emitted[key]]
        if self.on_applied is not None:
            self.on_applied(events, self.wall_clock())
        if self.metrics is not None:
            observe_batch(
                self.metrics,
                events=events,
                ticks=ticks,
                keys=keys,
                batch=batch,
                transitions=transitions,
                plans=self.catalog.plans,
                states=self.states.values(),
                clock=self.clock,
                started=started,
                now=self.wall_clock(),
            )
        return BatchOutcome(
            new_clock, len(keys), tuple(target_updates), tuple(transitions), fallbacks
        )

    def _mark_due(
        self, clock_moved: bool, target_updates: Mapping[str, JSON], tracked: set[str]
    ) -> None:
        """Due for a roll-up: every plan when the clock moved (the clock is stored with it),
        else the plans of the documents written."""
        if clock_moved:
            self.clock_unsaved = True
            self.rollups_due.update(self.catalog.plans)
        else:
            self.rollups_due.update(self.states[key].plan.id for key in target_updates)
            self.rollups_due.update(self.tracked[key].plan.id for key in tracked)

    async def roll_up_due(self) -> list[PlanState]:
        """Roll up the plans due (marked by batches since their last roll-up) at the current
        clock, from their stored target documents, and write each plan document that is newer
        than the stored one. Idempotent; a plan stays due if this fails. The caller serialises
        it with `apply` (the service's lock)."""
        if not self.rollups_due or self.clock is None:
            return []
        started = time.perf_counter()
        if self.clock_unsaved:
            await self.store.advance_clock(iso(self.clock), micros(self.clock))
            self.clock_unsaved = False
        await self._tell_clock(self.clock)
        due, self.rollups_due = self.rollups_due, set()
        plans = [p for p in self._plans() if p.id in due]
        try:
            plan_states = await roll_up(plans, self.store, self.clock, self.plan_written)
        except BaseException:
            self.rollups_due |= due
            raise
        if self.metrics is not None:
            self.metrics.rollup_duration.observe(time.perf_counter() - started)
            self.metrics.rollups.inc(len(plans))
            observe_plans(self.metrics, plan_states)
        return plan_states

    async def _write_tracked(self, batch: Batch, at: datetime) -> set[str]:
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

    async def _tell_clock(self, clock: datetime) -> None:
        """Publish the clock on the replicas' sync topic if the others have not read it there
        or on the public clock topic (every replica reads both whole, this one included): the
        instant this replica's reports moved it to, for the replicas that own the other targets.
        Once per roll-up, not per batch: a result depends on the clock's date only, and the
        plan's roll-up waits for the roll-up anyway."""
        if self.sync_topic is None:
            return
        if self.shared_clock is not None and clock <= self.shared_clock:
            return
        await self.publish([clock_sync_message(clock, self.sync_topic)])
        self.note_shared_clock(clock)
