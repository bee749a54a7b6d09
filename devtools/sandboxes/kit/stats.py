"""Request counters for GET /_sandbox/stats: how a benchmark counts vendor calls and a test
proves a 429 or a fault happened."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

#: how many of the first requests `order` keeps
ORDER_KEPT = 2000


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.by_path: Counter[str] = Counter()
            self.by_status: Counter[int] = Counter()
            self.counters: Counter[str] = Counter()
            #: (unix second, route) of every 429 the API answered: which endpoint was refused, when
            self.refused: Counter[tuple[int, str]] = Counter()
            #: answered API requests per unix second: a benchmark's requests/s over time
            self.per_second: Counter[int] = Counter()
            #: the routes of the first ORDER_KEPT answered requests, in order: which endpoint's
            #: work began before which (a child stream's first request among its parents')
            self.order: list[str] = []

    def record(self, route: str, status: int) -> None:
        """One answered API request; `route` is "METHOD /rule/<arg>", not the raw path."""
        with self._lock:
            self.by_path[route] += 1
            self.by_status[status] += 1
            self.counters["requests"] += 1
            second = int(time.time())
            self.per_second[second] += 1
            if len(self.order) < ORDER_KEPT:
                self.order.append(route)
            if status == 429:
                self.refused[second, route] += 1

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
                "requests_per_second": {str(k): v for k, v in sorted(self.per_second.items())},
                "order": list(self.order),
                "refused": [{"second": s, "route": r, "count": n} for (s, r), n in sorted(self.refused.items())],
            }
