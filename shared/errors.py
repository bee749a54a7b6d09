"""The one error model: every failure a caller can see is a TributaryError subclass.

Each type carries an HTTP status and a stable machine-readable code; the API layer turns
them into {"error": {"code", "message", "details", "request_id"}}. Anything else that escapes
a handler becomes a 500 "internal" whose body never contains the exception text.

    TributaryError (500 internal)
    ├── BadRequest (400 bad_request)
    │   ├── MalformedJson (400 malformed_json)
    │   ├── ValidationFailed (400 validation_failed)
    │   └── InvalidHeader (400 invalid_header)
    ├── Unauthenticated (401 unauthenticated; codes token_missing, token_malformed, ...)
    ├── Forbidden (403 forbidden; codes domain_not_allowed, email_not_verified, role_required)
    ├── NotFound (404 not_found)
    ├── MethodNotAllowed (405 method_not_allowed)
    ├── Conflict (409 conflict; codes sync_in_progress, version_conflict, ...)
    ├── PreconditionRequired (428 precondition_required: a write needs If-Match)
    ├── PayloadTooLarge (413 payload_too_large)
    ├── UnsupportedMediaType (415 unsupported_media_type)
    ├── Unprocessable (422 unprocessable; codes idempotency_key_reused, vendor_refused_change)
    ├── RateLimited (429 rate_limited)
    ├── UpstreamError (502 upstream_error: a vendor failed after our retries)
    ├── ServiceUnavailable (503 unavailable)
    ├── Misconfigured (500 misconfigured: the process must not serve as configured)
    └── HttpProtocolError (werkzeug's status: an HTTP-level refusal raised by the framework)
"""

from __future__ import annotations

from typing import Any, ClassVar


class TributaryError(Exception):
    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal"
    default_message: ClassVar[str] = "Internal error."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.code = code or self.default_code
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(TributaryError):
    status = 400
    default_code = "bad_request"
    default_message = "The request is not valid."


class MalformedJson(BadRequest):
    default_code = "malformed_json"
    default_message = "The request body is not valid JSON."


class ValidationFailed(BadRequest):
    default_code = "validation_failed"
    default_message = "The request did not pass validation."


class InvalidHeader(BadRequest):
    default_code = "invalid_header"
    default_message = "A request header is not valid."


class Unauthenticated(TributaryError):
    status = 401
    default_code = "unauthenticated"
    default_message = "A valid bearer token is required."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="tributary"'})
        super().__init__(message, **kwargs)


class Forbidden(TributaryError):
    status = 403
    default_code = "forbidden"
    default_message = "You may not do this."


class NotFound(TributaryError):
    status = 404
    default_code = "not_found"
    default_message = "No such resource."


class MethodNotAllowed(TributaryError):
    status = 405
    default_code = "method_not_allowed"
    default_message = "This method is not allowed here."


class Conflict(TributaryError):
    status = 409
    default_code = "conflict"
    default_message = "The resource changed or is busy."


class PreconditionRequired(TributaryError):
    status = 428
    default_code = "precondition_required"
    default_message = "This change needs the version it is based on (If-Match)."


class PayloadTooLarge(TributaryError):
    status = 413
    default_code = "payload_too_large"
    default_message = "The request body is too large."


class UnsupportedMediaType(TributaryError):
    status = 415
    default_code = "unsupported_media_type"
    default_message = "The request body must be application/json."


class Unprocessable(TributaryError):
    """Well-formed, but refused for what it asks (a vendor refusing a change: its reason)."""

    status = 422
    default_code = "unprocessable"
    default_message = "The request cannot be carried out as asked."


class RateLimited(TributaryError):
    status = 429
    default_code = "rate_limited"
    default_message = "Too many requests; retry later."


class UpstreamError(TributaryError):
    status = 502
    default_code = "upstream_error"
    default_message = "A vendor API failed."


class ServiceUnavailable(TributaryError):
    status = 503
    default_code = "unavailable"
    default_message = "A dependency is unavailable; retry later."


class Misconfigured(TributaryError):
    """The process is configured in a way that would make it unsafe to answer (a 500, on purpose)."""

    status = 500
    default_code = "misconfigured"
    default_message = "The service is misconfigured."


class HttpProtocolError(TributaryError):
    """An HTTP-level refusal werkzeug or Flask raised before or around our code (408, 431 ...).

    Its status is werkzeug's, so it is set per instance; the code is werkzeug's name in
    snake_case (request_timeout, request_header_fields_too_large), stable across versions.
    """

    default_code = "http_error"
    default_message = "The HTTP request was refused."

    def __init__(self, status: int, message: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status  # type: ignore[misc]
