"""Vendor failures, marked transient (a retry can help) or terminal (it cannot).

They are TributaryErrors so the API layer can answer with them directly when a live call
fails; the sync worker reads `transient` to decide whether Cloud Tasks should retry.
"""

from __future__ import annotations

from typing import Any

from shared.errors import NotFound, RateLimited, ServiceUnavailable, UpstreamError


class VendorError(UpstreamError):
    transient = False
    default_code = "vendor_error"


class VendorUnavailable(VendorError):
    """5xx, timeout or dropped connection, still failing after our retries."""

    status = 503
    transient = True
    default_code = "vendor_unavailable"
    default_message = "The vendor API is unavailable; retry later."


class VendorRateLimited(VendorError):
    status = RateLimited.status
    transient = True
    default_code = "vendor_rate_limited"
    default_message = "The vendor's rate limit is spent; retry later."

    def __init__(self, retry_after_s: float, **kwargs: Any) -> None:
        self.retry_after_s = retry_after_s
        kwargs.setdefault("headers", {"Retry-After": str(max(1, round(retry_after_s)))})
        kwargs.setdefault("details", {"retry_after_s": round(retry_after_s, 1)})
        super().__init__(**kwargs)


class AllowanceSpent(VendorRateLimited):
    """The vendor's daily allowance is spent down to its reserve (booked ahead, so the call
    was never sent): a sync's work waits until `until` (unix s, the reset), it does not fail."""

    default_code = "vendor_allowance_spent"
    default_message = "The vendor's daily allowance is spent until its reset; the work resumes then."

    def __init__(self, until: float, wait_s: float, **kwargs: Any) -> None:
        self.until = until
        super().__init__(wait_s, **kwargs)


class VendorRejected(VendorError):
    """A 4xx the vendor will repeat: our request or configuration is wrong."""

    default_code = "vendor_rejected"
    default_message = "The vendor rejected the request."


class VendorAuthFailed(VendorRejected):
    default_code = "vendor_auth_failed"
    default_message = "The vendor refused our credentials."


class VendorNotFound(VendorRejected):
    status = NotFound.status
    default_code = "not_found"
    default_message = "The vendor has no such record."


class VendorConflict(VendorRejected):
    status = 409
    default_code = "vendor_conflict"
    default_message = "The vendor reports a conflicting change."


__all__ = [
    "ServiceUnavailable",
    "VendorAuthFailed",
    "VendorConflict",
    "VendorError",
    "VendorNotFound",
    "VendorRateLimited",
    "VendorRejected",
    "VendorUnavailable",
]
