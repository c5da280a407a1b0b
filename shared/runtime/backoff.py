"""Exponential backoff with full jitter, as a pure function of the attempt number."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, initial_s: float, max_s: float, rng: random.Random) -> float:
    """Seconds before retry `attempt` (1-based): uniform in [0, min(max, initial * 2^(n-1))]."""
    ceiling = min(max_s, initial_s * (2 ** max(0, attempt - 1)))
    return rng.uniform(0, ceiling)
