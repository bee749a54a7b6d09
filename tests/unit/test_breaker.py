"""The circuit breaker's state machine (shared.connections.breaker), without a store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.connections.breaker import BreakerPolicy, BreakerState, admit, check, failed, succeeded

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
    assert second.until is not None and second.until < half.until  # type: ignore[operator]
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
    assert later == opened  # nothing to write: every unit mid-call at the opening reports at once


def test_a_unit_that_finds_the_probe_in_flight_asks_again_within_a_cool_down_not_at_the_holds_end() -> None:
    """The probe usually reports within seconds and closes the breaker; units deferred to the
    end of its hold (minutes) kept a recovered connection's run waiting that long."""
    policy = BreakerPolicy(threshold=3, base_cooldown_s=30, max_cooldown_s=300, probe_lease_s=240)
    opened = fail_n(BreakerState(), 3)
    assert opened.until is not None
    _, half = admit(opened, opened.until, policy)
    assert half is not None and half.until == opened.until + timedelta(seconds=240)
    waiting, change = admit(half, opened.until + timedelta(seconds=1), policy)
    assert not waiting.call and change is None
    assert waiting.until == opened.until + timedelta(seconds=31)
    # near the hold's end: never past it (the next probe is due then)
    late, _ = admit(half, opened.until + timedelta(seconds=230), policy)
    assert late.until == half.until


class NoStore:
    """A store that must not be touched."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the store was used: {name}")


def test_check_defers_on_the_state_it_was_given_without_a_transaction() -> None:
    """Every chunk deferred to the same cool-down end arrives at once: those the state read
    with the connection already defers must not queue on the connection document."""
    opened = fail_n(BreakerState(), 3)
    admission = check(NoStore(), "c", POLICY, known=opened, now=T0 + timedelta(seconds=5))  # type: ignore[arg-type]
    assert not admission.call and admission.until == opened.until
    _, half = admit(opened, T0 + timedelta(seconds=10), POLICY)
    assert half is not None
    waiting = check(NoStore(), "c", POLICY, known=half, now=T0 + timedelta(seconds=11))  # type: ignore[arg-type]
    assert not waiting.call and waiting.until == T0 + timedelta(seconds=21)
    assert check(NoStore(), "c", POLICY, known=BreakerState()).call  # type: ignore[arg-type]
