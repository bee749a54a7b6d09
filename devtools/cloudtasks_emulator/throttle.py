"""System throttling: how the emulator models Cloud Tasks slowing down for a struggling target.

Cloud Tasks documents (HttpRequest, "System throttling") that it backs off on all errors, that
a worker answering 429 (Too Many Requests) or 503 (Service Unavailable) makes it use a higher
backoff and temporarily reduce the queue's effective rate without changing the queue's
settings, and that a Retry-After header on such a response is considered. It publishes no
numbers, so the emulator picks a simple, documented model:

- the retry of a task answered 429/503 waits one more step of the queue's retry schedule (as
  if it had failed once more), and never less than the response's Retry-After (seconds or an
  HTTP date): a task told "Retry-After: 2" is not attempted again within 2 s;
- each 429/503 halves the queue's effective dispatch rate (and the burst it may spend at
  once), down to 1/16 of the configured rate; every `recovery_s` seconds (5 by default)
  without another 429/503 doubles it back, until it is the configured rate again.
Other failures (500, timeouts, connection errors) back off on the normal schedule and do not
slow the queue. The ramp-up of a new or idle queue is not modelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

THROTTLING_STATUSES = frozenset({429, 503})
MIN_FACTOR = 1 / 16
RECOVERY_S = 5.0


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Retry-After as seconds from `now` (unix time): delta-seconds or an HTTP date; None if absent
    or unreadable (a malformed header is ignored, as HTTP clients do)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


def throttled_retry_delay(normal_next_s: float, retry_after_s: float | None) -> float:
    """The delay before retrying a task answered 429/503 (see the module docstring)."""
    return max(normal_next_s, retry_after_s or 0.0)


@dataclass
class SystemThrottle:
    """A queue's effective-rate factor in (0, 1]; monotonic seconds throughout."""

    recovery_s: float = RECOVERY_S
    min_factor: float = MIN_FACTOR
    _factor: float = 1.0
    _since: float = 0.0  # when _factor was last set

    def factor(self, now: float) -> float:
        if self._factor >= 1.0 or self.recovery_s <= 0:
            return 1.0
        doublings = int((now - self._since) // self.recovery_s)
        return min(1.0, self._factor * float(2**doublings))

    def signal(self, now: float) -> float:
        """A 429/503 arrived: halve the effective rate (from its current, recovering value)."""
        self._factor = max(self.min_factor, self.factor(now) / 2)
        self._since = now
        return self._factor

    def reset(self) -> None:
        self._factor, self._since = 1.0, 0.0
