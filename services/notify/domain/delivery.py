"""Delivery policy: what an HTTP outcome means, when to retry, when to give up.

Exponential backoff with full jitter (AWS architecture blog), ``Retry-After`` honoured on
429 and 503, Standard Webhooks' reading of status codes (2xx success, 3xx failure and never
followed, 410 disables the endpoint), and a retry budget ending in a dead letter.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

from services.notify.domain.timefmt import require_aware


class OutcomeKind(StrEnum):
    SUCCESS = "success"
    RETRY = "retry"
    FAILED = "failed"  # permanent: do not retry this notification
    DISABLE = "disable"  # the endpoint is gone (410): stop sending to it


class TransportError(StrEnum):
    TIMEOUT = "timeout"
    CONNECTION = "connection"  # refused, reset, DNS failure, TLS handshake


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: OutcomeKind
    reason: str
    retry_after: timedelta | None = None


_RETRY_AFTER_STATUSES = {429, 503}
_RETRYABLE_4XX = {408, 429}


# A receiver's Retry-After is honoured up to this: beyond it the retry budget (max_age) ends
# the notification as a dead letter anyway, and a huge value must not overflow the arithmetic.
MAX_RETRY_AFTER = timedelta(days=7)
_MAX_HEADER_CHARS = 64


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as delay-seconds or an HTTP date (RFC 9110 10.2.3, relative to
    ``now``); None if absent or unreadable; never negative, never above MAX_RETRY_AFTER."""
    if value is None or not value.strip() or len(value) > _MAX_HEADER_CHARS:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # "²".isdigit() is true too
        seconds = int(text[:12]) if len(text) <= 12 else None
        if seconds is None or seconds > MAX_RETRY_AFTER.total_seconds():
            return MAX_RETRY_AFTER
        return timedelta(seconds=seconds)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return min(max(when - require_aware(now), timedelta(0)), MAX_RETRY_AFTER)


def classify_response(status: int, retry_after: str | None, now: datetime) -> Outcome:
    if 200 <= status < 300:
        return Outcome(OutcomeKind.SUCCESS, f"HTTP {status}")
    if 300 <= status < 400:
        return Outcome(OutcomeKind.FAILED, f"HTTP {status}: redirects are not followed")
    if status == 410:
        return Outcome(OutcomeKind.DISABLE, "HTTP 410 Gone: the endpoint is disabled")
    delay = parse_retry_after(retry_after, now) if status in _RETRY_AFTER_STATUSES else None
    if status in _RETRYABLE_4XX or 500 <= status < 600:
        return Outcome(OutcomeKind.RETRY, f"HTTP {status}", delay)
    if 400 <= status < 500:
        return Outcome(OutcomeKind.FAILED, f"HTTP {status}: the request was refused")
    return Outcome(OutcomeKind.FAILED, f"unexpected HTTP status {status}")


def classify_error(error: TransportError) -> Outcome:
    return Outcome(OutcomeKind.RETRY, f"transport error: {error.value}")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(hours=1)
    max_attempts: int = 10
    max_age: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        if self.base <= timedelta(0) or self.cap < self.base:
            raise ValueError("retry policy: need 0 < base <= cap")
        if self.max_attempts < 1 or self.max_age <= timedelta(0):
            raise ValueError("retry policy: need max_attempts >= 1 and max_age > 0")


def backoff_delay(policy: RetryPolicy, attempt: int, draw: float) -> timedelta:
    """Full jitter: ``draw * min(cap, base * 2**(attempt-1))`` for the retry after attempt
    number ``attempt`` (1-based); ``draw`` in [0, 1)."""
    if attempt < 1:
        raise ValueError("attempts count from 1")
    if not 0.0 <= draw < 1.0:
        raise ValueError("draw must be in [0, 1)")
    ceiling = min(policy.cap, policy.base * (2 ** min(attempt - 1, 62)))
    delay: timedelta = ceiling * draw
    return delay


class StepKind(StrEnum):
    DONE = "done"
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"
    DISABLE = "disable"


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    reason: str
    retry_at: datetime | None = None


def next_step(
    policy: RetryPolicy,
    outcome: Outcome,
    *,
    attempt: int,
    first_attempt_at: datetime,
    now: datetime,
    rng: random.Random | float,
) -> Step:
    """What to do after attempt number ``attempt`` ended with ``outcome`` at ``now``.

    ``rng`` is a seeded ``random.Random`` or a draw in [0, 1). A retry waits the jittered
    backoff, or longer when the server asked (``Retry-After``); a retry that would pass the
    budget (``max_attempts`` attempts, or ``max_age`` since the first attempt) becomes a
    dead letter with the last reason.
    """
    now = require_aware(now)
    first = require_aware(first_attempt_at, "first_attempt_at")
    if outcome.kind is OutcomeKind.SUCCESS:
        return Step(StepKind.DONE, outcome.reason)
    if outcome.kind is OutcomeKind.DISABLE:
        return Step(StepKind.DISABLE, outcome.reason)
    if outcome.kind is OutcomeKind.FAILED:
        return Step(StepKind.DEAD_LETTER, f"permanent failure: {outcome.reason}")
    if attempt >= policy.max_attempts:
        return Step(
            StepKind.DEAD_LETTER,
            f"gave up after {attempt} attempts; last: {outcome.reason}",
        )
    draw = rng.random() if isinstance(rng, random.Random) else rng
    delay = backoff_delay(policy, attempt, draw)
    if outcome.retry_after is not None:
        delay = max(delay, outcome.retry_after)
    retry_at = now + delay
    if retry_at - first > policy.max_age:
        return Step(
            StepKind.DEAD_LETTER,
            f"retry budget of {policy.max_age} exhausted; last: {outcome.reason}",
        )
    return Step(StepKind.RETRY, outcome.reason, retry_at)
