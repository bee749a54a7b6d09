"""Cloud Tasks' retry arithmetic, kept pure so it can be unit-tested against the documented
example (min 10s, max 300s, 3 doublings: 10, 20, 40, 80, 160, 240, 300, 300, ...)."""

from __future__ import annotations

from dataclasses import dataclass

# Defaults Cloud Tasks fills in when a queue is created without a retry config.
DEFAULT_MAX_ATTEMPTS = 100
DEFAULT_MIN_BACKOFF_S = 0.1
DEFAULT_MAX_BACKOFF_S = 3600.0
DEFAULT_MAX_DOUBLINGS = 16


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = DEFAULT_MAX_ATTEMPTS  # -1: unlimited
    min_backoff_s: float = DEFAULT_MIN_BACKOFF_S
    max_backoff_s: float = DEFAULT_MAX_BACKOFF_S
    max_doublings: int = DEFAULT_MAX_DOUBLINGS
    max_retry_duration_s: float = 0.0  # 0: task age unlimited


def backoff_seconds(policy: RetryPolicy, failed_attempts: int) -> float:
    """Delay before the next attempt after `failed_attempts` (>= 1) failures.

    The interval starts at min_backoff, doubles max_doublings times, then grows linearly by
    the last doubled interval, and is capped at max_backoff.
    """
    if failed_attempts < 1:
        raise ValueError("failed_attempts starts at 1")
    k = failed_attempts - 1
    doublings = min(k, policy.max_doublings)
    interval = policy.min_backoff_s * (2**doublings)
    if k > policy.max_doublings:
        interval += (k - policy.max_doublings) * policy.min_backoff_s * (2**policy.max_doublings)
    return min(interval, policy.max_backoff_s)


def should_give_up(policy: RetryPolicy, attempts: int, first_attempt_at: float, now: float) -> bool:
    """Cloud Tasks stops only when BOTH limits are satisfied: attempted max_attempts times
    (never, when -1) and max_retry_duration elapsed since the first attempt (always, when 0)."""
    attempts_done = policy.max_attempts != -1 and attempts >= policy.max_attempts
    duration_done = policy.max_retry_duration_s <= 0 or now - first_attempt_at >= policy.max_retry_duration_s
    return attempts_done and duration_done
