"""The /_sandbox/* control endpoints every sandbox has: no auth, no rate limit, no faults,
not the vendor's API.

    GET  /_sandbox/stats        request counters, faults, rate limit, the sandbox clock
    GET  /_sandbox/faults       POST to change error_rate, error_status, drop_rate, latency_ms
    GET  /_sandbox/rate_limit   POST to change per_minute, window_seconds (starts a new window)
    POST /_sandbox/reset        the vendor regenerates its records (its Vendor.reset); counters
                                and the rate-limit window start afresh
    GET  /_sandbox/counts       the vendor's record counts (its Vendor.counts)
    GET  /_sandbox/oauth        with an OAuth server mounted: its token-call counts; POST
                                {"deny_next_authorize": true} or {"revoke_all": true}

Tests and benchmarks use them to set up a scenario and to read what happened.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from devtools.sandboxes.kit.params import control_body, int_fields
from devtools.sandboxes.kit.ratelimit import RateLimitConfig
from devtools.sandboxes.kit.responses import ApiError

if TYPE_CHECKING:
    from devtools.sandboxes.kit.app import SandboxApp


def rate_limit_state(config: RateLimitConfig) -> dict[str, Any]:
    return {**asdict(config), "per_window": config.per_window}


def stats(app: SandboxApp[Any], request: Request) -> dict[str, Any]:
    return {**app.stats.snapshot(), "faults": asdict(app.faults.config),
            "rate_limit": rate_limit_state(app.limiter.config), "clock": app.now()}


def faults(app: SandboxApp[Any], request: Request) -> dict[str, Any]:
    if request.method == "POST":
        try:
            app.faults.configure(app.faults.config.update(control_body(request)))
        except (ValueError, TypeError) as exc:
            raise ApiError(400, "parameter_invalid", str(exc)) from exc
    return asdict(app.faults.config)


def rate_limit(app: SandboxApp[Any], request: Request) -> dict[str, Any]:
    if request.method == "POST":
        body = int_fields(control_body(request), ("per_minute", "window_seconds"))
        new = replace(app.limiter.config, **body)
        if new.per_minute < 1 or new.window_seconds < 1:
            raise ApiError(400, "parameter_invalid", "per_minute and window_seconds must be positive")
        app.limiter.configure(new)
    return rate_limit_state(app.limiter.config)


def reset(app: SandboxApp[Any], request: Request) -> dict[str, Any]:
    """Regenerate (the vendor decides which settings the body may change)."""
    result = app.vendor.reset(app.store, control_body(request))
    app.stats.reset()
    app.limiter.configure(app.limiter.config)
    return result


def counts(app: SandboxApp[Any], request: Request) -> dict[str, Any]:
    return app.vendor.counts(app.store)


def oauth(app: SandboxApp[Any], request: Request) -> dict[str, Any]:
    """The mounted OAuth server: GET its counters; POST to refuse the next consent or to
    revoke every grant (an admin uninstalled the app)."""
    server = app.oauth
    if server is None:  # mounted only with a server, but a test may detach it
        raise ApiError(404, "not_found", "no OAuth server is mounted")
    if request.method == "POST":
        body = control_body(request)
        unknown = set(body) - {"deny_next_authorize", "revoke_all"}
        if unknown or not all(v is True for v in body.values()):
            raise ApiError(400, "parameter_invalid", "allowed: {\"deny_next_authorize\": true, \"revoke_all\": true}")
        if body.get("deny_next_authorize"):
            server.deny_next_authorize()
        if body.get("revoke_all"):
            server.revoke_all()
    return {"prefix": server.prefix, "access_token_ttl_s": server.access_token_ttl_s, "stats": dict(server.stats)}


ROUTES: tuple[tuple[str, str, Any], ...] = (
    ("GET", "/_sandbox/stats", stats),
    ("GET", "/_sandbox/faults", faults),
    ("POST", "/_sandbox/faults", faults),
    ("GET", "/_sandbox/rate_limit", rate_limit),
    ("POST", "/_sandbox/rate_limit", rate_limit),
    ("POST", "/_sandbox/reset", reset),
    ("GET", "/_sandbox/counts", counts),
)
OAUTH_ROUTES: tuple[tuple[str, str, Any], ...] = (
    ("GET", "/_sandbox/oauth", oauth),
    ("POST", "/_sandbox/oauth", oauth),
)
