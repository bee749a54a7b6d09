"""The sandbox HubSpot's routes, limits and Dialect.

    GET  /crm/v3/objects/{type}                   list: limit <= 100, after, properties, archived
    GET  /crm/v3/objects/{type}/{id}              one object (404 when archived or unknown)
    POST /crm/v3/objects/{type}/search            filterGroups (OR of ANDed filters: EQ, NEQ, GT,
                                                  GTE, LT, LTE), sorts, properties, limit <= 200,
                                                  after; `total` is every match, but paging past
                                                  10,000 results is a 400, as HubSpot does
    GET  /crm/v4/objects/{type}/{id}/associations/{to}   limit <= 500, after

Limits: the app's window (100 per 10 s by default, the kit's limiter) and search's own
4 per second; both answer 429 with HubSpot's body and headers (X-HubSpot-RateLimit-Max,
-Remaining, -Interval-Milliseconds, -Daily, -Daily-Remaining).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from werkzeug.wrappers import Request

from devtools.sandboxes.hubspot import records
from devtools.sandboxes.hubspot.records import TYPES, Record, Store
from devtools.sandboxes.kit.app import Vendor
from devtools.sandboxes.kit.dialect import Dialect
from devtools.sandboxes.kit.params import int_arg, json_body
from devtools.sandboxes.kit.ratelimit import RateDecision, RateHeaders, RateLimitConfig, RateLimiter
from devtools.sandboxes.kit.responses import ApiError

SEARCH_CAP = 10_000
DAILY = 250_000
DEFAULT_PROPERTIES = {"contacts": ("email", "firstname", "lastname"), "companies": ("name", "domain"),
                      "deals": ("dealname", "dealstage", "amount", "pipeline", "closedate")}
MODIFIED = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate", "deals": "hs_lastmodifieddate"}


@dataclass(frozen=True)
class HubSpotHeaders(RateHeaders):
    """HubSpot's window headers plus the interval and the daily budget."""

    used: list[int] = field(default_factory=lambda: [0])

    def render(self, decision: RateDecision) -> dict[str, str]:
        out = {"X-HubSpot-RateLimit-Max": str(decision.limit), "X-HubSpot-RateLimit-Remaining": str(decision.remaining),
               "X-HubSpot-RateLimit-Interval-Milliseconds": str(decision.window_seconds * 1000)}
        self.used[0] += 1
        out["X-HubSpot-RateLimit-Daily"] = str(DAILY)
        out["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, DAILY - self.used[0]))
        if not decision.allowed:
            out["Retry-After"] = str(decision.retry_after)
        return out


class SearchLimit:
    """Search's own budget: 4 requests a second (the kit's window, one second long)."""

    def __init__(self, per_second: int = 4) -> None:
        self.limiter = RateLimiter(RateLimitConfig(per_minute=per_second * 60, window_seconds=1))
        self.refused = 0
        self.lock = threading.Lock()

    def take(self) -> None:
        decision = self.limiter.take()
        if not decision.allowed:
            with self.lock:
                self.refused += 1
            raise ApiError(429, "RATE_LIMIT", "You have reached your secondly limit.",
                           headers={"Retry-After": "1"})


def iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _value(rec: Record, name: str) -> str | None:
    if name in ("lastmodifieddate", "hs_lastmodifieddate"):
        return iso(rec.updated)
    if name == "createdate":
        return iso(rec.created)
    if name == "hs_object_id":
        return rec.id
    return rec.properties.get(name)


def render(rec: Record, props: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"id": rec.id, "properties": {p: _value(rec, p) for p in props},
                            "createdAt": iso(rec.created), "updatedAt": iso(rec.updated), "archived": rec.archived}
    if rec.archived and rec.archived_at is not None:
        body["archivedAt"] = iso(rec.archived_at)
    return body


def _kind(object_type: str) -> str:
    if object_type not in TYPES:
        raise ApiError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {object_type}")
    return object_type


def _props(object_type: str, asked: Any) -> list[str]:
    if isinstance(asked, str):
        asked = [p for p in asked.split(",") if p]
    names = list(asked) if isinstance(asked, list) and asked else list(DEFAULT_PROPERTIES[object_type])
    return list(dict.fromkeys([*names, "createdate", MODIFIED[object_type], "hs_object_id"]))


def _offset(after: Any) -> int:
    if after in (None, ""):
        return 0
    try:
        value = int(str(after))
    except ValueError:
        raise ApiError(400, "VALIDATION_ERROR", f"Invalid 'after' value: {after!r}") from None
    if value < 0:
        raise ApiError(400, "VALIDATION_ERROR", "after must not be negative")
    return value


def list_objects(store: Store, request: Request, object_type: str) -> dict[str, Any]:
    kind = _kind(object_type)
    limit = int_arg(request, "limit", 10)
    if limit > 100:
        raise ApiError(400, "VALIDATION_ERROR", "limit may not be more than 100")
    archived = request.args.get("archived", "false") == "true"
    props = _props(kind, request.args.get("properties", ""))
    with store.lock:
        rows = sorted((r for r in store.objects[kind].values() if r.archived == archived), key=lambda r: int(r.id))
        after = _offset(request.args.get("after"))  # the id to start after (HubSpot's cursor is opaque)
        rows = [r for r in rows if int(r.id) > after]
        page = rows[:limit]
        body: dict[str, Any] = {"results": [render(r, props) for r in page]}
    if len(rows) > limit:
        body["paging"] = {"next": {"after": page[-1].id, "link": f"{request.base_url}?after={page[-1].id}"}}
    return body


def read_object(store: Store, request: Request, object_type: str, object_id: str) -> dict[str, Any]:
    kind = _kind(object_type)
    with store.lock:
        rec = store.objects[kind].get(object_id)
        if rec is None or rec.archived:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Object not found.  objectId are usually numeric: {object_id}")
        return render(rec, _props(kind, request.args.get("properties", "")))


def _matches(rec: Record, flt: dict[str, Any]) -> bool:
    name, op, value = flt.get("propertyName"), flt.get("operator"), flt.get("value")
    if not isinstance(name, str) or op not in ("EQ", "NEQ", "GT", "GTE", "LT", "LTE", "HAS_PROPERTY"):
        raise ApiError(400, "VALIDATION_ERROR", f"Invalid filter: {flt}")
    mine = _value(rec, name)
    if op == "HAS_PROPERTY":
        return mine not in (None, "")
    if name in ("lastmodifieddate", "hs_lastmodifieddate", "createdate"):
        have = float(rec.updated if name != "createdate" else rec.created) * 1000
        try:
            want = float(value)
        except (TypeError, ValueError):
            raise ApiError(400, "VALIDATION_ERROR", f"{name} needs epoch milliseconds, got {value!r}") from None
    else:
        have, want = (mine or ""), str(value)  # type: ignore[assignment]
    return {"EQ": have == want, "NEQ": have != want, "GT": have > want, "GTE": have >= want,  # type: ignore[operator]
            "LT": have < want, "LTE": have <= want}[op]  # type: ignore[operator]


def search(store: Store, request: Request, object_type: str) -> dict[str, Any]:
    store.search_limit.take()
    kind = _kind(object_type)
    body = json_body(request)
    limit = int(body.get("limit") or 10)
    if not 0 < limit <= 200:
        raise ApiError(400, "VALIDATION_ERROR", "limit must be between 1 and 200")
    after = _offset(body.get("after"))
    if after + limit > SEARCH_CAP:
        # HubSpot: paging past 10,000 results of one query is refused
        raise ApiError(400, "VALIDATION_ERROR", f"The search API returns at most {SEARCH_CAP} results per query.")
    groups = body.get("filterGroups") or []
    if not isinstance(groups, list) or len(groups) > 5:
        raise ApiError(400, "VALIDATION_ERROR", "filterGroups: at most 5 groups")
    with store.lock:
        found = [r for r in store.live(kind)
                 if not groups or any(all(_matches(r, f) for f in g.get("filters") or []) for g in groups)]
        sorts = body.get("sorts") or [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
        sort = sorts[0] if isinstance(sorts[0], dict) else {"propertyName": str(sorts[0])}
        prop = str(sort.get("propertyName"))
        key = (lambda r: (r.updated, int(r.id))) if prop in MODIFIED.values() else (lambda r: ((_value(r, prop) or ""), int(r.id)))
        found.sort(key=key, reverse=sort.get("direction") == "DESCENDING")  # type: ignore[arg-type]
        page = found[after:after + limit]
        props = _props(kind, body.get("properties"))
        answer: dict[str, Any] = {"total": len(found), "results": [render(r, props) for r in page]}
    if after + limit < len(found):
        answer["paging"] = {"next": {"after": str(after + limit)}}
    return answer


def associations(store: Store, request: Request, object_type: str, object_id: str, to_type: str) -> dict[str, Any]:
    kind, to = _kind(object_type), _kind(to_type)
    limit = int_arg(request, "limit", 500)
    if limit > 500:
        raise ApiError(400, "VALIDATION_ERROR", "limit may not be more than 500")
    with store.lock:
        if object_id not in store.objects[kind]:
            raise ApiError(404, "OBJECT_NOT_FOUND", "Object not found.")
        ids = sorted(store.links.get((kind, object_id), {}).get(to, []), key=int)
    after = _offset(request.args.get("after"))
    rows = [i for i in ids if int(i) > after]
    page = rows[:limit]
    body: dict[str, Any] = {"results": [{"toObjectId": int(i), "associationTypes": [
        {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": None}]} for i in page]}
    if len(rows) > limit:
        body["paging"] = {"next": {"after": page[-1]}}
    return body


class HubSpotDialect(Dialect):
    rate_headers = HubSpotHeaders()

    def error_body(self, status: int, code: str, message: str) -> Any:
        body: dict[str, Any] = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
                                "category": code}
        if status == 429:
            body.update(errorType="RATE_LIMIT", policyName="TEN_SECONDLY_ROLLING")
        return body

    def unauthorized(self, request: Request) -> tuple[str, str]:
        return "INVALID_AUTHENTICATION", ("Authentication credentials not found. This API supports OAuth 2.0 "
                                          "authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")

    def rate_limited(self, decision: RateDecision) -> tuple[str, str]:
        return "RATE_LIMITS", "You have reached your ten_secondly_rolling limit."

    def unknown_route(self, request: Request, status: int) -> tuple[str, str]:
        return "OBJECT_NOT_FOUND", f"Unable to route {request.method} {request.path}"


HUBSPOT: Vendor[Store] = Vendor(
    name="hubspot",
    routes=(
        ("GET", "/crm/v3/objects/<object_type>", list_objects),
        ("POST", "/crm/v3/objects/<object_type>/search", search),
        ("GET", "/crm/v3/objects/<object_type>/<object_id>", read_object),
        ("GET", "/crm/v4/objects/<object_type>/<object_id>/associations/<to_type>", associations),
    ),
    counts=records.counts,
    reset=records.reset,
    now=lambda store: store.clock.now(),
    dialect=HubSpotDialect(),
)
