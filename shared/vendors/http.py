"""The one HTTP client for vendor APIs: timeouts, retries with backoff, rate-limit pacing.

Retries 429, 5xx and network errors with capped exponential backoff and jitter, honours
Retry-After and the vendor's rate-limit reset, and slows down when the remaining budget
runs low. Credentials go in headers only and are never logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from pydantic_core import from_json

from shared.vendors.auth import RequestAuth, StaticAuth, WireAuth
from shared.vendors.connector import ConnectionConfig, Connector
from shared.vendors.errors import (
    AllowanceSpent,
    VendorAuthFailed,
    VendorConflict,
    VendorNotFound,
    VendorRateLimited,
    VendorRejected,
    VendorUnavailable,
)
from shared.vendors.pagination import PageRequest
from shared.vendors.ratelimit import next_utc_midnight, pacing_delay_s, read_state
from shared.vendors.retry import decide, parse_retry_after

log = logging.getLogger("tributary.vendors.http")

#: seconds to open a connection to a vendor; reads wait the connection's `timeout_s`
CONNECT_TIMEOUT_S = 10.0


class RateGate(Protocol):
    """A budget shared beyond this process (booked in the store): `book` answers how long
    to wait before sending the request, or None when the budget is spent for longer than
    a unit of work may wait; `hold` records a pause the vendor asked for."""

    def book(self, request: PageRequest) -> float | None: ...

    def hold(self, delay_s: float) -> None: ...

    def observe(self, limit: int, remaining: int) -> None:
        """The vendor's daily allowance as its answer reported it."""
        ...


class PacingState:
    """When the next request may go, as learned from rate-limit headers. Shared by every
    client of one budget in a process (see shared.vendors.clients), so pacing outlives a
    unit of work; thread-safe."""

    def __init__(self) -> None:
        self._until = 0.0
        self._lock = threading.Lock()

    def hold(self, delay_s: float) -> None:
        with self._lock:
            self._until = max(self._until, time.monotonic() + delay_s)

    def wait_s(self) -> float:
        with self._lock:
            return max(0.0, self._until - time.monotonic())


class WindowLedger:
    """The vendor's fixed window as one connection's answers report it (Intercom:
    X-RateLimit-Remaining of the 10 s window that ends at X-RateLimit-Reset), kept by every
    client of the connection in a process; thread-safe. A request goes only while the
    window, as its newest answer reported it, less the requests sent or given their turn
    since, has room; otherwise it waits for the next window. The queue's dispatch rate alone
    cannot promise that at full share: its token bucket spends the burst it saved while idle
    (a second's worth), and a window that already had its share took it as 429s (#16).
    Per connection: each workspace's answers report its own window."""

    #: a request sent this long before the one whose answer reports the window may reach
    #: the vendor after it (a busy process's threads), so the report may not count it yet.
    #: Counting one too many costs a slot only until the next answer; 0.05 s let a 429 through
    #: on an idle machine (the run's busiest window had 101 of 100)
    REORDER_S = 0.5

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent = 0  # tickets of requests on the wire
        self._in_flight: dict[int, float] = {}  # ticket -> when it was sent (time.monotonic())
        self._pending = 0  # requests given their turn but not sent yet
        self._window_end = 0.0  # unix time the reported window ends
        self._left = 0  # room left in it: reported remaining, less what was sent since
        self._reported_by = 0  # the ticket whose answer set `_left`

    def take(self, wait_s: float = 0.0) -> float:
        """This request's turn, `wait_s` from now at the earliest: how long to wait before
        sending it. It is counted against the reported window now (a window that has ended
        is the vendor's new one, whose room the next answer reports); `sending` or
        `abandon` must follow."""
        with self._lock:
            now = time.time()
            if now + wait_s < self._window_end:
                if self._left > 0:
                    self._left -= 1
                else:
                    wait_s = self._window_end - now
            self._pending += 1
            return wait_s

    def abandon(self) -> None:
        """The request given its turn is not sent after all."""
        with self._lock:
            self._pending -= 1

    def sending(self) -> int:
        """The request is going on the wire now: its ticket, for `settle`."""
        with self._lock:
            self._pending -= 1
            self._sent += 1
            self._in_flight[self._sent] = time.monotonic()
            return self._sent

    def settle(self, ticket: int, remaining: int | None = None, window_end: float | None = None) -> None:
        """The request `ticket` was answered (or failed: no report). A report from a newer
        window, or from a later-sent request of the same one, sets the room left: what the
        vendor reported, less the requests not sent yet and those on the wire that it may
        not have counted (sent after this one, or just before it)."""
        with self._lock:
            sent_at = self._in_flight.pop(ticket, None)
            if remaining is None or window_end is None or sent_at is None:
                return
            if window_end > self._window_end or (window_end == self._window_end and ticket > self._reported_by):
                uncounted = sum(1 for at in self._in_flight.values() if at >= sent_at - self.REORDER_S)
                self._window_end, self._reported_by = window_end, ticket
                self._left = remaining - uncounted - self._pending


def _error_text(response: httpx.Response) -> str:
    """The start of the vendor's error body, for matching declared conditions and for the
    run record (error bodies carry no credentials)."""
    try:
        return response.text[:300]
    except (UnicodeDecodeError, httpx.ResponseNotRead):
        return ""


@dataclass
class CallStats:
    """What a client did, for run records and benchmarks."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    network_errors: int = 0
    waited_s: float = 0.0
    #: the vendor's allowance as its last answer reported it (limit, remaining), if it does
    allowance: tuple[int, int] | None = None

    def as_dict(self) -> dict[str, float]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, (int, float))}


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing (see _VendorHttp)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _VendorHttp(httpx.Client):
    """httpx's client without cookies. Vendor APIs authenticate by header, and one pooled
    client serves every connection of a host: a cookie one connection's answer set must
    never ride along on another's request. (Reading them was also a fifth of a request's
    CPU.)"""

    _jar = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._jar

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        return None


def build_http(connector: Connector, base_url: str, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """A pooled HTTP client for one vendor host, without credentials (they are applied per
    request) or cookies, on http.client (shared.vendors.transport) unless `transport` is
    given; build it once per process and host (creating one loads the CA bundle)."""
    from shared.vendors.transport import StdlibTransport

    headers = {"Accept": "application/json", "User-Agent": "tributary-sync/0.1", **connector.default_headers}
    return _VendorHttp(base_url=base_url.rstrip("/"), headers=headers, transport=transport or StdlibTransport(),
                       follow_redirects=False)


@dataclass
class VendorClient:
    """One connection's view of a vendor: its host, its credentials, retries and pacing."""

    connector: Connector
    config: ConnectionConfig
    auth: RequestAuth = field(default_factory=lambda: StaticAuth(WireAuth()))
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    stats: CallStats = field(default_factory=CallStats)
    #: time.monotonic() by which fetch must have answered or handed back (a task's budget)
    deadline: float | None = None
    #: a shared pooled client for config.base_url (see build_http); None builds one this client owns
    http: httpx.Client | None = None
    #: where pacing learned from rate-limit headers is kept between units of work
    pacing: PacingState | None = None
    #: the connection's vendor window, kept between units of work (see WindowLedger)
    window: WindowLedger | None = None
    #: the connection's own budgets (per-token and per-endpoint vendors); None: the queue paces
    gate: RateGate | None = None

    def __post_init__(self) -> None:
        self._owns_http = self.http is None
        self._http = self.http or build_http(self.connector, self.config.base_url, self.transport)
        if self.pacing is None:
            self.pacing = PacingState()
        self._pacing: PacingState = self.pacing
        if self.window is None:
            self.window = WindowLedger()
        self._window: WindowLedger = self.window
        self._base = str(self._http.base_url).rstrip("/")

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> VendorClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _build(self, request: PageRequest) -> httpx.Request:
        """The request built once and sent as it is (httpx's `request()` parses the URL three
        times and merges cookies: most of a small request's CPU)."""
        wire = self.auth.current()
        params = {**request.params, **wire.params} or None
        headers = self._http.headers.copy()
        headers.update(wire.headers)
        # read from config on every request: the outbox shortens a client's timeout after opening it
        seconds = self.config.timeout_s
        timeout = {"connect": CONNECT_TIMEOUT_S, "read": seconds, "write": seconds, "pool": seconds}
        return httpx.Request(request.method, self._base + request.path, params=params, json=request.json_body,
                             headers=headers, extensions={"timeout": timeout})

    def fetch(self, request: PageRequest) -> dict[str, Any]:
        """Send the request and return its JSON body, retrying what a retry can fix."""
        return self._json(self.respond(request))

    def respond(self, request: PageRequest, *, passthrough: tuple[int, ...] = ()) -> httpx.Response:
        """Send the request, retrying what a retry can fix; the response when it succeeds or
        its status is in `passthrough` (the proxy hands a vendor's 404 body through)."""
        if not request.path.startswith("/") or request.path.startswith("//"):
            raise ValueError("vendor requests are paths on the connection's host")  # PageRequest guards this too
        policy = self.connector.retry
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            self._wait_for_pace()
            try:
                self._wait_for_gate(request)
                outgoing = self._build(request)
            except BaseException:
                self._window.abandon()
                raise
            self.stats.requests += 1
            ticket = self._window.sending()  # as near the wire as the client gets: the window's ledger orders by it
            try:
                response = self._http.send(outgoing)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                self._window.settle(ticket)
                self.stats.network_errors += 1
                decision = decide(policy, attempt, network_error=True)
                if not decision.retry:
                    raise VendorUnavailable(f"{self.connector.title} did not answer: {type(exc).__name__}.") from exc
                self._backoff(decision.wait_s, decision.reason, request)
                continue
            except BaseException:
                self._window.settle(ticket)
                raise
            server_wait = self._observe_rate_limit(response, ticket)
            if response.status_code < 400 or response.status_code in passthrough:
                return response
            if response.status_code == 401 and not refreshed:
                refreshed = True
                if self.auth.refresh():
                    continue
            if response.status_code == 429:
                self.stats.rate_limited += 1
            elif response.status_code >= 500:
                self.stats.server_errors += 1
            decision = decide(policy, attempt, status=response.status_code, server_wait_s=server_wait)
            if decision.retry and decision.wait_s <= policy.max_inline_wait_s:
                self._backoff(decision.wait_s, decision.reason, request)
                continue
            raise self._error(response, server_wait)

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = from_json(response.content)  # pydantic-core's parser: a quarter faster than json's
        except ValueError as exc:
            raise VendorUnavailable(f"{self.connector.title} sent a body that is not JSON.") from exc
        return body if isinstance(body, dict) else {"data": body}

    def _observe_rate_limit(self, response: httpx.Response, ticket: int) -> float | None:
        """Remember how long to pace; return the wait the vendor asked for, if any."""
        spec = self.connector.rate_limit.headers
        state = read_state(response.headers, spec)
        self._window.settle(ticket, state.remaining, state.window_end)
        delay = pacing_delay_s(state, self.connector.rate_limit)
        daily = self.connector.rate_limit.daily
        if daily is not None:
            reported = daily.read(response.headers)
            if reported is not None:
                self.stats.allowance = reported
                if self.gate is not None:
                    self.gate.observe(*reported)
        elif state.limit is not None and state.remaining is not None:
            self.stats.allowance = (state.limit, state.remaining)
        if self.connector.rate_limit.reserve_reached(state):
            log.warning("vendor allowance at its reserve: pausing the connection",
                        extra={"vendor": self.connector.vendor, "limit": state.limit, "remaining": state.remaining})
            delay = max(delay, self.connector.rate_limit.reserve_pause_s)
        if delay > 0:
            self._pacing.hold(delay)
        if delay > 0 and self.gate is not None:
            self.gate.hold(delay)
        retry_after = parse_retry_after(response.headers.get(spec.retry_after))
        if response.status_code == 429:
            return retry_after if retry_after is not None else state.reset_in_s
        return retry_after

    def _wait_for_pace(self) -> None:
        """Wait for this request's turn: pacing, and room in the vendor's window."""
        wait = self._window.take(self._pacing.wait_s())
        if wait > 0:
            if self.deadline is not None and time.monotonic() + wait + self.config.timeout_s > self.deadline:
                self._window.abandon()
                raise VendorRateLimited(wait, message=f"{self.connector.title}: paced past the time budget.")
            self.stats.waited_s += wait
            self.sleep(wait)

    def _wait_for_gate(self, request: PageRequest) -> None:
        if self.gate is None:
            return
        wait = self.gate.book(request)
        if wait is None:
            raise VendorRateLimited(5.0, message=f"{self.connector.title}: this connection's budget is spent for now.")
        if wait > 0:
            self.stats.waited_s += wait
            self.sleep(wait)

    def _backoff(self, wait_s: float, reason: str, request: PageRequest) -> None:
        if self.deadline is not None and time.monotonic() + wait_s + self.config.timeout_s > self.deadline:
            # Another attempt could outlive the caller's time budget: hand the page back
            # (the task is retried later) instead of being killed mid-request.
            raise VendorUnavailable(f"{self.connector.title}: out of time budget after {reason}.")
        self.stats.retries += 1
        self.stats.waited_s += wait_s
        log.info(
            "vendor retry",
            extra={"vendor": self.connector.vendor, "path": request.path, "reason": reason, "wait_s": round(wait_s, 2)},
        )
        self.sleep(wait_s)

    def _error(self, response: httpx.Response, server_wait: float | None) -> Exception:
        status = response.status_code
        title = self.connector.title
        details: dict[str, Any] = {"vendor_status": status, "vendor_error": _error_text(response)}
        daily = self.connector.rate_limit.daily
        reported = daily.read(response.headers) if daily is not None else None
        if status == 429 and reported is not None and reported[1] <= 0:
            # spent by others too (the budget is the company's): wait for the reset, do not fail
            now = time.time()
            until = now + server_wait if server_wait else next_utc_midnight(now)
            return AllowanceSpent(until, until - now, message=f"{title}: today's allowance is spent.")
        if status == 429:
            return VendorRateLimited(server_wait or 1.0, message=f"{title} rate limit is spent.")
        if status >= 500 or status in self.connector.retry.retry_statuses:
            return VendorUnavailable(f"{title} answered {status}.", details=details)
        if status in (401, 403):
            return VendorAuthFailed(f"{title} refused our credentials ({status}).", details=details)
        if status == 404:
            return VendorNotFound(details=details)
        if status == 409:
            return VendorConflict(details=details)
        return VendorRejected(f"{title} rejected the request ({status}).", details=details)
