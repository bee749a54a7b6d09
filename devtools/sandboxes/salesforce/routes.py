"""Salesforce's REST query routes, /limits, its dialect, and the controls tests change the
org with.

    GET /services/data/{v}/query?q=SOQL          live records (batches of up to 2,000)
    GET /services/data/{v}/queryAll?q=SOQL       live and soft-deleted records
    GET /services/data/{v}/query/{locator}-{n}   the next batch (nextRecordsUrl, both kinds)
    GET /services/data/{v}/limits                DailyApiRequests and friends
    POST /_sandbox/mutate                        {"op": create|update|delete, "sobject", "id", "fields"}
    POST /_sandbox/salesforce                    {"expire_tokens": true} | {"api_used": n, "api_max": n}

Every API answer counts against the org's daily allowance and carries
`Sforce-Limit-Info: api-usage=used/max`; past the allowance it is 403 REQUEST_LIMIT_EXCEEDED.
Errors are Salesforce's array body: [{"message": ..., "errorCode": ...}].
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from devtools.sandboxes.kit.app import Vendor
from devtools.sandboxes.kit.dialect import Dialect
from devtools.sandboxes.kit.params import control_body
from devtools.sandboxes.kit.ratelimit import RateDecision, RateHeaders
from devtools.sandboxes.kit.responses import ApiError, json_response
from devtools.sandboxes.salesforce import records, soql
from devtools.sandboxes.salesforce.records import API_VERSION, PREFIX, Store

if TYPE_CHECKING:
    from devtools.sandboxes.kit.app import SandboxApp

MAX_BATCH = 2000
MIN_BATCH = 200
#: fields every object has, beyond what the seed sets
_SYSTEM = {"Id", "IsDeleted", "OwnerId", "CreatedDate", "LastModifiedDate", "SystemModstamp", "Name"}
_FIELDS = {
    "Account": _SYSTEM | {"Industry", "Type", "Tier__c"},
    "Contact": _SYSTEM | {"FirstName", "LastName", "Email", "AccountId"},
    "Opportunity": _SYSTEM | {"StageName", "Amount", "CloseDate", "IsClosed", "IsWon", "AccountId"},
}


def known_field(sobject: str, name: str) -> bool:
    if sobject not in _FIELDS:
        raise ApiError(400, "INVALID_TYPE", f"sObject type '{sobject}' is not supported.")
    return name in _FIELDS[sobject] or name.endswith("__c")


def _usage(store: Store) -> dict[str, str]:
    return {"Sforce-Limit-Info": f"api-usage={store.api_used}/{store.api_max}"}


def _render(record: dict[str, Any], fields: list[str], version: str) -> dict[str, Any]:
    sobject = next(s for s, p in PREFIX.items() if record["Id"].startswith(p))
    body: dict[str, Any] = {"attributes": {"type": sobject, "url": f"/services/data/{version}/sobjects/{sobject}/{record['Id']}"}}
    body.update({f: record.get(f) for f in fields})
    return body


def _batch_size(request: Request) -> int:
    """Sforce-Query-Options: batchSize=N (200..2000, a hint); 2,000 otherwise."""
    option = request.headers.get("Sforce-Query-Options", "")
    if option.startswith("batchSize="):
        try:
            return max(MIN_BATCH, min(MAX_BATCH, int(option.split("=", 1)[1])))
        except ValueError:
            pass
    return MAX_BATCH


def _page(store: Store, request: Request, version: str, locator: str, rows: list[dict[str, Any]], start: int) -> Response:
    size = _batch_size(request)
    batch = rows[start:start + size]
    body: dict[str, Any] = {"totalSize": len(rows), "done": start + size >= len(rows), "records": batch}
    if not body["done"]:
        body["nextRecordsUrl"] = f"/services/data/{version}/query/{locator}-{start + size}"
    return json_response(body, 200, _usage(store))


def _run(store: Store, request: Request, version: str, *, include_deleted: bool) -> Response:
    text = request.args.get("q")
    if not text:
        raise ApiError(400, "MALFORMED_QUERY", "A query string must be provided.")
    query = soql.parse(text, known_field)
    with store.lock:
        found = [r for r in store.objects[query.sobject].values()
                 if (include_deleted or not r["IsDeleted"]) and soql.matches(query, r)]
        found.sort(key=soql.sort_key(query))
        if query.limit is not None:
            found = found[:query.limit]
        rows = [_render(r, query.fields, version) for r in found]
        locator = f"01g{secrets.token_hex(6).upper()}"
        store.locators[locator] = (version, rows)
    return _page(store, request, version, locator, rows, 0)


def query(store: Store, request: Request, version: str) -> Response:
    return _run(store, request, version, include_deleted=False)


def query_all(store: Store, request: Request, version: str) -> Response:
    return _run(store, request, version, include_deleted=True)


def query_more(store: Store, request: Request, version: str, locator: str) -> Response:
    name, _, start = locator.rpartition("-")
    with store.lock:
        found = store.locators.get(name)
    if found is None or not start.isdigit():
        raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    return _page(store, request, version, name, found[1], int(start))


def limits(store: Store, request: Request, version: str) -> Response:
    with store.lock:
        body = {
            "DailyApiRequests": {"Max": store.api_max, "Remaining": max(0, store.api_max - store.api_used)},
            "DailyBulkApiBatches": {"Max": 15_000, "Remaining": 15_000},
            "DataStorageMB": {"Max": 5_120, "Remaining": 5_000},
        }
    return json_response(body, 200, _usage(store))


# -- controls ---------------------------------------------------------------------------------


def mutate(app: SandboxApp[Store], request: Request) -> dict[str, Any]:
    body = control_body(request)
    op, sobject = body.get("op"), body.get("sobject")
    if sobject not in PREFIX or op not in ("create", "update", "delete"):
        raise ApiError(400, "INVALID_FIELD", "op is create|update|delete and sobject Account|Contact|Opportunity")
    fields = body.get("fields") or {}
    try:
        if op == "create":
            return app.store.create(sobject, fields)
        if op == "update":
            return app.store.update(sobject, str(body.get("id")), fields)
        return app.store.delete(sobject, str(body.get("id")))
    except KeyError:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist") from None


def settings(app: SandboxApp[Store], request: Request) -> dict[str, Any]:
    """Expire every access token now (the OAuth clock jumps past their lifetime), or set the
    org's API usage (to make the allowance nearly spent)."""
    body = control_body(request)
    store = app.store
    if body.get("expire_tokens") and app.oauth is not None:
        expire = getattr(app.oauth, "expire_all", None)
        if expire is not None:
            expire()
    with store.lock:
        if "api_used" in body:
            store.api_used = int(body["api_used"])
        if "api_max" in body:
            store.api_max = int(body["api_max"])
        return {"api_used": store.api_used, "api_max": store.api_max}


class SalesforceDialect(Dialect):
    rate_headers = RateHeaders(limit=None, remaining=None, reset=None, retry_after=False)

    def __init__(self, store: Store) -> None:
        self.store = store

    def error_body(self, status: int, code: str, message: str) -> Any:
        return [{"message": message, "errorCode": code}]

    def unauthorized(self, request: Request) -> tuple[str, str]:
        return "INVALID_SESSION_ID", "Session expired or invalid"

    def rate_limited(self, decision: RateDecision) -> tuple[str, str]:
        return "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."

    def unknown_route(self, request: Request, status: int) -> tuple[str, str]:
        return "NOT_FOUND", "The requested resource does not exist"

    def check(self, request: Request) -> None:
        """Every authorized request spends one of the org's daily API requests."""
        used, limit = self.store.spend()
        if used > limit:
            raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.",
                           headers={"Sforce-Limit-Info": f"api-usage={used}/{limit}"})


def vendor(store: Store) -> Vendor[Store]:
    return Vendor(
        name="salesforce",
        routes=(
            ("GET", "/services/data/<version>/query", query),
            ("GET", "/services/data/<version>/queryAll", query_all),
            ("GET", "/services/data/<version>/query/<locator>", query_more),
            ("GET", "/services/data/<version>/limits", limits),
        ),
        counts=records.counts,
        reset=records.reset,
        now=lambda s: s.clock.now(),
        dialect=SalesforceDialect(store),
        controls=(("POST", "/_sandbox/mutate", mutate), ("POST", "/_sandbox/salesforce", settings)),
    )


__all__ = ["API_VERSION", "vendor"]
