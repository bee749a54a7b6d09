"""A read-only window onto Intercom for admins: GET only, allow-listed paths only.

What it forwards: the method GET, an allow-listed path (each id segment a plain token, so
no '..', no encoded slash, no other resource), and the caller's query parameters. What it
never forwards: the caller's headers (their Authorization above all); the request to
Intercom carries only our own credentials, set here.

What it returns: Intercom's JSON body and status for 2xx and 404, under our own headers
only (no vendor header is copied, so none can echo a credential), with any occurrence of
our access token in the body redacted. Every other answer becomes one of our errors.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from shared.errors import Forbidden
from shared.vendors.errors import (
    VendorAuthFailed,
    VendorRateLimited,
    VendorRejected,
    VendorUnavailable,
)

#: Intercom action words that sit where an id would (POST /contacts/search, /contacts/merge ...)
RESERVED = ("search", "scroll", "list", "merge", "find", "archive", "unarchive", "attach", "detach", "me")
_ID = r"(?!(?:" + "|".join(RESERVED) + r")$)[A-Za-z0-9_-]{1,128}"
#: path pattern (documentation) -> regex; everything else is 403 path_not_allowed
ALLOWED_PATHS: dict[str, re.Pattern[str]] = {
    template: re.compile("^" + template.replace("{id}", _ID) + "$")
    for template in (
        "/contacts/{id}",
        "/companies/{id}",
        "/conversations/{id}",
        "/admins",
        "/admins/{id}",
        "/tags",
        "/teams",
        "/data_attributes",
    )
}
#: matches any path inside the function, so the allow-list (not the router) decides
CATCH_ALL = re.compile(r"^(?P<path>.*)$")
REDACTED = "[redacted]"
MAX_QUERY_PARAMS = 20
MAX_INLINE_WAIT_S = 10.0
MAX_BODY_BYTES = 5_000_000


def allowed(path: str) -> str:
    """The path to forward, or 403 path_not_allowed."""
    normalized = "/" + path.strip("/") if path else ""
    if any(p.match(normalized) for p in ALLOWED_PATHS.values()):
        return normalized
    raise Forbidden(
        "This Intercom path is not available through the proxy.",
        code="path_not_allowed",
        details={"allowed": sorted(ALLOWED_PATHS)},
    )


def query_params(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if len(items) > MAX_QUERY_PARAMS:
        raise Forbidden("Too many query parameters for the proxy.", code="query_not_allowed")
    return items


def redact(body: Any, secret: str | None) -> Any:
    """The body with every occurrence of `secret` in its strings (and keys) replaced."""
    if not secret:
        return body
    text = json.dumps(body)
    if secret not in text:
        return body
    return json.loads(text.replace(secret, REDACTED))


def _error(status: int, retry_after: float | None) -> Exception:
    details = {"vendor_status": status}
    if status == 429:
        return VendorRateLimited(retry_after or 1.0, message="Intercom rate limit is spent.")
    if status >= 500:
        return VendorUnavailable(f"Intercom answered {status}.", details=details)
    if status in (401, 403):
        return VendorAuthFailed(f"Intercom refused our credentials ({status}).", details=details)
    return VendorRejected(f"Intercom rejected the request ({status}).", details=details)


def forward(path: str, params: list[tuple[str, str]]) -> tuple[int, Any]:
    """GET `path` from Intercom with our credentials: (status, JSON body) for 2xx and 404."""
    import httpx

    from shared.intercom_api.live import settings as intercom_settings
    from shared.vendors.intercom.connector import CONNECTOR
    from shared.vendors.retry import decide, parse_retry_after

    settings = intercom_settings()
    secret = settings.access_token.get_secret_value() if settings.access_token else None
    headers = {
        "Accept": "application/json",
        "User-Agent": "tributary-proxy/0.1",
        **CONNECTOR.default_headers,
        **CONNECTOR.auth_headers(settings),
    }
    policy = CONNECTOR.retry
    timeout = httpx.Timeout(settings.timeout_s, connect=10.0)
    with httpx.Client(base_url=settings.base_url.rstrip("/"), headers=headers, timeout=timeout) as http:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = http.get(path, params=params)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                decision = decide(policy, attempt, network_error=True)
                if not decision.retry or decision.wait_s > MAX_INLINE_WAIT_S:
                    raise VendorUnavailable(f"Intercom did not answer: {type(exc).__name__}.") from None
                time.sleep(decision.wait_s)
                continue
            status = response.status_code
            if 200 <= status < 300 or status == 404:
                if len(response.content) > MAX_BODY_BYTES:
                    raise VendorRejected("Intercom's answer is too large for the proxy.", details={"vendor_status": status})
                try:
                    body = response.json() if response.content else None
                except ValueError:
                    raise VendorUnavailable("Intercom sent a body that is not JSON.") from None
                return status, redact(body, secret)
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            decision = decide(policy, attempt, status=status, server_wait_s=retry_after)
            if decision.retry and decision.wait_s <= MAX_INLINE_WAIT_S:
                time.sleep(decision.wait_s)
                continue
            raise _error(status, retry_after)
