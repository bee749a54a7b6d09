"""How Intercom words refusals: the error.list body, its 401/429/5xx/404 codes and messages,
X-RateLimit-* headers (window end in unix seconds, no Retry-After), and the Intercom-Version
header check every API path makes."""

from __future__ import annotations

import uuid
from typing import Any

from werkzeug.wrappers import Request

from devtools.sandboxes.kit.dialect import STATUS_CODES, Dialect
from devtools.sandboxes.kit.ratelimit import RateDecision
from devtools.sandboxes.kit.responses import ApiError

KNOWN_VERSIONS = frozenset(
    ["1.0", "1.1", "1.2", "1.3", "1.4"] + [f"2.{i}" for i in range(15)] + ["Unstable"]
)


def error_body(code: str, message: str) -> dict[str, Any]:
    """Intercom's error.list: {"type": "error.list", "request_id": ..., "errors": [{code, message}]}."""
    return {"type": "error.list", "request_id": str(uuid.uuid4()), "errors": [{"code": code, "message": message}]}


class IntercomDialect(Dialect):
    def error_body(self, status: int, code: str, message: str) -> Any:
        return error_body(code, message)

    def unauthorized(self, request: Request) -> tuple[str, str]:
        return "unauthorized", "Access Token Invalid"

    def rate_limited(self, decision: RateDecision) -> tuple[str, str]:
        return "rate_limit_exceeded", f"Exceeded rate limit of {decision.limit} in {decision.window_seconds}_seconds"

    def injected(self, status: int) -> tuple[str, str]:
        return STATUS_CODES[status], "Injected by the Intercom sandbox"

    def unknown_route(self, request: Request, status: int) -> tuple[str, str]:
        return "not_found", "Resource Not Found"

    def check(self, request: Request) -> None:
        version = request.headers.get("Intercom-Version")
        if version is not None and version not in KNOWN_VERSIONS:
            raise ApiError(400, "intercom_version_invalid", f"Requested version {version} does not exist")
