"""China's official working days and the demo's 报送 (submission) days, as pure functions.

Agencies report on official workdays only: Monday to Friday except public holidays, plus the
adjusted working Saturdays and Sundays (调休) the State Council announces each year. The
`chinesecalendar` package knows them; for a year it does not cover, Monday to Friday is used.

The plan sets no submission deadline. The demo assumes a fixed monthly 报送 day, the common
practice of municipal statistics: the MONTHLY_SUBMISSION_DAY of the month after a month, the
QUARTERLY_SUBMISSION_DAY of the month after a quarter, moved to the next workday when it falls
on a weekend or holiday. Most reports arrive in the last few workdays before it; a habitual
latecomer sends a workday or two after it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import date, timedelta
from types import MappingProxyType
from typing import Final

import chinese_calendar

from shared.domain.catalog import Cadence

#: The demo's assumed 报送 days (the plan sets none): day of the month after the period.
MONTHLY_SUBMISSION_DAY: Final = 10
QUARTERLY_SUBMISSION_DAY: Final = 15

#: Relative weights of sending 0, 1, 2, ... workdays before the 报送 day (0: on the day).
EARLY_WORKDAY_WEIGHTS: Final[Mapping[Cadence, tuple[int, ...]]] = MappingProxyType(
    {
        Cadence.MONTHLY: (3, 4, 3, 2, 1),
        Cadence.QUARTERLY: (3, 4, 3, 2, 1, 1, 1, 1),
    }
)
#: How many workdays after the 报送 day the habitual latecomer sends (inclusive range).
LATE_WORKDAYS: Final = (1, 2)
#: No figure is sent sooner than this many days after its period ends (it must be counted).
MIN_LAG_DAYS: Final = 3

_ONE_DAY: Final = timedelta(days=1)


def is_office_day(day: date) -> bool:
    """Whether `day` is an official workday in China (调休 weekend days included)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # a year the package does not know: Monday to Friday
        return day.weekday() < 5


def next_workday(day: date) -> date:
    """`day` itself if it is a workday, else the first workday after it."""
    while not is_office_day(day):
        day += _ONE_DAY
    return day


def workdays_from(day: date, count: int) -> date:
    """The workday `count` workdays after (count > 0) or before (count < 0) the workday
    `next_workday(day)`; count 0 gives `next_workday(day)`."""
    day = next_workday(day)
    step = _ONE_DAY if count > 0 else -_ONE_DAY
    for _ in range(abs(count)):
        day += step
        while not is_office_day(day):
            day += step
    return day


def submission_day(cadence: Cadence, period_end: date) -> date:
    """The demo's 报送 day of the period ending `period_end`: the monthly or quarterly
    submission day of the next month, moved to the next workday."""
    year, month = period_end.year + period_end.month // 12, period_end.month % 12 + 1
    nominal = MONTHLY_SUBMISSION_DAY if cadence is Cadence.MONTHLY else QUARTERLY_SUBMISSION_DAY
    return next_workday(date(year, month, nominal))


def report_day(cadence: Cadence, period_end: date, rng: random.Random, *, late: bool) -> date:
    """The workday an agency sends its figure for the period ending `period_end`: a few
    workdays before the 报送 day (weighted towards the last ones), or one or two after it for
    a latecomer; never sooner than MIN_LAG_DAYS after the period."""
    due = submission_day(cadence, period_end)
    if late:
        day = workdays_from(due, rng.randint(*LATE_WORKDAYS))
    else:
        weights = EARLY_WORKDAY_WEIGHTS[cadence]
        early = rng.choices(range(len(weights)), weights=weights)[0]
        day = workdays_from(due, -early)
    return max(day, next_workday(period_end + timedelta(days=MIN_LAG_DAYS)))
