"""Pipedrive's limits, per API token and per company, and the sandbox's one-shot faults.

From https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting:

- a burst limit per token in 2-second windows, by plan (api_token: Essential 20,
  Advanced 40, Professional 80, Enterprise 120), reported on every answer as
  x-ratelimit-limit / x-ratelimit-remaining / x-ratelimit-reset (seconds to the window's end);
- a daily budget of tokens per company (30,000 x plan multiplier x seats), each call
  charged by kind (one item 2, a list 20, a write 10, a search 40), reset at midnight UTC
  (on the sandbox's clock, which /_sandbox/clock moves); reported as
  x-daily-ratelimit-token-limit / -remaining (what live Pipedrive sends, undocumented) and
  x-daily-requests-left;
- over either: 429 with Retry-After; a caller that keeps calling while refused is blocked
  (here: `block_after` refusals in a row block the token with 403 for `block_s` seconds).

The kit's own window (kit/ratelimit.py) stays as a company-wide ceiling; these are on top,
per token, which is what makes two users' syncs independent.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from devtools.sandboxes.kit.params import int_fields
from devtools.sandboxes.kit.responses import ApiError

COST = {"one": 2, "list": 20, "write": 10, "search": 40}
WINDOW_S = 2.0


@dataclass
class Limits:
    #: requests per token per 2-second window (Essential plan's api_token limit)
    burst: int = 20
    #: tokens per company per day (30,000 x multiplier x seats: Essential, 5 seats)
    daily_tokens: int = 30_000 * 5
    block_after: int = 10
    block_s: int = 60

    def update(self, changes: dict[str, Any]) -> Limits:
        values = int_fields(changes, ("burst", "daily_tokens", "block_after", "block_s"))
        return Limits(**{**self.__dict__, **values})


@dataclass
class TokenState:
    window_start: float = -1.0
    used: int = 0
    refused_in_a_row: int = 0
    blocked_until: float = 0.0


@dataclass
class MeterStats:
    requests: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    #: token -> the most requests it got answered within one window
    peak_window: Counter[str] = field(default_factory=Counter)
    blocked: Counter[str] = field(default_factory=Counter)
    created: Counter[str] = field(default_factory=Counter)
    spent: Counter[str] = field(default_factory=Counter)

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {name: dict(getattr(self, name)) for name in ("requests", "refused", "peak_window", "blocked",
                                                              "created", "spent")}


class Meter:
    """Admits a token's call or refuses it (ApiError with Pipedrive's headers)."""

    def __init__(self, limits: Limits, now: Callable[[], float] = time.time) -> None:
        self.limits = limits
        self.now = now
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.stats = MeterStats()
            self._tokens: dict[str, TokenState] = defaultdict(TokenState)
            self._daily: dict[tuple[str, str], int] = defaultdict(int)

    def admit(self, token: str, company: str, kind: str) -> dict[str, str]:
        """The rate headers of an admitted call; raises 429 (or 403 when blocked)."""
        now = self.now()
        day = datetime.fromtimestamp(now, tz=timezone.utc).date().isoformat()
        limits = self.limits
        with self._lock:
            state = self._tokens[token]
            self.stats.requests[token] += 1
            if state.blocked_until > now:
                self.stats.blocked[token] += 1
                raise ApiError(403, "blocked", "Your API token is temporarily blocked: too many requests after 429s.")
            start = now // WINDOW_S * WINDOW_S
            if start != state.window_start:
                state.window_start, state.used = start, 0
            spent = self._daily[(company, day)]
            reset = max(1, int(start + WINDOW_S - now + 0.999))
            over_daily = spent + COST[kind] > limits.daily_tokens
            if over_daily or state.used >= limits.burst:
                state.refused_in_a_row += 1
                self.stats.refused[token] += 1
                if state.refused_in_a_row >= limits.block_after:
                    state.blocked_until = now + limits.block_s
                retry = int((now // 86_400 + 1) * 86_400 - now) + 1 if over_daily else reset
                headers = self._headers(state, reset, spent) | {"Retry-After": str(retry)}
                raise ApiError(429, "rate_limited", "Request over limit", headers=headers)
            state.refused_in_a_row = 0
            state.used += 1
            self.stats.peak_window[token] = max(self.stats.peak_window[token], state.used)
            self.stats.spent[token] += COST[kind]
            self._daily[(company, day)] = spent + COST[kind]
            return self._headers(state, reset, spent + COST[kind])

    def _headers(self, state: TokenState, reset: int, spent: int) -> dict[str, str]:
        left = str(max(0, self.limits.daily_tokens - spent))
        return {
            "x-ratelimit-limit": str(self.limits.burst),
            "x-ratelimit-remaining": str(max(0, self.limits.burst - state.used)),
            "x-ratelimit-reset": str(reset),
            # the token budget as live Pipedrive reports it (not in its docs; clients seen
            # in the wild read these), and the documented POST/PUT header
            "x-daily-ratelimit-token-limit": str(self.limits.daily_tokens),
            "x-daily-ratelimit-token-remaining": left,
            "x-daily-requests-left": left,
        }


@dataclass
class Fault:
    """The next `times` requests matching (method, path prefix) fail: `status` (a 5xx or
    429), or "timeout": the request is carried out, then the answer is held `delay_s` (the
    caller times out after the sandbox accepted it, as a slow Pipedrive would)."""

    method: str
    prefix: str
    times: int
    status: int | str = 500
    delay_s: float = 5.0

    @classmethod
    def of(cls, body: dict[str, Any]) -> Fault:
        try:
            fault = cls(method=str(body["method"]).upper(), prefix=str(body["prefix"]), times=int(body.get("times", 1)),
                        status=body.get("status", 500), delay_s=float(body.get("delay_s", 5.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ApiError(400, "bad_request", f"a fault needs method, prefix, times, status: {exc}") from exc
        if fault.status != "timeout" and not (isinstance(fault.status, int) and 400 <= fault.status <= 599):
            raise ApiError(400, "bad_request", "status is an HTTP error status or \"timeout\"")
        return fault


class Faults:
    """One-shot faults, taken in the order they were added (the kit's are random shares)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.pending: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self.pending.append(fault)

    def clear(self) -> None:
        with self._lock:
            self.pending = []

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.pending:
                if fault.times > 0 and fault.method == method and path.startswith(fault.prefix):
                    fault.times -= 1
                    return fault
        return None
