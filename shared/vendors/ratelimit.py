"""Rate limits as data: the vendor's budget and the names of its rate-limit headers.

The queue's dispatch rate keeps us under the budget in production; pacing from the
headers is the second line, so a worker slows down before the vendor refuses it.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class RateLimitHeaders:
    limit: str | None = "X-RateLimit-Limit"
    remaining: str | None = "X-RateLimit-Remaining"
    reset: str | None = "X-RateLimit-Reset"
    #: "epoch": reset is a unix time; "delta": seconds from now; "window_ms": the length of
    #: a rolling window in milliseconds (HubSpot's X-HubSpot-RateLimit-Interval-Milliseconds),
    #: the longest a slot can take to free up, so pacing by it errs on the safe side
    reset_kind: Literal["epoch", "delta", "window_ms"] = "epoch"
    retry_after: str = "Retry-After"
    #: a vendor whose usage comes in one composite header (Salesforce's
    #: `Sforce-Limit-Info: api-usage=used/max`) reads it here instead of the named headers
    parse: Callable[[Mapping[str, str]], RateLimitState | None] | None = None


@dataclass(frozen=True)
class EndpointLimit:
    """A budget of its own for the paths under `prefix` (Pylon limits each endpoint).

    With `pattern` (a regular expression the whole path must match) the budget is that
    endpoint's alone: Pylon's GET /issues, POST /issues/search and GET /issues/{id}/messages
    share a prefix but not a budget."""

    prefix: str
    requests: int
    per_seconds: float
    method: str | None = None
    pattern: str | None = None
    #: how late after its booked slot a request may reach the vendor (threads, CPU, the
    #: network): where the vendor counts fixed windows, a request booked just before one
    #: ends lands in the next, which then meets its whole budget plus that one (a 429)
    late_s: float = 0.0

    @property
    def per_second(self) -> float:
        return self.requests / self.per_seconds

    def booked_per_second(self, scale: float = 1.0) -> float:
        """The rate the engine books (the budget at `scale`, the rate-limit clock's speed):
        each window leaves room for the requests booked in the last `late_s` of the one
        before, and no more. Bookings are at least one slot apart, so a window holds at most
        its booked share, and the late ones fit in the room. At Pylon's ten a minute that
        room is one request (0.9 of the budget); run 30 times faster it is a hundredth (the
        lateness is real time, the window is not)."""
        per_window = self.requests * scale
        late = math.ceil(self.late_s * per_window / self.per_seconds - 1e-9) if self.late_s > 0 else 0
        return max(per_window - late, per_window / 2) / self.per_seconds

    @property
    def key(self) -> str:
        """The budget's name within a connection."""
        return f"{self.method or '*'}:{self.pattern or self.prefix}"

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        if self.pattern is not None:
            return re.fullmatch(self.pattern, path) is not None
        return path.startswith(self.prefix)


def _one_each(method: str, path: str) -> int:
    return 1


@dataclass(frozen=True)
class DailyAllowance:
    """A budget per day that every call is charged against, by kind of call (Pipedrive:
    tokens per company, a list 20, one item 2, a write 10), starting again at midnight UTC.

    It is booked ahead (shared.sync.budgets): a sync's call that would leave less than the
    reserve (`RateLimit.reserve_share` of the day's limit) is not sent; its chunk waits for
    the reset instead of learning of the spent budget from a 429. Live calls (a logged
    activity's push) may spend the reserve. What the vendor reports on each answer replaces
    our count, so other tools' spending is seen at once."""

    remaining_header: str
    limit_header: str | None = None
    #: (method, path) -> what the call costs
    cost: Callable[[str, str], int] = _one_each

    def read(self, headers: Mapping[str, str]) -> tuple[int, int] | None:
        """(limit, remaining) as the answer reports them (limit -1 when only remaining is sent)."""
        def number(name: str | None) -> int | None:
            try:
                return int(float(headers[name])) if name and headers.get(name) is not None else None
            except ValueError:
                return None

        remaining = number(self.remaining_header)
        return None if remaining is None else (number(self.limit_header) or -1, remaining)


def next_utc_midnight(now: float) -> float:
    return (now // 86_400 + 1) * 86_400


@dataclass(frozen=True)
class RateLimit:
    """The vendor's budget. With scope "app" one queue per vendor paces every connection
    (the queue's dispatch rate is the budget); with "token" each connection has a budget of
    its own, booked in the store before every request (two connections never share one,
    and the queue's rate still caps what the app sends in all)."""

    requests: int
    per_seconds: float
    headers: RateLimitHeaders = field(default_factory=RateLimitHeaders)
    #: "app": one budget for the whole connector; "token": one per connection's credentials
    scope: Literal["app", "token"] = "app"
    #: per-endpoint budgets of each connection, on top of the main one
    endpoints: tuple[EndpointLimit, ...] = ()
    max_concurrency: int = 10
    #: share of the budget the queue may use, leaving room for live calls from the API
    queue_share: float = 1.0
    #: start pacing when fewer than this share of the window's budget remains
    pace_below: float = 0.1
    #: scope "token": how many connections' budgets the vendor's queue dispatches for at once.
    #: Each connection books its own budget in the store, so the queue's rate is a ceiling
    #: over all of them; at 1 every user would share one token's budget.
    parallel_tokens: int = 1
    #: a long allowance the vendor reports without a reset (Salesforce's daily API requests,
    #: a rolling 24 hours): once no more than this share of it remains, the connection
    #: pauses for `reserve_pause_s` instead of spending what the org's other tools need
    reserve_share: float = 0.0
    reserve_pause_s: float = 3600.0
    #: a budget per day, charged per call and booked ahead of every sync call (Pipedrive)
    daily: DailyAllowance | None = None

    def reserve_reached(self, state: RateLimitState) -> bool:
        return (self.daily is None and self.reserve_share > 0 and state.limit is not None and state.remaining is not None
                and state.remaining <= state.limit * self.reserve_share)

    @property
    def per_second(self) -> float:
        return self.requests / self.per_seconds


@dataclass(frozen=True)
class RateLimitState:
    limit: int | None
    remaining: int | None
    reset_in_s: float | None
    #: unix time the vendor's fixed window ends, when the headers name one (an epoch or a
    #: delta reset; not a rolling window's length): `remaining` is that window's
    window_end: float | None = None


def read_state(headers: Mapping[str, str], spec: RateLimitHeaders, now: float | None = None) -> RateLimitState:
    if spec.parse is not None:
        return spec.parse(headers) or RateLimitState(None, None, None)

    def as_int(name: str | None) -> int | None:
        if not name or headers.get(name) is None:
            return None
        try:
            return int(float(headers[name]))
        except ValueError:
            return None

    reset = as_int(spec.reset)
    reset_in: float | None = None
    window_end: float | None = None
    now = now if now is not None else time.time()
    if reset is not None:
        if spec.reset_kind == "epoch":
            reset_in, window_end = reset - now, float(reset)
        else:
            reset_in = reset / 1000 if spec.reset_kind == "window_ms" else float(reset)
            window_end = now + reset_in if spec.reset_kind == "delta" else None
        reset_in = max(0.0, reset_in)
    return RateLimitState(as_int(spec.limit), as_int(spec.remaining), reset_in, window_end)


def pacing_delay_s(state: RateLimitState, rate: RateLimit) -> float:
    """How long to wait before the next request so the remaining budget lasts the window."""
    if state.remaining is None or state.reset_in_s is None:
        return 0.0
    limit = state.limit or rate.requests
    if state.remaining <= 0:
        return state.reset_in_s
    if state.remaining > limit * rate.pace_below:
        return 0.0
    return state.reset_in_s / (state.remaining + 1)
