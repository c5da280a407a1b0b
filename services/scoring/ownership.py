"""The engine's three doors, serialised by one lock: the consumer group's batches of accepted
events, the clock topics read whole (ticks and the replicas' shared clock), and Kafka's
rebalance callbacks (ownership of the input partitions' targets). Problem events go to the
problem desk after the batch's scores, and every clock move lets it escalate overdue problems:
at once, or, with `defer_escalation` (the service, beside its roll-up timer), with the next
`periodic` run, so that a batch does not read every open problem.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from aiokafka import TopicPartition

from services.scoring.clock_sync import (
    ClockSyncError,
    TickInFutureError,
    parse_clock_sync,
    tick_too_far_ahead,
)
from services.scoring.engine import BatchOutcome, ScoringEngine
from services.scoring.problem_desk import ProblemDesk
from services.scoring.records import dead_letter, parse_records
from services.scoring.ticks import TickCheck
from shared.accepted_problem import AcceptedProblemEvent
from shared.runtime.backoff import backoff_delay
from shared.runtime.kafka import Record, is_transient
from shared.runtime.logging import bound, get_logger
from shared.runtime.publisher import Outbound
from shared.runtime.settings import RetrySettings

log = get_logger("planwatch.scoring")

DeadLetter = Callable[[Sequence[Outbound], Sequence[str]], Awaitable[None]]


class EngineDoors:
    def __init__(
        self,
        engine: ScoringEngine,
        *,
        input_topic: str,
        clock_topic: str,
        sync_topic: str,
        dlt_topic: str,
        dead_letter: DeadLetter,
        retry: RetrySettings,
        wall_clock: Callable[[], datetime],
        max_tick_skew: timedelta,
        check_tick: TickCheck,
        on_tick_refused: Callable[[str], None] = lambda reason: None,
        problems: ProblemDesk | None = None,
        defer_escalation: bool = False,
    ) -> None:
        self.engine = engine
        self.problems = problems
        self.defer_escalation = defer_escalation
        self.escalation_due = False  # the clock moved since problems were last escalated
        self.input_topic = input_topic
        self.clock_topic = clock_topic
        self.sync_topic = sync_topic
        self.dlt_topic = dlt_topic
        self.dead_letter = dead_letter
        self.retry = retry
        self.wall_clock = wall_clock
        self.max_tick_skew = max_tick_skew
        self.check_tick = check_tick
        self.on_tick_refused = on_tick_refused
        self.lock = asyncio.Lock()

    async def start(self) -> None:
        """Nothing is owned until Kafka assigns partitions: this reads the stored clock."""
        async with self.lock:
            self.engine.set_ownership(())
            await self.engine.load()

    # --- the consumer group ----------------------------------------------------------------

    async def accepted(self, records: Sequence[Record]) -> BatchOutcome:
        parsed = parse_records(
            records,
            accepted_topic=self.input_topic,
            clock_topic=self.clock_topic,
            dlt_topic=self.dlt_topic,
            check=self.engine.check,
            check_tick=self.check_tick,
            at=self.wall_clock(),
        )
        await self.dead_letter(parsed.dead, parsed.reasons)
        first = parsed.events[0].event_id if parsed.events else None
        with bound(event_id=first, batch=len(records)):
            async with self.lock:
                before = self.engine.clock
                outcome = await self.engine.apply(parsed.events, parsed.ticks)
                await self._problems(parsed.problems, moved=self.engine.clock != before)
                return outcome

    async def _problems(self, events: Sequence[AcceptedProblemEvent], *, moved: bool) -> None:
        """The batch's problem events, then escalation if the clock moved (or problems came)."""
        desk, clock = self.problems, self.engine.clock
        if desk is None:
            return
        if events:
            await desk.apply(events, clock)
        if clock is None:
            return
        if events or (moved and not self.defer_escalation):
            await desk.escalate(clock)
            self.escalation_due = False
        elif moved:
            self.escalation_due = True

    def periodic_due(self) -> bool:
        return bool(self.engine.rollups_due) or self.escalation_due

    async def periodic(self) -> None:
        """What batches leave due (the service's timer): the plans' roll-ups (which store the
        clock) and the escalation of overdue problems at the clock."""
        async with self.lock:  # never interleaved with a batch, a tick or a rebalance
            await self.engine.roll_up_due()
            clock = self.engine.clock
            if self.escalation_due and self.problems is not None and clock is not None:
                await self.problems.escalate(clock)
                self.escalation_due = False

    def _partitions(self, tps: frozenset[TopicPartition]) -> set[int]:
        return {tp.partition for tp in tps if tp.topic == self.input_topic}

    async def revoked(self, revoked: frozenset[TopicPartition]) -> None:
        """After the batch in hand is committed: forget the revoked partitions' targets."""
        async with self.lock:
            kept = (self.engine.owned or frozenset()) - self._partitions(revoked)
            self.engine.set_ownership(kept)

    async def assigned(self, assigned: frozenset[TopicPartition]) -> None:
        """Before the first batch: claim (fence) and load the new partitions' targets. If
        MongoDB does not answer now, the first batch loads them (the engine is not loaded)."""
        async with self.lock:
            self.engine.set_ownership(self._partitions(assigned))
            try:
                await self.engine.load()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning(
                    "state not loaded on assignment; the next batch loads it", error=repr(exc)
                )

    # --- the clock topics, read whole -------------------------------------------------------

    async def clock(self, records: Sequence[Record]) -> None:
        """Apply the greatest instant of the batch, retrying while MongoDB or Kafka are away
        (the clock only moves forward, so applying it again is harmless)."""
        rng = random.Random()
        attempt = 0
        while True:
            try:
                await self._clock_once(records)
                return
            except Exception as exc:
                if not is_transient(exc):
                    raise
                attempt += 1
                log.warning("clock not applied; retrying", attempt=attempt, error=repr(exc))
                await asyncio.sleep(
                    backoff_delay(attempt, self.retry.initial_s, self.retry.max_s, rng)
                )

    async def _clock_once(self, records: Sequence[Record]) -> None:
        ticks: list[datetime] = []
        dead: list[Outbound] = []
        reasons: list[str] = []
        latest_allowed = self.wall_clock() + self.max_tick_skew
        for record in records:
            if record.topic != self.clock_topic:
                continue
            parsed = parse_records(
                [record],
                accepted_topic=self.input_topic,
                clock_topic=self.clock_topic,
                dlt_topic=self.dlt_topic,
                check=self.engine.check,
                check_tick=self.check_tick,
                at=self.wall_clock(),
            )
            dead += parsed.dead
            reasons += parsed.reasons
            for reason in parsed.reasons:  # not a tick, or not the platform clock's
                self.on_tick_refused(reason)
            for tick in parsed.ticks:
                if tick_too_far_ahead(tick, latest_allowed):
                    # A typo, a node clock running ahead: it would move scoring into the future
                    # for good. Refused, counted and alerted on; never applied.
                    error = TickInFutureError(f"tick {tick.isoformat()} is past {latest_allowed}")
                    dead.append(
                        dead_letter(
                            record, self.dlt_topic, "tick_in_future", error, at=self.wall_clock()
                        )
                    )
                    reasons.append("tick_in_future")
                    self.on_tick_refused("tick_in_future")
                    log.error("clock tick refused: ahead of the wall clock", tick=tick.isoformat())
                else:
                    ticks.append(tick)
        await self.dead_letter(dead, reasons)
        instants = list(ticks)
        for record in records:
            if record.topic == self.sync_topic:
                try:
                    instants.append(parse_clock_sync(record.value))
                except ClockSyncError as exc:  # only replicas write it: log, never stall
                    log.error("clock sync record skipped", offset=record.offset, error=str(exc))
        if not instants:
            return
        async with self.lock:
            self.engine.note_shared_clock(max(instants))
            before = self.engine.clock
            await self.engine.apply([], ticks, clock_to=max(instants))
            await self._problems((), moved=self.engine.clock != before)
