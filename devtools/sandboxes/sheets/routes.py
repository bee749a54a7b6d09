"""The Sheets API's read routes, its dialect, and the controls tests edit sheets with.

    GET /v4/spreadsheets/{id}/values/{range}        ValueRange
    GET /v4/spreadsheets/{id}/values:batchGet       {spreadsheetId, valueRanges}
    GET/PUT /_sandbox/spreadsheets/{id}/{sheet}     read / replace a sheet's rows
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from devtools.sandboxes.kit.app import Vendor
from devtools.sandboxes.kit.dialect import Dialect
from devtools.sandboxes.kit.params import control_body
from devtools.sandboxes.kit.ratelimit import RateDecision, RateHeaders
from devtools.sandboxes.kit.responses import ApiError
from devtools.sandboxes.sheets import records, render
from devtools.sandboxes.sheets.records import Store

if TYPE_CHECKING:
    from devtools.sandboxes.kit.app import SandboxApp

_MAJOR = ("ROWS", "COLUMNS")


def _major(request: Request) -> str:
    major = request.args.get("majorDimension", "ROWS")
    if major not in _MAJOR:
        raise ApiError(400, "INVALID_ARGUMENT", f"Invalid value at 'major_dimension' ({major})")
    return major


def _read(store: Store, spreadsheet_id: str, text: str, major: str) -> dict[str, Any]:
    a1 = render.parse(text)
    with store.lock:
        title, rows = store.sheet(spreadsheet_id, a1.sheet)
        return render.value_range(title, [list(r) for r in rows], a1, major)


def values_get(store: Store, request: Request, spreadsheet_id: str, range_: str) -> dict[str, Any]:
    return _read(store, spreadsheet_id, range_, _major(request))


def batch_get(store: Store, request: Request, spreadsheet_id: str) -> dict[str, Any]:
    ranges = request.args.getlist("ranges")
    major = _major(request)
    return {"spreadsheetId": spreadsheet_id, "valueRanges": [_read(store, spreadsheet_id, r, major) for r in ranges]}


def sheet_rows(app: SandboxApp[Store], request: Request, spreadsheet_id: str, sheet: str) -> dict[str, Any]:
    """GET: the rows; PUT {"values": [[...], ...]}: replace them (edits, new and removed rows)."""
    store = app.store
    if request.method == "PUT":
        values = control_body(request).get("values")
        if not isinstance(values, list) or not all(isinstance(r, list) for r in values):
            raise ApiError(400, "INVALID_ARGUMENT", "values must be a list of rows")
        with store.lock:
            store.spreadsheets.setdefault(spreadsheet_id, {})[sheet] = [list(r) for r in values]
    with store.lock:
        _, rows = store.sheet(spreadsheet_id, sheet)
        return {"values": [list(r) for r in rows]}


class SheetsDialect(Dialect):
    rate_headers = RateHeaders(limit=None, remaining=None, reset=None, retry_after=False)

    def error_body(self, status: int, code: str, message: str) -> Any:
        return render.error(status, code, message)

    def unauthorized(self, request: Request) -> tuple[str, str]:
        return "UNAUTHENTICATED", ("Request had invalid authentication credentials. Expected OAuth 2 access "
                                   "token, login cookie or other valid authentication credential.")

    def rate_limited(self, decision: RateDecision) -> tuple[str, str]:
        return "RESOURCE_EXHAUSTED", ("Quota exceeded for quota metric 'Read requests' and limit 'Read requests "
                                      "per minute per user' of service 'sheets.googleapis.com'.")


SHEETS: Vendor[Store] = Vendor(
    name="sheets",
    routes=(
        ("GET", "/v4/spreadsheets/<spreadsheet_id>/values:batchGet", batch_get),
        ("GET", "/v4/spreadsheets/<spreadsheet_id>/values/<path:range_>", values_get),
    ),
    counts=records.counts,
    reset=records.reset,
    now=lambda store: 0,
    dialect=SheetsDialect(),
    controls=(
        ("GET", "/_sandbox/spreadsheets/<spreadsheet_id>/<sheet>", sheet_rows),
        ("PUT", "/_sandbox/spreadsheets/<spreadsheet_id>/<sheet>", sheet_rows),
    ),
)
