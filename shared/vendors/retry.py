"""The retry decision as a pure function: (retry?, reason, wait) from what happened."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    retry_statuses: frozenset[int] = field(default_factory=lambda: frozenset({408, 425, 429, 500, 502, 503, 504}))
    #: a wait longer than this is not slept inside a request; the caller hands it back
    max_inline_wait_s: float = 30.0


@dataclass(frozen=True)
class Decision:
    retry: bool
    reason: str
    wait_s: float = 0.0


def backoff_s(policy: RetryPolicy, attempt: int, rng: random.Random | None = None) -> float:
    """Capped exponential backoff with full jitter (attempt counts from 1)."""
    ceiling = min(policy.max_delay_s, policy.base_delay_s * (2 ** (attempt - 1)))
    return (rng or random).uniform(ceiling / 2, ceiling)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After is either seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.replace(".", "", 1).isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def decide(
    policy: RetryPolicy,
    attempt: int,
    *,
    status: int | None = None,
    network_error: bool = False,
    server_wait_s: float | None = None,
    rng: random.Random | None = None,
) -> Decision:
    """What to do after attempt `attempt` ended with `status` or a network error.

    server_wait_s is what the vendor asked for (Retry-After or its rate-limit reset); it
    wins over our own backoff when longer.
    """
    if status is not None and status < 400:
        return Decision(False, "ok")
    if not network_error and status not in policy.retry_statuses:
        return Decision(False, f"status {status} is not retryable")
    reason = "network error" if network_error else f"status {status}"
    if attempt >= policy.max_attempts:
        return Decision(False, f"{reason}; gave up after {attempt} attempts")
    wait = backoff_s(policy, attempt, rng)
    if server_wait_s is not None:
        wait = max(wait, server_wait_s)
    return Decision(True, reason, wait)
