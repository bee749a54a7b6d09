"""/_sandbox/* control endpoints: no auth, no rate limit, no faults, not Intercom's API.

They let tests and benchmarks read counters, change faults and the rate limit at
runtime, make deterministic changes to the data, and regenerate it.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from devtools.sandboxes.intercom.config import RateLimitConfig
from devtools.sandboxes.intercom.responses import ApiError

if TYPE_CHECKING:
    from devtools.sandboxes.intercom.app import SandboxApp

MUTATE_KEYS = ("contacts_updated", "contacts_created", "contacts_deleted", "conversations_updated",
               "conversations_created", "companies_updated")
RESET_KEYS = ("contacts", "companies", "admins", "conversations", "seed", "epoch")


def _body(request: Request) -> dict[str, Any]:
    if not request.get_data():
        return {}
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "body must be a JSON object")
    return body


def _ints(body: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, int]:
    unknown = set(body) - set(allowed)
    if unknown:
        raise ApiError(400, "parameter_invalid", f"unknown keys {sorted(unknown)}; allowed: {list(allowed)}")
    for key, value in body.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ApiError(400, "parameter_invalid", f"{key} must be a non-negative integer")
    return dict(body)


def stats(app: SandboxApp, request: Request) -> dict[str, Any]:
    return {**app.stats.snapshot(), "faults": asdict(app.faults.config),
            "rate_limit": {**asdict(app.limiter.config), "per_window": app.limiter.config.per_window},
            "clock": app.store.clock.now()}


def faults(app: SandboxApp, request: Request) -> dict[str, Any]:
    if request.method == "POST":
        try:
            app.faults.configure(app.faults.config.update(_body(request)))
        except (ValueError, TypeError) as exc:
            raise ApiError(400, "parameter_invalid", str(exc)) from exc
    return asdict(app.faults.config)


def rate_limit(app: SandboxApp, request: Request) -> dict[str, Any]:
    if request.method == "POST":
        body = _ints(_body(request), ("per_minute", "window_seconds"))
        new = replace(app.limiter.config, **body)
        if new.per_minute < 1 or new.window_seconds < 1:
            raise ApiError(400, "parameter_invalid", "per_minute and window_seconds must be positive")
        app.limiter.configure(new)
    config: RateLimitConfig = app.limiter.config
    return {**asdict(config), "per_window": config.per_window}


def mutate(app: SandboxApp, request: Request) -> dict[str, Any]:
    from devtools.sandboxes.intercom.webhooks import notify_mutation

    changes = app.store.mutate(_ints(_body(request), MUTATE_KEYS))
    notify_mutation(app, changes)  # Intercom's notifications of them, when a target is configured
    return changes


def reset(app: SandboxApp, request: Request) -> dict[str, Any]:
    """Regenerate (optionally with new sizes/seed); clears stats and the rate-limit window."""
    data = replace(app.store.config, **_ints(_body(request), RESET_KEYS))
    try:
        app.store.reset(data)
    except ValueError as exc:
        raise ApiError(400, "parameter_invalid", str(exc)) from exc
    app.stats.reset()
    app.limiter.configure(app.limiter.config)
    return {"counts": app.store.counts(), "data": asdict(data)}


def counts(app: SandboxApp, request: Request) -> dict[str, Any]:
    """Record counts; companies_listed is what GET /companies can show (those with users)."""
    return {**app.store.counts(), "companies_listed": len(app.store.companies_listed()),
            "max_updated_at": app.store.max_updated_at(), "clock": app.store.clock.now()}


def scroll(app: SandboxApp, request: Request) -> dict[str, Any]:
    """GET: the open company scroll, if any. DELETE: drop it (as if it had expired)."""
    if request.method == "DELETE":
        return {"closed": app.store.scrolls.close()}
    return app.store.scrolls.state()


ROUTES: tuple[tuple[str, str, Any], ...] = (
    ("GET", "/_sandbox/stats", stats),
    ("GET", "/_sandbox/faults", faults),
    ("POST", "/_sandbox/faults", faults),
    ("GET", "/_sandbox/rate_limit", rate_limit),
    ("POST", "/_sandbox/rate_limit", rate_limit),
    ("POST", "/_sandbox/mutate", mutate),
    ("POST", "/_sandbox/reset", reset),
    ("GET", "/_sandbox/counts", counts),
    ("GET", "/_sandbox/scroll", scroll),
    ("DELETE", "/_sandbox/scroll", scroll),
)
