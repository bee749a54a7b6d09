"""The circuit breaker's state machine (shared.connections.breaker), without a store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.connections.breaker import BreakerPolicy, BreakerState, admit, failed, succeeded

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = BreakerPolicy(threshold=3, base_cooldown_s=10, max_cooldown_s=35, probe_lease_s=20)


def fail_n(state: BreakerState, n: int, at: datetime = T0) -> BreakerState:
    for _ in range(n):
        state = failed(state, at, POLICY, "vendor_unavailable: 503")
    return state


def test_a_closed_breaker_admits_and_stores_nothing() -> None:
    admission, change = admit(BreakerState(), T0, POLICY)
    assert admission.call and not admission.probe and change is None


def test_it_opens_after_threshold_consecutive_failures_not_before() -> None:
    two = fail_n(BreakerState(), 2)
    assert two.state == "closed" and two.failures == 2
    three = fail_n(two, 1)
    assert three.state == "open" and three.trips == 1 and three.until == T0 + timedelta(seconds=10)


def test_a_success_between_failures_resets_the_count() -> None:
    state = succeeded(fail_n(BreakerState(), 2))
    assert state is not None and state.failures == 0
    assert fail_n(state, 2).state == "closed"


def test_while_open_every_unit_is_deferred_to_the_end_of_the_cool_down() -> None:
    opened = fail_n(BreakerState(), 3)
    admission, change = admit(opened, T0 + timedelta(seconds=9), POLICY)
    assert not admission.call and admission.until == opened.until and change is None


def test_after_the_cool_down_exactly_one_probe_is_admitted() -> None:
    opened = fail_n(BreakerState(), 3)
    probe, half = admit(opened, T0 + timedelta(seconds=10), POLICY)
    assert probe.call and probe.probe and half is not None and half.state == "half_open"
    second, change = admit(half, T0 + timedelta(seconds=11), POLICY)
    assert not second.call and change is None
    # a probe that never reports lets the next one through after its hold
    again, _ = admit(half, T0 + timedelta(seconds=31), POLICY)
    assert again.call and again.probe


def test_a_successful_probe_closes_it() -> None:
    _, half = admit(fail_n(BreakerState(), 3), T0 + timedelta(seconds=10), POLICY)
    assert half is not None
    closed = succeeded(half)
    assert closed is not None and closed.state == "closed" and closed.failures == 0 and closed.trips == 0
    assert succeeded(closed) is None  # already clean: nothing to write


def test_a_failed_probe_reopens_with_a_doubled_cool_down_capped() -> None:
    state = fail_n(BreakerState(), 3)
    cooldowns = []
    at = T0
    for _ in range(4):
        assert state.until is not None
        at = state.until
        _, half = admit(state, at, POLICY)
        assert half is not None
        state = failed(half, at, POLICY, "timeout")
        assert state.state == "open"
        cooldowns.append((state.until - at).total_seconds() if state.until else None)
    assert cooldowns == [20, 35, 35, 35]


def test_a_failure_reported_while_open_does_not_extend_the_cool_down() -> None:
    opened = fail_n(BreakerState(), 3)
    later = failed(opened, T0 + timedelta(seconds=5), POLICY, "late")
    assert later.until == opened.until and later.trips == 1
