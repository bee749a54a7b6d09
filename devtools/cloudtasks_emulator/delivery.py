"""One attempt: mint the OIDC token, send the HTTP request, classify the result.

Runs outside the emulator's lock (it blocks for up to the dispatch deadline)."""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field

import grpc
import httpx

from devtools.cloudtasks_emulator.throttle import retry_after_seconds

USER_AGENT = "Google-Cloud-Tasks"
# Headers Cloud Tasks owns: a task's own values for them are replaced, not forwarded.
_RESERVED = {"user-agent", "host", "content-length", "authorization"}


@dataclass(frozen=True)
class Request:
    """What one attempt sends, copied out of the task under the lock."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    deadline_s: float
    oidc_email: str | None = None
    oidc_audience: str | None = None


@dataclass(frozen=True)
class Outcome:
    """http_status is None when no response arrived (connection error, timeout, no token)."""

    http_status: int | None
    code: grpc.StatusCode
    message: str
    retry_after_s: float | None = None  # the response's Retry-After, in seconds from its arrival

    @property
    def ok(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300

    @property
    def retry_reason(self) -> str:
        return f"HTTP {self.http_status}" if self.http_status is not None else self.code.name


class MintError(RuntimeError):
    """The identity service would not give us a token."""


@dataclass
class OidcMinter:
    """Fetches OIDC tokens from the local identity service and reuses them until near expiry."""

    mint_url: str | None
    _cache: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def token(self, audience: str, email: str) -> str:
        key = (audience, email)
        with self._lock:
            cached = self._cache.get(key)
        if cached and cached[1] - 120 > time.time():
            return cached[0]
        if not self.mint_url:
            raise MintError("the emulator was started without --oidc-mint-url")
        try:
            response = httpx.post(self.mint_url, json={"audience": audience, "email": email}, timeout=10)
            response.raise_for_status()
            token = response.json()["token"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise MintError(f"could not mint an OIDC token at {self.mint_url}: {exc}") from exc
        with self._lock:
            self._cache[key] = (token, _expiry(token))
        return token


def _expiry(token: str) -> float:
    """The token's exp claim, read without verification (only to know when to re-mint)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return 0.0  # unknown: never reuse


def rpc_code(http_status: int) -> grpc.StatusCode:
    """The google.rpc code Cloud Tasks records in an attempt's response_status."""
    if 200 <= http_status < 300:
        return grpc.StatusCode.OK
    known = {
        400: grpc.StatusCode.INVALID_ARGUMENT,
        401: grpc.StatusCode.UNAUTHENTICATED,
        403: grpc.StatusCode.PERMISSION_DENIED,
        404: grpc.StatusCode.NOT_FOUND,
        409: grpc.StatusCode.ABORTED,
        429: grpc.StatusCode.RESOURCE_EXHAUSTED,
        499: grpc.StatusCode.CANCELLED,
        501: grpc.StatusCode.UNIMPLEMENTED,
        503: grpc.StatusCode.UNAVAILABLE,
        504: grpc.StatusCode.DEADLINE_EXCEEDED,
    }
    if http_status in known:
        return known[http_status]
    if 400 <= http_status < 500:
        return grpc.StatusCode.FAILED_PRECONDITION
    if 500 <= http_status < 600:
        return grpc.StatusCode.INTERNAL
    return grpc.StatusCode.UNKNOWN


class Sender:
    """Sends attempts over one pooled HTTP client (safe to share between threads)."""

    def __init__(self, minter: OidcMinter) -> None:
        self.minter = minter
        self._http = httpx.Client(
            follow_redirects=False, limits=httpx.Limits(max_connections=None, max_keepalive_connections=50)
        )

    def close(self) -> None:
        self._http.close()

    def send(self, request: Request, cloudtasks_headers: dict[str, str]) -> Outcome:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _RESERVED}
        headers.update(cloudtasks_headers)
        headers["User-Agent"] = USER_AGENT
        if request.body and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/octet-stream"
        if request.oidc_email:
            try:
                token = self.minter.token(request.oidc_audience or request.url, request.oidc_email)
            except MintError as exc:
                return Outcome(None, grpc.StatusCode.UNAVAILABLE, str(exc))
            headers["Authorization"] = f"Bearer {token}"
        started = time.monotonic()
        try:
            response = self._http.request(
                request.method,
                request.url,
                headers=headers,
                content=request.body or None,
                timeout=httpx.Timeout(request.deadline_s),
            )
        except httpx.TimeoutException:
            return Outcome(None, grpc.StatusCode.DEADLINE_EXCEEDED, "the dispatch deadline was exceeded")
        except httpx.HTTPError as exc:
            return Outcome(None, grpc.StatusCode.UNAVAILABLE, f"{type(exc).__name__}: {exc}")
        if time.monotonic() - started > request.deadline_s:
            # httpx times each phase; a handler that trickles its answer is still too late.
            return Outcome(None, grpc.StatusCode.DEADLINE_EXCEEDED, "the dispatch deadline was exceeded")
        status = response.status_code
        retry_after = retry_after_seconds(response.headers.get("Retry-After"), time.time())
        return Outcome(status, rpc_code(status), f"HTTP status code {status}", retry_after)
