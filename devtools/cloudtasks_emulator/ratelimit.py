"""A queue's token bucket: capacity max_burst_size, refilled at max_dispatches_per_second."""

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

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(float(self.capacity), self.tokens + (now - self.updated) * self.rate_per_s)
            self.updated = now

    def try_take(self, now: float) -> bool:
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def seconds_until_token(self, now: float) -> float:
        self._refill(now)
        if self.tokens >= 1.0:
            return 0.0
        return (1.0 - self.tokens) / self.rate_per_s if self.rate_per_s > 0 else float("inf")
