"""The one HTTP client for vendor APIs: timeouts, retries with backoff, rate-limit pacing.

Retries 429, 5xx and network errors with capped exponential backoff and jitter, honours
Retry-After and the vendor's rate-limit reset, and slows down when the remaining budget
runs low. Credentials go in headers only and are never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.vendors.connector import Connector, VendorSettings
from shared.vendors.errors import (
    VendorAuthFailed,
    VendorConflict,
    VendorNotFound,
    VendorRateLimited,
    VendorRejected,
    VendorUnavailable,
)
from shared.vendors.pagination import PageRequest
from shared.vendors.ratelimit import pacing_delay_s, read_state
from shared.vendors.retry import decide, parse_retry_after

log = logging.getLogger("tributary.vendors.http")


@dataclass
class CallStats:
    """What a client did, for run records and benchmarks."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    network_errors: int = 0
    waited_s: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


def build_http(connector: Connector, settings: VendorSettings, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """A pooled HTTP client carrying the connector's headers; build it once per process
    (creating one loads the CA bundle and opens new connections)."""
    headers = {
        "Accept": "application/json",
        "User-Agent": "tributary-sync/0.1",
        **connector.default_headers,
        **connector.auth_headers(settings),
    }
    return httpx.Client(
        base_url=settings.base_url.rstrip("/"),
        headers=headers,
        timeout=httpx.Timeout(settings.timeout_s, connect=10.0),
        transport=transport,
    )


@dataclass
class VendorClient:
    connector: Connector
    settings: VendorSettings
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    stats: CallStats = field(default_factory=CallStats)
    #: time.monotonic() by which fetch must have answered or handed back (a task's budget)
    deadline: float | None = None
    #: a shared pooled client (see build_http); None builds one this client owns
    http: httpx.Client | None = None

    def __post_init__(self) -> None:
        self._owns_http = self.http is None
        self._http = self.http or build_http(self.connector, self.settings, self.transport)
        self._pace_until = 0.0

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> VendorClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, request: PageRequest) -> dict[str, Any]:
        """Send the request and return its JSON body, retrying what a retry can fix."""
        policy = self.connector.retry
        attempt = 0
        while True:
            attempt += 1
            self._wait_for_pace()
            self.stats.requests += 1
            try:
                response = self._http.request(
                    request.method, request.path, params=request.params or None, json=request.json_body
                )
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                self.stats.network_errors += 1
                decision = decide(policy, attempt, network_error=True)
                if not decision.retry:
                    raise VendorUnavailable(f"{self.connector.title} did not answer: {type(exc).__name__}.") from exc
                self._backoff(decision.wait_s, decision.reason, request)
                continue
            server_wait = self._observe_rate_limit(response)
            if response.status_code < 400:
                return self._json(response)
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
            body = response.json()
        except ValueError as exc:
            raise VendorUnavailable(f"{self.connector.title} sent a body that is not JSON.") from exc
        return body if isinstance(body, dict) else {"data": body}

    def _observe_rate_limit(self, response: httpx.Response) -> float | None:
        """Remember how long to pace; return the wait the vendor asked for, if any."""
        spec = self.connector.rate_limit.headers
        state = read_state(response.headers, spec)
        delay = pacing_delay_s(state, self.connector.rate_limit)
        if delay > 0:
            self._pace_until = max(self._pace_until, time.monotonic() + delay)
        retry_after = parse_retry_after(response.headers.get(spec.retry_after))
        if response.status_code == 429:
            return retry_after if retry_after is not None else state.reset_in_s
        return retry_after

    def _wait_for_pace(self) -> None:
        wait = self._pace_until - time.monotonic()
        if wait > 0:
            self.stats.waited_s += wait
            self.sleep(wait)

    def _backoff(self, wait_s: float, reason: str, request: PageRequest) -> None:
        if self.deadline is not None and time.monotonic() + wait_s + self.settings.timeout_s > self.deadline:
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
        details = {"vendor_status": status}
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
