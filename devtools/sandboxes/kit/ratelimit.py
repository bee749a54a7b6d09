"""Fixed-window rate limiting and the headers that report it.

A budget of `per_minute` requests is enforced in windows of `window_seconds`, aligned to
wall-clock multiples of the window length (Intercom: 1000/min as 167 per 10 s; HubSpot:
100 per 10 s is per_minute=600, window_seconds=10). Windows use real time, not the sandbox
clock, because clients pace themselves with their own clock and the reset header.

Header names and the reset style differ per vendor, so they are data (`RateHeaders`) the
vendor's Dialect carries; the limiter only counts.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class RateLimitConfig:
    """A per-minute budget enforced in windows of `window_seconds`."""

    per_minute: int = 1_000
    window_seconds: int = 10

    @property
    def per_window(self) -> int:
        """The budget of one window, rounded up (1000/min over 10 s windows -> 167)."""
        return max(1, -(-self.per_minute * self.window_seconds // 60))


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    #: unix seconds at which the current window ends
    reset: int
    window_seconds: int
    #: whole seconds until the window ends (at least 1): what Retry-After says
    retry_after: int


@dataclass(frozen=True)
class RateHeaders:
    """Which headers report the window (None leaves one out)."""

    limit: str | None = "X-RateLimit-Limit"
    remaining: str | None = "X-RateLimit-Remaining"
    reset: str | None = "X-RateLimit-Reset"
    #: "epoch": unix seconds the window ends (Intercom, GitHub); "delta": seconds left (IETF draft),
    #: the same words as shared.vendors.ratelimit.RateLimitHeaders, which reads them
    reset_style: Literal["epoch", "delta"] = "epoch"
    #: add Retry-After (seconds) to 429 answers
    retry_after: bool = False

    def render(self, decision: RateDecision) -> dict[str, str]:
        """The headers of an answer counted against `decision`'s window."""
        out: dict[str, str] = {}
        if self.limit:
            out[self.limit] = str(decision.limit)
        if self.remaining:
            out[self.remaining] = str(decision.remaining)
        if self.reset:
            out[self.reset] = str(decision.reset if self.reset_style == "epoch" else decision.retry_after)
        if self.retry_after and not decision.allowed:
            out["Retry-After"] = str(decision.retry_after)
        return out


class RateLimiter:
    """Counts requests per window; thread-safe. `now` is injectable for tests."""

    def __init__(self, config: RateLimitConfig, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._lock = threading.Lock()
        self.configure(config)

    def configure(self, config: RateLimitConfig) -> None:
        """New settings (or the same ones) start a fresh window."""
        with self._lock:
            self.config = config
            self._window_start = -1
            self._used = 0

    def take(self) -> RateDecision:
        """Count one request against the current window."""
        with self._lock:
            length = self.config.window_seconds
            limit = self.config.per_window
            now = self._now()
            start = int(now) // length * length
            if start != self._window_start:
                self._window_start, self._used = start, 0
            allowed = self._used < limit
            if allowed:
                self._used += 1
            end = start + length
            return RateDecision(allowed, limit, limit - self._used, end, length, max(1, math.ceil(end - now)))
