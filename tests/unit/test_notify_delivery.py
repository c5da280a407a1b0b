from __future__ import annotations

import random
from datetime import timedelta

import pytest

from services.notify.domain.delivery import (
    MAX_RETRY_AFTER,
    Outcome,
    OutcomeKind,
    RetryPolicy,
    Step,
    StepKind,
    TransportError,
    backoff_delay,
    classify_error,
    classify_response,
    next_step,
    parse_retry_after,
)
from services.notify.domain.ssrf import check_destination
from tests.unit.notify_fixtures import T0, at

POLICY = RetryPolicy(
    base=timedelta(seconds=5),
    cap=timedelta(minutes=10),
    max_attempts=5,
    max_age=timedelta(hours=1),
)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, OutcomeKind.SUCCESS),
        (204, OutcomeKind.SUCCESS),
        (301, OutcomeKind.FAILED),
        (307, OutcomeKind.FAILED),
        (400, OutcomeKind.FAILED),
        (401, OutcomeKind.FAILED),
        (404, OutcomeKind.FAILED),
        (410, OutcomeKind.DISABLE),
        (408, OutcomeKind.RETRY),
        (429, OutcomeKind.RETRY),
        (500, OutcomeKind.RETRY),
        (502, OutcomeKind.RETRY),
        (503, OutcomeKind.RETRY),
    ],
)
def test_classify_status(status: int, kind: OutcomeKind) -> None:
    assert classify_response(status, None, T0).kind is kind


def test_transport_errors_retry() -> None:
    for error in TransportError:
        assert classify_error(error).kind is OutcomeKind.RETRY


def test_retry_after_forms() -> None:
    assert parse_retry_after("120", T0) == timedelta(seconds=120)
    assert parse_retry_after("Wed, 01 Jun 2022 08:05:00 GMT", T0) == timedelta(minutes=5)
    assert parse_retry_after("Wed, 01 Jun 2022 07:00:00 GMT", T0) == timedelta(0)
    assert parse_retry_after("soon", T0) is None
    assert parse_retry_after(None, T0) is None
    # honoured on 429 and 503 only
    assert classify_response(429, "30", T0).retry_after == timedelta(seconds=30)
    assert classify_response(503, "30", T0).retry_after == timedelta(seconds=30)
    assert classify_response(500, "30", T0).retry_after is None


def test_full_jitter_backoff_bounds_and_cap() -> None:
    assert backoff_delay(POLICY, 1, 0.0) == timedelta(0)
    assert backoff_delay(POLICY, 1, 0.5) == timedelta(seconds=2.5)
    assert backoff_delay(POLICY, 3, 0.5) == timedelta(seconds=10)
    assert backoff_delay(POLICY, 30, 0.999) < timedelta(minutes=10)
    rng = random.Random(7)
    delays = [backoff_delay(POLICY, 4, rng.random()) for _ in range(200)]
    assert all(timedelta(0) <= d < timedelta(seconds=40) for d in delays)
    assert len(set(delays)) > 150  # jittered, not constant
    with pytest.raises(ValueError):
        backoff_delay(POLICY, 1, 1.0)


def test_next_step_retry_is_deterministic_with_a_seeded_random() -> None:
    outcome = classify_response(502, None, at(0))
    a = next_step(POLICY, outcome, attempt=2, first_attempt_at=T0, now=at(10), rng=random.Random(1))
    b = next_step(POLICY, outcome, attempt=2, first_attempt_at=T0, now=at(10), rng=random.Random(1))
    assert a == b and a.kind is StepKind.RETRY
    assert a.retry_at is not None and at(10) <= a.retry_at < at(20)


def test_retry_after_overrides_a_shorter_backoff() -> None:
    outcome = classify_response(429, "300", at(0))
    step = next_step(POLICY, outcome, attempt=1, first_attempt_at=T0, now=at(0), rng=0.5)
    assert step.retry_at == at(300)


def test_budget_ends_in_dead_letter() -> None:
    outcome = classify_error(TransportError.TIMEOUT)
    by_attempts = next_step(POLICY, outcome, attempt=5, first_attempt_at=T0, now=at(60), rng=0.1)
    assert by_attempts.kind is StepKind.DEAD_LETTER and "5 attempts" in by_attempts.reason
    assert "timeout" in by_attempts.reason
    late = next_step(POLICY, outcome, attempt=2, first_attempt_at=T0, now=at(3599), rng=0.9)
    assert late.kind is StepKind.DEAD_LETTER and "budget" in late.reason
    too_far = Outcome(OutcomeKind.RETRY, "HTTP 503", retry_after=timedelta(hours=2))
    assert (
        next_step(POLICY, too_far, attempt=1, first_attempt_at=T0, now=at(0), rng=0.0).kind
        is StepKind.DEAD_LETTER
    )


def test_terminal_outcomes() -> None:
    def step(status: int) -> Step:
        outcome = classify_response(status, None, T0)
        return next_step(POLICY, outcome, attempt=1, first_attempt_at=T0, now=at(0), rng=0.0)

    assert step(200).kind is StepKind.DONE
    assert step(410).kind is StepKind.DISABLE
    failed = step(302)
    assert failed.kind is StepKind.DEAD_LETTER and "redirect" in failed.reason


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "224.0.0.1",
        "0.0.0.0",
        "100.64.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "2002:7f00:1::",  # 6to4 around 127.0.0.1
        "2002:a00:1::1",  # 6to4 around 10.0.0.1
        "2002:a9fe:a9fe::",  # 6to4 around 169.254.169.254 (cloud metadata)
        "2002:808:808::",  # 6to4 around a public address: deprecated, refused too
        "64:ff9b::7f00:1",  # NAT64 around 127.0.0.1
        "64:ff9b:1::a00:1",  # local-use NAT64 around 10.0.0.1
        "::127.0.0.1",  # IPv4-compatible
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo
    ],
)
def test_ssrf_refuses_non_public(address: str) -> None:
    verdict = check_destination("https://hooks.example.org/x", [address], allow_private=False)
    assert not verdict.allowed and "refused" in verdict.reason
    assert check_destination("https://h.example/x", [address], allow_private=True).allowed


def test_ssrf_names_the_embedded_ipv4() -> None:
    verdict = check_destination("https://h.example/x", ["2002:7f00:1::"], allow_private=False)
    assert "embeds 127.0.0.1, loopback" in verdict.reason


def test_ssrf_allows_public_and_checks_every_address() -> None:
    assert check_destination("https://h.example/x", ["93.184.216.34"], False).allowed
    assert check_destination("http://h.example/x", ["2606:2800:220:1::1"], False).allowed
    mixed = check_destination("https://h.example/x", ["93.184.216.34", "10.0.0.1"], False)
    assert not mixed.allowed and "private" in mixed.reason
    assert not check_destination("https://h.example/x", [], False).allowed
    assert not check_destination("file:///etc/passwd", ["93.184.216.34"], True).allowed
    assert not check_destination("https://h.example/x", ["not-an-ip"], True).allowed


@pytest.mark.parametrize(
    "header",
    [
        "999999999999",  # OverflowError in timedelta / now + delay before the cap
        "9" * 60,  # more digits than any delay
        "Fri, 31 Dec 9999 23:59:59 GMT",  # the largest date: now + delay overflowed
    ],
)
def test_a_huge_retry_after_is_capped_and_ends_in_a_dead_letter(header: str) -> None:
    outcome = classify_response(503, header, T0)
    assert outcome.retry_after == MAX_RETRY_AFTER
    step = next_step(POLICY, outcome, attempt=1, first_attempt_at=T0, now=T0, rng=0.5)
    assert step.kind is StepKind.DEAD_LETTER  # past the retry budget: not retried for ever
    assert "retry budget" in step.reason


@pytest.mark.parametrize(
    "header",
    ["²", "١٢٠", "12e3", "-5", "0x10", " ", "x" * 100, "9" * 5000],  # past int()'s limit
)
def test_an_unreadable_retry_after_is_ignored(header: str) -> None:
    assert parse_retry_after(header, T0) is None
