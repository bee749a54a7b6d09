"""A queue's token bucket: capacity max_burst_size, refilled at max_dispatches_per_second.

`factor` (system throttling, throttle.py) scales both the refill rate and the capacity, so a
throttled queue neither refills at full speed nor spends a full burst it saved up before.
"""

from __future__ import annotations

import time


class TokenBucket:
    """Not thread-safe on its own: the dispatcher calls it under the emulator's lock."""

    def __init__(self, rate_per_s: float, capacity: int, now: float | None = None) -> None:
        self.rate_per_s = rate_per_s
        self.capacity = max(1, capacity)
        self.tokens = float(self.capacity)
        self.updated = time.monotonic() if now is None else now

    def reconfigure(self, rate_per_s: float, capacity: int) -> None:
        self.rate_per_s = rate_per_s
        self.capacity = max(1, capacity)
        self.tokens = min(self.tokens, float(self.capacity))

    def _refill(self, now: float, factor: float) -> None:
        capacity = max(1.0, self.capacity * factor)
        if now > self.updated:
            self.tokens += (now - self.updated) * self.rate_per_s * factor
            self.updated = now
        self.tokens = min(capacity, self.tokens)

    def try_take(self, now: float, factor: float = 1.0) -> bool:
        self._refill(now, factor)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def seconds_until_token(self, now: float, factor: float = 1.0) -> float:
        self._refill(now, factor)
        if self.tokens >= 1.0:
            return 0.0
        rate = self.rate_per_s * factor
        return (1.0 - self.tokens) / rate if rate > 0 else float("inf")
