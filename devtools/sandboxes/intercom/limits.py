"""Rate limiting the way Intercom does it, fault injection, and request statistics.

Intercom spreads its per-minute budget over 10-second windows (1000/min -> 167 per 10 s)
and reports the window in X-RateLimit-Limit / -Remaining / -Reset (unix seconds at which
the window ends). Windows here are aligned to wall-clock multiples of the window length,
as in Intercom's examples. Faults draw from a seeded RNG so a run is repeatable.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devtools.sandboxes.intercom.config import FaultConfig, RateLimitConfig


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(self.reset)}


class RateLimiter:
    def __init__(self, config: RateLimitConfig, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._lock = threading.Lock()
        self.configure(config)

    def configure(self, config: RateLimitConfig) -> None:
        with self._lock:
            self.config = config
            self._window_start = -1
            self._used = 0

    def take(self) -> RateDecision:
        """Count one request against the current window."""
        with self._lock:
            length = self.config.window_seconds
            limit = self.config.per_window
            start = int(self._now()) // length * length
            if start != self._window_start:
                self._window_start, self._used = start, 0
            allowed = self._used < limit
            if allowed:
                self._used += 1
            return RateDecision(allowed, limit, limit - self._used, start + length)


@dataclass(frozen=True)
class FaultDecision:
    drop: bool
    error_status: int | None
    latency_s: float


class FaultInjector:
    def __init__(self, config: FaultConfig, seed: int) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        """New settings restart the seeded sequence, so the same settings give the same faults."""
        with self._lock:
            self.config = config
            self._rng = random.Random(self._seed)

    def decide(self) -> FaultDecision:
        with self._lock:
            c = self.config
            # One draw per request: [0, drop) drops, [drop, drop + error) errors, so the
            # observed shares are the configured ones.
            u = self._rng.random()
            drop = u < c.drop_rate
            error = not drop and u < c.drop_rate + c.error_rate
            return FaultDecision(drop, c.error_status if error else None, c.latency_ms / 1000.0)


class Stats:
    """Counters for GET /_sandbox/stats."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.by_path: Counter[str] = Counter()
            self.by_status: Counter[int] = Counter()
            self.counters: Counter[str] = Counter()

    def record(self, route: str, status: int) -> None:
        with self._lock:
            self.by_path[route] += 1
            self.by_status[status] += 1
            self.counters["requests"] += 1

    def bump(self, name: str) -> None:
        with self._lock:
            self.counters[name] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.counters["requests"],
                "requests_by_path": dict(sorted(self.by_path.items())),
                "responses_by_status": {str(k): v for k, v in sorted(self.by_status.items())},
                "rate_limited": self.counters["rate_limited"],
                "injected_errors": self.counters["injected_errors"],
                "dropped_connections": self.counters["dropped_connections"],
                "unauthorized": self.counters["unauthorized"],
            }
