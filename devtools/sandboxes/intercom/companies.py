"""Company listing and scrolling as Intercom serves them (2.14, Companies).

Listing (GET /companies, POST /companies/list) is page-number pagination over companies
that have at least one user, ordered by last_request_at (newest first), which moves every
time a company's people use the product: a company touched between two page requests jumps
to page 1, so a client paging by number sees some companies twice and misses others. Past
the first 10,000 companies Intercom answers 400 "page limit reached, please use scroll API";
total_count still counts them all.

Scrolling (GET /companies/scroll) returns every company, users or not, from a snapshot taken
when the scroll opens. One scroll per workspace: opening a second one while the first is in
use answers 400 "scroll already exists for this workspace"; a scroll unused for a minute
(configurable) expires and its scroll_param is refused; the page after the last company has
empty data and ends the scroll.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from devtools.sandboxes.intercom.records import Company

SCROLL_PAGE_SIZE = 50


class CompanyError(Exception):
    """Refused: the app answers `status` with Intercom's error.list."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def listed(companies: Sequence[Company], tag_id: str | None = None) -> list[Company]:
    """What a list response may contain: companies with users, most recently active first."""
    chosen = [c for c in companies if c.user_count > 0 and (tag_id is None or tag_id in c.tag_ids)]
    chosen.sort(key=lambda c: (-c.last_request_at, c.id))
    return chosen


@dataclass
class Scroll:
    param: str
    ids: list[str]
    position: int
    last_used: float


class ScrollRegistry:
    """The workspace's one company scroll; thread-safe."""

    def __init__(self, idle_seconds: float, page_size: int = SCROLL_PAGE_SIZE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_seconds = idle_seconds
        self.page_size = page_size
        self._clock = clock
        self._lock = threading.Lock()
        self._open: Scroll | None = None

    def _live(self, now: float) -> Scroll | None:
        if self._open is not None and now - self._open.last_used > self.idle_seconds:
            self._open = None  # expired unused
        return self._open

    def next_page(self, scroll_param: str | None, snapshot: Callable[[], list[str]]) -> tuple[list[str], str]:
        """The next ids of the scroll `scroll_param` (a new scroll when None) and its param."""
        with self._lock:
            now = self._clock()
            current = self._live(now)
            if scroll_param is None:
                if current is not None:
                    raise CompanyError(400, "bad_request", "scroll already exists for this workspace")
                current = self._open = Scroll(str(uuid.uuid4()), snapshot(), 0, now)
            elif current is None or current.param != scroll_param:
                raise CompanyError(404, "not_found", "scroll_param not found or expired; start a new scroll")
            ids = current.ids[current.position: current.position + self.page_size]
            current.position += len(ids)
            current.last_used = now
            if not ids:
                self._open = None  # the end of the scroll: its param expires
            return ids, current.param

    def state(self) -> dict[str, Any]:
        with self._lock:
            now = self._clock()
            current = self._live(now)
            if current is None:
                return {"open": False, "idle_seconds": self.idle_seconds}
            return {"open": True, "scroll_param": current.param, "position": current.position,
                    "total": len(current.ids), "idle_for": round(now - current.last_used, 3),
                    "idle_seconds": self.idle_seconds}

    def close(self) -> bool:
        with self._lock:
            was_open, self._open = self._open is not None, None
            return was_open
