"""How a vendor words the answers the kit gives by itself.

The kit refuses requests before any handler runs (401, 429, injected 5xx, unknown paths)
and renders every ApiError a handler raises. Vendors disagree on all of it: the error body
(Intercom's error.list, HubSpot's {"status": "error", "category": ...}), the codes and
messages, the rate-limit header names. A vendor subclasses Dialect and overrides what
differs; the defaults are a plain, reasonable API.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from devtools.sandboxes.kit.ratelimit import RateDecision, RateHeaders

#: the code each injectable status is reported with, unless a vendor says otherwise
STATUS_CODES = {500: "server_error", 502: "bad_gateway", 503: "service_unavailable", 504: "gateway_timeout"}


class Dialect:
    #: the headers reporting the rate-limit window (on every counted answer, 429s included)
    rate_headers: RateHeaders = RateHeaders()

    def rate_headers_for(self, request: Request, decision: RateDecision) -> dict[str, str]:
        """The rate-limit headers of this answer (a vendor may leave some endpoints' out)."""
        return self.rate_headers.render(decision)

    def error_body(self, status: int, code: str, message: str) -> Any:
        """The JSON body of every refusal, the kit's and the handlers' ApiErrors alike."""
        return {"error": {"status": status, "code": code, "message": message}}

    def unauthorized(self, request: Request) -> tuple[str, str]:
        """(code, message) of the 401 for missing or wrong credentials."""
        return "unauthorized", "missing or invalid credentials"

    def rate_limited(self, decision: RateDecision) -> tuple[str, str]:
        """(code, message) of the 429 once a window's budget is spent."""
        return "rate_limited", f"rate limit of {decision.limit} per {decision.window_seconds} s exceeded"

    def injected(self, status: int) -> tuple[str, str]:
        """(code, message) of an injected 5xx."""
        return STATUS_CODES.get(status, "server_error"), "injected by the sandbox"

    def unknown_route(self, request: Request, status: int) -> tuple[str, str]:
        """(code, message) of a 404 (no such path) or 405 (path exists, method does not)."""
        return "not_found", f"no route {request.method} {request.path}"

    def check(self, request: Request) -> None:
        """Vendor-wide rules on an authorized, counted request before routing (a version
        header, a required content type): raise ApiError to refuse."""
        return None
