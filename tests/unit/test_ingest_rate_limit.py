"""The HTTP door's per-agency token buckets, on a clock the test moves."""

from __future__ import annotations

import pytest

from services.ingest.rate_limit import TokenBuckets, retry_after_header


def test_a_burst_is_granted_then_the_rate_refills_it() -> None:
    buckets = TokenBuckets(rate=10, burst=20)
    assert buckets.take("qy.miit", 20, now=0.0) == 0.0
    wait = buckets.take("qy.miit", 5, now=0.0)
    assert wait == pytest.approx(0.5)  # 5 tokens at 10/s
    assert buckets.take("qy.miit", 5, now=0.5) == 0.0
    assert buckets.take("qy.health", 20, now=0.5) == 0.0  # every agency has its own


def test_more_than_a_burst_waits_for_a_full_bucket_and_takes_nothing() -> None:
    buckets = TokenBuckets(rate=10, burst=20)
    assert buckets.take("a", 10, now=0.0) == 0.0
    assert buckets.take("a", 500, now=0.0) == pytest.approx(1.0)  # to refill 10 of 20
    assert buckets.take("a", 10, now=0.0) == 0.0  # the refused take left the tokens there


def test_the_table_is_bounded() -> None:
    buckets = TokenBuckets(rate=1, burst=1, max_keys=3)
    for n in range(100):
        buckets.take(f"made-up-{n}", 1, now=0.0)
    assert len(buckets._buckets) == 3


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert [retry_after_header(w) for w in (0.001, 1.0, 1.2, 30)] == ["1", "1", "2", "30"]
