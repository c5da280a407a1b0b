"""Per-agency rate limits at the HTTP door: a token bucket per sender. Pure (the caller passes
the monotonic time in), so its arithmetic is tested without a clock."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class TokenBuckets:
    """`rate` events per second per key, bursts up to `burst`; at most `max_keys` buckets
    (the least recently used go first: a flood of made-up names cannot grow the table)."""

    rate: float
    burst: float
    max_keys: int = 10_000
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")

    def take(self, key: str, count: int, now: float) -> float:
        """Take `count` tokens for `key` at `now`: 0.0 when granted, else the seconds to wait
        before `count` tokens are there (nothing is taken then). More than a whole burst is
        never granted: the wait is then for a full bucket."""
        bucket = self._buckets.pop(key, None) or _Bucket(self.burst, now)
        self._buckets[key] = bucket  # most recently used last
        while len(self._buckets) > self.max_keys:
            del self._buckets[next(iter(self._buckets))]
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if count <= bucket.tokens:
            bucket.tokens -= count
            return 0.0
        missing = min(count, self.burst) - bucket.tokens
        return max(missing / self.rate, 1e-3)


def retry_after_header(wait_s: float) -> str:
    """HTTP's Retry-After in whole seconds (at least 1)."""
    return str(max(1, math.ceil(wait_s)))
