"""The sandbox clock: a fixed epoch plus a monotonic offset.

Generated data is dated before the epoch, so runs are reproducible; every write takes a
timestamp strictly later than anything handed out before, so a client asking for
`updated_at > watermark` always finds it. Wall-clock time never leaks into the data (rate-limit
windows, which clients compare with their own clock, use real time instead).
"""

from __future__ import annotations

import threading


class SandboxClock:
    def __init__(self, epoch: int) -> None:
        self._now = epoch
        self._lock = threading.Lock()

    def now(self) -> int:
        """The latest timestamp handed out (or the epoch)."""
        with self._lock:
            return self._now

    def advance(self, seconds: int = 1) -> int:
        """Move forward by at least one second and return the new now."""
        with self._lock:
            self._now += max(1, seconds)
            return self._now
