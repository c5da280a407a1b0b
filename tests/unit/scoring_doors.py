"""Scoring's EngineDoors as the tests build them: topics "accepted", "clock", "sync" and "dlt",
the tests' clock key trusted, a fixed wall clock; and signed tick records for its clock door."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.scoring.engine import ScoringEngine
from services.scoring.ownership import DeadLetter, EngineDoors
from services.scoring.ticks import tick_message
from shared.runtime.settings import RetrySettings
from tests.clock_identity import CHECK_TICK, CLOCK_KEY
from tests.unit.fake_records import FakeRecord


def doors_for_tests(
    engine: ScoringEngine, *, wall: datetime, dead_letter: DeadLetter, **options: Any
) -> EngineDoors:
    return EngineDoors(
        engine,
        input_topic="accepted",
        clock_topic="clock",
        sync_topic="sync",
        dlt_topic="dlt",
        dead_letter=dead_letter,
        retry=RetrySettings(),
        wall_clock=lambda: wall,
        max_tick_skew=timedelta(minutes=5),
        check_tick=CHECK_TICK,
        **options,
    )


def tick_record(at: datetime, offset: int) -> FakeRecord:
    message = tick_message(at, "clock", CLOCK_KEY)
    return FakeRecord("clock", 0, offset, message.value, message.key, message.headers)
