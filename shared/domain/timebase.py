"""Calendar dates in China Standard Time (UTC+8), the time base of scoring method v1.

A timestamp counts by its date in CST; an instant given as a day means the end of that day.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

CST = timezone(timedelta(hours=8), "CST")


def cst_date(instant: datetime) -> date:
    """The calendar date of an aware timestamp in China Standard Time."""
    if instant.tzinfo is None:
        raise ValueError(f"naive timestamp {instant.isoformat()}: a time zone is required")
    return instant.astimezone(CST).date()


def end_of_day(day: date) -> datetime:
    """The last instant of a CST calendar day (an evaluation instant given as a day)."""
    return datetime.combine(day, time(23, 59, 59, 999999), CST)


def days_between(later: date, earlier: date) -> int:
    return (later - earlier).days
