"""The sandbox HubSpot's routes, limits and Dialect.

    GET  /crm/v3/objects/{type}                   list: limit <= 100, after, properties, archived
    GET  /crm/v3/objects/{type}/{id}              one object (404 when archived or unknown)
    POST /crm/v3/objects/{type}/search            filterGroups (OR of ANDed filters: EQ, NEQ, GT,
                                                  GTE, LT, LTE), sorts, properties, limit <= 200,
                                                  after; `total` is every match, but paging past
                                                  10,000 results is a 400, as HubSpot does
    GET  /crm/v4/objects/{type}/{id}/associations/{to}   limit <= 500, after
    POST /crm/v4/associations/{from}/{to}/batch/read      inputs [{id, after?}] <= 1,000 (400 past
                                                  it); per input up to `association_page` (500)
                                                  targets with its own paging.next.after; ids with
                                                  none are 207 errors NO_ASSOCIATIONS_FOUND

Limits: the app's window (100 per 10 s by default, the kit's limiter) and search's own
4 per second; both answer 429 with HubSpot's body (policyName TEN_SECONDLY_ROLLING or
SECONDLY). Answers carry X-HubSpot-RateLimit-Max, -Remaining and -Interval-Milliseconds,
never -Daily (OAuth calls), and search answers none of them.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from werkzeug.wrappers import Request

from devtools.sandboxes.hubspot import records
from devtools.sandboxes.hubspot.records import TYPES, Record, Store
from devtools.sandboxes.kit.app import Vendor
from devtools.sandboxes.kit.dialect import Dialect
from devtools.sandboxes.kit.params import int_arg, json_body
from devtools.sandboxes.kit.ratelimit import RateDecision, RateHeaders, RateLimitConfig, RateLimiter
from devtools.sandboxes.kit.responses import ApiError, json_response

SEARCH_CAP = 10_000
BATCH_READ_MAX = 1_000
DEFAULT_PROPERTIES = {"contacts": ("email", "firstname", "lastname"), "companies": ("name", "domain"),
                      "deals": ("dealname", "dealstage", "amount", "pipeline", "closedate")}
MODIFIED = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate", "deals": "hs_lastmodifieddate"}


@dataclass(frozen=True)
class HubSpotHeaders(RateHeaders):
    """HubSpot's rolling-window headers: its budget, what is left, and the window's length
    (no reset time). OAuth calls get no -Daily headers: HubSpot sends those only to API keys
    and private apps (changelog: rate limit headers will now appear for OAuth calls)."""

    def render(self, decision: RateDecision) -> dict[str, str]:
        out = {"X-HubSpot-RateLimit-Max": str(decision.limit), "X-HubSpot-RateLimit-Remaining": str(decision.remaining),
               "X-HubSpot-RateLimit-Interval-Milliseconds": str(decision.window_seconds * 1000)}
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
            raise ApiError(429, "RATE_LIMITS", "You have reached your secondly limit.",
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


def _target(to_id: str) -> dict[str, Any]:
    return {"toObjectId": int(to_id), "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 1, "label": None}]}


def batch_associations(store: Store, request: Request, from_type: str, to_type: str) -> Any:
    """The v4 batch read: one result per input that has associations (paged per input),
    a NO_ASSOCIATIONS_FOUND error per input that has none; 207 when any input errs."""
    kind, to = _kind(from_type), _kind(to_type)
    inputs = json_body(request).get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(i, dict) and i.get("id") for i in inputs):
        raise ApiError(400, "VALIDATION_ERROR", "inputs: a list of {id, after?}")
    if len(inputs) > BATCH_READ_MAX:
        raise ApiError(400, "VALIDATION_ERROR", f"Batch input size {len(inputs)} exceeds the limit of {BATCH_READ_MAX}")
    page_size = int(getattr(store, "association_page", 500))
    started = iso(store.clock.now())
    results: list[dict[str, Any]] = []
    missing: list[str] = []
    with store.lock:
        for item in inputs:
            object_id = str(item["id"])
            ids = sorted(store.links.get((kind, object_id), {}).get(to, []), key=int) \
                if object_id in store.objects[kind] else []
            rows = [i for i in ids if int(i) > _offset(item.get("after"))]
            if not rows:
                missing.append(object_id)
                continue
            result: dict[str, Any] = {"from": {"id": object_id}, "to": [_target(i) for i in rows[:page_size]]}
            if len(rows) > page_size:
                result["paging"] = {"next": {"after": rows[page_size - 1], "link": None}}
            results.append(result)
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": started}
    if missing:
        body["numErrors"] = len(missing)
        body["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                           "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                           "message": f"No {to[:-1]} is associated with {kind[:-1]} {object_id}.",
                           "context": {"fromObjectId": [object_id], "fromObjectType": [kind[:-1]],
                                       "toObjectType": [to[:-1]]}} for object_id in missing]
    return json_response(body, 207 if missing else 200)


class HubSpotDialect(Dialect):
    rate_headers = HubSpotHeaders()

    def rate_headers_for(self, request: Request, decision: RateDecision) -> dict[str, str]:
        """Search answers carry none of the window's headers (only X-HubSpot-Correlation-Id),
        though search requests count against the window too."""
        if decision.allowed and request.method == "POST" and request.path.endswith("/search"):
            return {}
        return self.rate_headers.render(decision)

    def error_body(self, status: int, code: str, message: str) -> Any:
        body: dict[str, Any] = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
                                "category": code}
        if status == 429:
            secondly = "secondly" in message
            body.update(errorType="RATE_LIMIT", policyName="SECONDLY" if secondly else "TEN_SECONDLY_ROLLING")
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
        ("POST", "/crm/v4/associations/<from_type>/<to_type>/batch/read", batch_associations),
    ),
    counts=records.counts,
    reset=records.reset,
    now=lambda store: store.clock.now(),
    dialect=HubSpotDialect(),
)
