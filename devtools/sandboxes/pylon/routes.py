"""Pylon's routes, its per-endpoint limits and its Dialect: everything the kit does not do.

Each endpoint has its own budget per minute, as Pylon's API reference states them (GET
/issues 10, POST /issues/search 20, GET /issues/{id}/messages 20, lists 60), on top of the
kit's organization-wide window; `limit_scale` multiplies them (tests and benchmarks run
the same rules faster). A refusal is a 429 with Retry-After and the endpoint's
X-RateLimit-* headers."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from werkzeug.wrappers import Request

from devtools.sandboxes.kit.app import Vendor
from devtools.sandboxes.kit.dialect import Dialect
from devtools.sandboxes.kit.paging import CursorError, Ordered, keyset_page
from devtools.sandboxes.kit.params import control_body, int_arg, int_fields, json_body
from devtools.sandboxes.kit.ratelimit import RateDecision, RateHeaders, RateLimitConfig, RateLimiter
from devtools.sandboxes.kit.responses import ApiError
from devtools.sandboxes.pylon import records, render
from devtools.sandboxes.pylon.records import Issue, Store

MAX_WINDOW_S = 30 * 86_400
MAX_LIMIT = 1000
#: Pylon's per-minute budgets by endpoint
ENDPOINT_LIMITS = {"issues": 10, "search": 20, "messages": 20, "accounts": 60, "users": 60, "teams": 60}
HEADERS = RateHeaders(retry_after=True)


class Limits:
    """One fixed one-minute window per endpoint."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self.limiters = {name: RateLimiter(RateLimitConfig(per_minute=max(1, int(n * scale)), window_seconds=60))
                         for name, n in ENDPOINT_LIMITS.items()}
        self.refused: dict[str, int] = dict.fromkeys(ENDPOINT_LIMITS, 0)

    def take(self, endpoint: str) -> None:
        decision = self.limiters[endpoint].take()
        if not decision.allowed:
            self.refused[endpoint] += 1
            raise ApiError(429, "rate_limited", f"Rate limit exceeded for this endpoint ({decision.limit} per minute).",
                           headers=HEADERS.render(decision))


def _request_id(request: Request) -> str:
    return hashlib.sha256(f"{request.path}?{request.query_string!r}".encode()).hexdigest()[:16]


def _time(value: Any, name: str) -> int:
    if not isinstance(value, str) or not value:
        raise ApiError(400, "invalid_request", f"{name} is required (RFC3339)")
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        raise ApiError(400, "invalid_request", f"{name} must be an RFC3339 time, got {value!r}") from None


def _page(issues: list[Issue], limit: int, cursor: str | None, request: Request) -> dict[str, Any]:
    if not 0 < limit <= MAX_LIMIT:
        raise ApiError(400, "invalid_request", f"limit must be between 1 and {MAX_LIMIT}")
    try:
        page = keyset_page(Ordered.of(issues, key=lambda i: (i.created_at, i.id)), limit, cursor or None, param="cursor")
    except CursorError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from exc
    return render.page([render.issue(i) for i in page.items], page.next_cursor, _request_id(request))


def list_issues(store: Store, request: Request) -> dict[str, Any]:
    store.limits.take("issues")
    start = _time(request.args.get("start_time"), "start_time")
    end = _time(request.args.get("end_time"), "end_time")
    if end <= start:
        raise ApiError(400, "invalid_request", "end_time must be after start_time")
    if end - start > MAX_WINDOW_S:
        raise ApiError(400, "invalid_request",
                       "The duration between start_time and end_time must be less than or equal to 30 days.")
    chosen = [i for i in store.issues if start <= i.created_at < end]
    return _page(chosen, int_arg(request, "limit", 100), request.args.get("cursor"), request)


def search_issues(store: Store, request: Request) -> dict[str, Any]:
    """A single filter on created_at or updated_at: time_is_after, time_is_before, or
    time_range (`values`: [start, end]). A filter on updated_at must be a time_range of at
    most 30 days (Pylon caps it as it caps GET /issues)."""
    store.limits.take("search")
    body = json_body(request)
    spec = body.get("filter") or {}
    field, operator = spec.get("field"), spec.get("operator")
    if field not in ("created_at", "updated_at"):
        raise ApiError(400, "invalid_request", f"unsupported filter field {field!r}")
    attr = "created_at" if field == "created_at" else "updated_at"
    if field == "updated_at" and operator != "time_range":
        raise ApiError(400, "invalid_request", "updated_at takes a time_range of at most 30 days")
    if operator == "time_is_after":
        after = _time(spec.get("value"), "filter.value")
        chosen = [i for i in store.issues if getattr(i, attr) > after]
    elif operator == "time_is_before":
        before = _time(spec.get("value"), "filter.value")
        chosen = [i for i in store.issues if getattr(i, attr) < before]
    elif operator == "time_range":
        values = spec.get("values") or []
        if len(values) != 2:
            raise ApiError(400, "invalid_request", "time_range takes values [start, end]")
        low, high = _time(values[0], "filter.values[0]"), _time(values[1], "filter.values[1]")
        if field == "updated_at" and high - low > MAX_WINDOW_S:
            raise ApiError(400, "invalid_request",
                           "The duration between the start and end of the time range must be less than or equal to 30 days.")
        chosen = [i for i in store.issues if low <= getattr(i, attr) < high]
    else:
        raise ApiError(400, "invalid_request", f"unsupported operator {operator!r}")
    limit = body.get("limit", 100)
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise ApiError(400, "invalid_request", "limit must be an integer")
    return _page(chosen, limit, body.get("cursor"), request)


def issue_messages(store: Store, request: Request, issue_id: str) -> dict[str, Any]:
    store.limits.take("messages")
    found = store.by_id.get(issue_id)
    if found is None:
        raise ApiError(404, "not_found", f"issue {issue_id} not found")
    return render.page([render.message(m) for m in found.messages], None, _request_id(request))


def _listing(name: str) -> Any:
    def handler(store: Store, request: Request) -> dict[str, Any]:
        store.limits.take(name)
        items = getattr(store, name)
        try:
            page = keyset_page(Ordered.of(items, key=lambda r: (r["id"],)), min(int_arg(request, "limit", 100), 999),
                               request.args.get("cursor") or None, param="cursor")
        except CursorError as exc:
            raise ApiError(400, "invalid_request", str(exc)) from exc
        return render.page(list(page.items), page.next_cursor, _request_id(request))

    return handler


def mutate(app: Any, request: Request) -> dict[str, Any]:
    """POST /_sandbox/mutate {"issues_updated": n}: the n oldest issues get a customer
    message and reopen (what a creation-time listing cannot see)."""
    body = int_fields(control_body(request), ("issues_updated",))
    return {"issues_updated": app.store.touch(body.get("issues_updated", 0)), "now": app.store.clock.now()}


def endpoint_limits(app: Any, request: Request) -> dict[str, Any]:
    """GET /_sandbox/endpoint_limits: each endpoint's budget and its 429s so far."""
    limits: Limits = app.store.limits
    return {"scale": limits.scale, "per_minute": {k: v.config.per_minute for k, v in limits.limiters.items()},
            "refused": dict(limits.refused)}


class PylonDialect(Dialect):
    rate_headers = RateHeaders(retry_after=True)

    def error_body(self, status: int, code: str, message: str) -> Any:
        return render.error(message, code)

    def unauthorized(self, request: Request) -> tuple[str, str]:
        return "unauthorized", "Invalid or missing API token."

    def rate_limited(self, decision: RateDecision) -> tuple[str, str]:
        return "rate_limited", f"Rate limit exceeded ({decision.limit} requests per window)."


PYLON: Vendor[Store] = Vendor(
    name="pylon",
    routes=(
        ("GET", "/issues", list_issues),
        ("POST", "/issues/search", search_issues),
        ("GET", "/issues/<issue_id>/messages", issue_messages),
        ("GET", "/accounts", _listing("accounts")),
        ("GET", "/users", _listing("users")),
        ("GET", "/teams", _listing("teams")),
    ),
    counts=records.counts,
    reset=records.reset,
    now=lambda store: store.clock.now(),
    dialect=PylonDialect(),
    controls=(("POST", "/_sandbox/mutate", mutate), ("GET", "/_sandbox/endpoint_limits", endpoint_limits)),
)
