from __future__ import annotations

import random

from shared.vendors.ratelimit import RateLimit, RateLimitHeaders, pacing_delay_s, read_state
from shared.vendors.retry import RetryPolicy, backoff_s, decide, parse_retry_after

POLICY = RetryPolicy(max_attempts=4, base_delay_s=1.0, max_delay_s=8.0)


def test_retryable_statuses_and_network_errors() -> None:
    assert decide(POLICY, 1, status=503).retry
    assert decide(POLICY, 1, status=429).retry
    assert decide(POLICY, 1, network_error=True).retry
    assert not decide(POLICY, 1, status=400).retry
    assert not decide(POLICY, 1, status=404).retry
    assert not decide(POLICY, 1, status=200).retry


def test_gives_up_after_max_attempts() -> None:
    decision = decide(POLICY, 4, status=503)
    assert not decision.retry
    assert "gave up after 4" in decision.reason


def test_backoff_is_capped_exponential_with_jitter() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        waits = [backoff_s(POLICY, attempt, rng) for _ in range(50)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(set(waits)) > 1


def test_server_wait_wins_when_longer() -> None:
    assert decide(POLICY, 1, status=429, server_wait_s=6.5).wait_s == 6.5


def test_retry_after_seconds_and_dates() -> None:
    from datetime import datetime, timezone

    assert parse_retry_after("12") == 12.0
    now = datetime(2026, 1, 1, 0, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now) == 30.0
    assert parse_retry_after("soon") is None


def test_pacing_slows_down_before_the_budget_is_spent() -> None:
    rate = RateLimit(requests=1000, per_seconds=60)
    spec = RateLimitHeaders()
    plenty = read_state({"X-RateLimit-Limit": "166", "X-RateLimit-Remaining": "100", "X-RateLimit-Reset": "110"}, spec, now=100)
    assert pacing_delay_s(plenty, rate) == 0
    low = read_state({"X-RateLimit-Limit": "166", "X-RateLimit-Remaining": "9", "X-RateLimit-Reset": "110"}, spec, now=100)
    assert 0.9 < pacing_delay_s(low, rate) < 1.1
    spent = read_state({"X-RateLimit-Limit": "166", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "110"}, spec, now=100)
    assert pacing_delay_s(spent, rate) == 10
