"""Pipedrive's routes, per-token metering and its Dialect: everything the kit does not do.

    GET  /api/v1/{person,organization,deal}Fields   start/limit, additional_data.pagination
    GET  /api/v2/{persons,organizations,deals,activities}
         cursor/limit (<= 500), updated_since (RFC 3339, inclusive), sort_by id|update_time|add_time,
         sort_direction, person_id (activities), include_fields; additional_data.next_cursor
    GET  /api/v2/{kind}/{id}, POST /api/v2/activities, GET /api/v1/users/me
    POST/GET /api/v1/webhooks, DELETE /api/v1/webhooks/{id}   (webhooks.py)

Auth is the `x-api-token` header (or the `api_token` query parameter); a token sees only
its own account. Every call is metered per token (limits.py) before it is carried out, and
the sandbox's one-shot faults (a status, or "timeout": carried out, then answered late)
apply after metering, as they would at Pipedrive.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from devtools.sandboxes.kit.app import Vendor
from devtools.sandboxes.kit.dialect import Dialect
from devtools.sandboxes.kit.params import control_body, int_arg, json_body
from devtools.sandboxes.kit.ratelimit import RateDecision, RateHeaders
from devtools.sandboxes.kit.responses import ApiError, json_response
from devtools.sandboxes.pipedrive import records
from devtools.sandboxes.pipedrive.limits import Fault
from devtools.sandboxes.pipedrive.records import KINDS, Account, Store

FIELD_LISTS = {"personFields": "person_fields", "organizationFields": "organization_fields",
               "dealFields": "deal_fields"}
OPTIONAL_PERSON_FIELDS = ("last_activity_date", "last_incoming_mail_time", "last_outgoing_mail_time")
Handler = Callable[..., Any]


def token_of(request: Request) -> str:
    return request.headers.get("x-api-token") or request.args.get("api_token") or ""


def metered(kind: str, fn: Handler) -> Handler:
    """`fn(store, account, request, **args)` behind the token's meter and the one-shot faults;
    the answer carries Pipedrive's rate headers."""

    def handler(store: Store, request: Request, **args: Any) -> Response:
        account = store.accounts[token_of(request)]  # the app's auth admitted only known tokens
        headers = store.meter.admit(account.token, account.company, kind)
        fault = store.faults.take(request.method, request.path)
        if fault is not None and fault.status != "timeout":
            raise ApiError(int(fault.status), "injected", "Injected failure", headers=headers)
        try:
            body = fn(store, account, request, **args)
        except (KeyError, ValueError, TypeError) as exc:
            raise ApiError(400, "bad_request", f"Bad request: {exc}", headers=headers) from exc
        if fault is not None:
            time.sleep(fault.delay_s)  # carried out; the caller gave up before this answer
        return json_response(body, 200, headers)

    return handler


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _offset(cursor: str) -> int:
    try:
        return int(json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["o"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"cursor {cursor!r} is not valid") from exc


def _time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def field_list(store: Store, account: Account, request: Request, name: str) -> dict[str, Any]:
    kind = FIELD_LISTS.get(name)
    if kind is None:
        raise ApiError(404, "not_found", f"Unknown method {name}.")
    items: list[dict[str, Any]] = getattr(account, kind)
    start, limit = int_arg(request, "start", 0, minimum=0), min(500, int_arg(request, "limit", 100))
    more = start + limit < len(items)
    pagination: dict[str, Any] = {"start": start, "limit": limit, "more_items_in_collection": more}
    if more:
        pagination["next_start"] = start + limit
    return {"success": True, "data": items[start : start + limit], "additional_data": {"pagination": pagination}}


def me(store: Store, account: Account, request: Request) -> dict[str, Any]:
    return {"success": True, "data": {"id": account.user_id, "company_domain": account.company,
                                      "company_id": account.company}}


def v2_list(store: Store, account: Account, request: Request, kind: str) -> dict[str, Any]:
    if kind not in KINDS:
        raise ApiError(404, "not_found", f"Unknown method GET {request.path}")
    args = request.args
    limit = int_arg(request, "limit", 100)
    if limit > 500:
        raise ValueError("limit must be 1 to 500")
    items = [r for r in store.visible(account, kind) if not r.get("is_deleted")]
    if args.get("owner_id"):
        items = [r for r in items if r.get("owner_id") == int(args["owner_id"])]
    if args.get("updated_since"):
        since = _time(args["updated_since"])
        items = [r for r in items if _time(r["update_time"]) >= since]
    if args.get("person_id"):
        items = [r for r in items if r.get("person_id") == int(args["person_id"])]
    sort_by = args.get("sort_by", "id")
    if sort_by not in ("id", "update_time", "add_time"):
        raise ValueError("sort_by must be id, update_time or add_time")
    items.sort(key=lambda r: (r[sort_by], r["id"]), reverse=args.get("sort_direction") == "desc")
    offset = _offset(args["cursor"]) if args.get("cursor") else 0
    page = items[offset : offset + limit]
    wanted = set((args.get("include_fields") or "").split(","))
    page = [{k: v for k, v in r.items() if k not in OPTIONAL_PERSON_FIELDS or k in wanted} for r in page]
    more = offset + limit < len(items)
    return {"success": True, "data": page, "additional_data": {"next_cursor": _cursor(offset + limit) if more else None}}


def v2_one(store: Store, account: Account, request: Request, kind: str, item_id: int) -> dict[str, Any]:
    record = next((r for r in store.visible(account, kind) if r["id"] == item_id), None) if kind in KINDS else None
    if record is None or record.get("is_deleted"):
        raise ApiError(404, "not_found", "Not found")
    return {"success": True, "data": record}


def create_activity(store: Store, account: Account, request: Request) -> dict[str, Any]:
    return {"success": True, "data": store.create_activity(account, json_body(request))}


def add_webhook(store: Store, account: Account, request: Request) -> dict[str, Any]:
    return {"success": True, "status": "ok", "data": store.hooks.register(account, json_body(request))}


def list_webhooks(store: Store, account: Account, request: Request) -> dict[str, Any]:
    return {"success": True, "status": "ok", "data": store.hooks.listed(account)}


def delete_webhook(store: Store, account: Account, request: Request, hook_id: int) -> dict[str, Any]:
    store.hooks.remove(account, hook_id)
    return {"success": True, "status": "ok", "data": {"id": hook_id}}


# -- controls -------------------------------------------------------------------------------------


def usage(app: Any, request: Request) -> dict[str, Any]:
    """GET /_sandbox/usage: per token requests, 429s, blocks, peak per window, tokens spent."""
    store: Store = app.store
    return {"limits": store.meter.limits.__dict__, **store.meter.stats.snapshot()}


def set_limits(app: Any, request: Request) -> dict[str, Any]:
    """POST /_sandbox/limits {burst, daily_tokens, block_after, block_s}: new limits, fresh counters."""
    store: Store = app.store
    store.meter.limits = store.meter.limits.update(control_body(request))
    store.meter.reset()
    return dict(store.meter.limits.__dict__)


def inject(app: Any, request: Request) -> dict[str, Any]:
    """POST /_sandbox/inject {method, prefix, times, status (or "timeout"), delay_s}."""
    fault = Fault.of(control_body(request))
    app.store.faults.add(fault)
    return {"queued": fault.__dict__}


def mutate(app: Any, request: Request) -> dict[str, Any]:
    """POST /_sandbox/mutate {token, kind, id, changes, delete}: a user's change in Pipedrive."""
    body = control_body(request)
    store: Store = app.store
    try:
        token, kind, item_id = str(body.get("token") or store.token), str(body["kind"]), int(body["id"])
        if body.get("delete"):
            store.delete(token, kind, item_id)
            return {"deleted": item_id}
        return {"record": store.touch(token, kind, item_id, **dict(body.get("changes") or {}))}
    except (KeyError, TypeError, ValueError) as exc:
        raise ApiError(400, "bad_request", f"mutate needs token, kind, id and changes or delete: {exc}") from exc


def clock(app: Any, request: Request) -> dict[str, Any]:
    """POST /_sandbox/clock {advance_s}: move the sandbox's clock forward (past midnight UTC,
    the daily token budget starts again)."""
    store: Store = app.store
    store.skew_s += float(control_body(request).get("advance_s") or 0)
    return {"now": store.now(), "skew_s": store.skew_s}


def visibility(app: Any, request: Request) -> dict[str, Any]:
    """POST /_sandbox/visibility {token, company: true|false}: the user sees the whole company's records."""
    body = control_body(request)
    store: Store = app.store
    account = store.accounts.get(str(body.get("token") or store.token))
    if account is None:
        raise ApiError(404, "not_found", "no such account")
    account.sees_company = bool(body.get("company"))
    return {"token": account.token, "sees_company": account.sees_company}


def accounts(app: Any, request: Request) -> dict[str, Any]:
    """GET /_sandbox/accounts: token -> user id and record ids (tests compare with them)."""
    store: Store = app.store
    return {t: {"user_id": a.user_id, "company": a.company,
                **{k: sorted(i for i, r in a.collection(k).items() if not r.get("is_deleted")) for k in KINDS}}
            for t, a in store.accounts.items()}


def activities_of(app: Any, request: Request) -> dict[str, Any]:
    """GET /_sandbox/activities?token=: every activity of the account, notes included."""
    store: Store = app.store
    account = store.accounts.get(request.args.get("token") or store.token)
    if account is None:
        raise ApiError(404, "not_found", "no such account")
    return {"activities": list(account.activities.values())}


def flush_webhooks(app: Any, request: Request) -> dict[str, Any]:
    body = control_body(request)
    return {"flushed": app.store.hooks.flush(float(body.get("timeout_s", 30)))}


def webhooks_state(app: Any, request: Request) -> dict[str, Any]:
    return dict(app.store.hooks.state())


class PipedriveDialect(Dialect):
    # the per-token headers come from limits.Meter; the kit's company-wide window adds only Retry-After
    rate_headers = RateHeaders(limit=None, remaining=None, reset=None, retry_after=True)

    def error_body(self, status: int, code: str, message: str) -> Any:
        return {"success": False, "error": message, "errorCode": status, "error_info": code}

    def unauthorized(self, request: Request) -> tuple[str, str]:
        return "unauthorized", "unauthorized access"

    def rate_limited(self, decision: RateDecision) -> tuple[str, str]:
        return "rate_limited", "Request over limit"

    def unknown_route(self, request: Request, status: int) -> tuple[str, str]:
        return "not_found", f"Unknown method {request.method} {request.path}"


def known_token(store: Store) -> Callable[[Request], bool]:
    return lambda request: token_of(request) in store.accounts


PIPEDRIVE: Vendor[Store] = Vendor(
    name="pipedrive",
    routes=(
        ("GET", "/api/v1/<name>", metered("list", field_list)),
        ("GET", "/api/v1/users/me", metered("one", me)),
        ("GET", "/api/v1/webhooks", metered("list", list_webhooks)),
        ("POST", "/api/v1/webhooks", metered("write", add_webhook)),
        ("DELETE", "/api/v1/webhooks/<int:hook_id>", metered("write", delete_webhook)),
        ("GET", "/api/v2/<kind>", metered("list", v2_list)),
        ("GET", "/api/v2/<kind>/<int:item_id>", metered("one", v2_one)),
        ("POST", "/api/v2/activities", metered("write", create_activity)),
    ),
    counts=records.counts,
    reset=records.reset,
    now=lambda store: store.now(),
    dialect=PipedriveDialect(),
    controls=(
        ("GET", "/_sandbox/usage", usage),
        ("POST", "/_sandbox/limits", set_limits),
        ("POST", "/_sandbox/inject", inject),
        ("POST", "/_sandbox/mutate", mutate),
        ("GET", "/_sandbox/accounts", accounts),
        ("POST", "/_sandbox/visibility", visibility),
        ("POST", "/_sandbox/clock", clock),
        ("GET", "/_sandbox/activities", activities_of),
        ("GET", "/_sandbox/webhooks", webhooks_state),
        ("POST", "/_sandbox/webhooks/flush", flush_webhooks),
    ),
)
