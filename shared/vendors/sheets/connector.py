"""Google Sheets, declared: one stream, `leads`, read from a configured range with
values.get (https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values/get).

A sheet has no "changed since": every run reads the whole range (one request; the API
returns it in one ValueRange) and the engine's upsert writes only rows whose content
changed, so an edit, a new row and a removed row are what a run changes. Removed rows are
found by absence: every run is a full pass (Sweep every run) and what it did not see is
marked deleted. Auth is OAuth 2 (Google's authorization code flow, offline access for a
refresh token, read-only scope); the quota is 60 reads a minute per user
(https://developers.google.com/sheets/api/limits), hence scope "token".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pydantic import Field

from shared.vendors.auth import OAuth2
from shared.vendors.connector import ConnectionConfig, Connector, RequestSpec, Schedule, Slice, Stream, Sweep
from shared.vendors.pagination import PageRequest, SinglePage
from shared.vendors.ratelimit import RateLimit, RateLimitHeaders
from shared.vendors.sheets import mappers, rows, serving
from shared.vendors.sheets.raw import RawLead

SCOPE = "https://www.googleapis.com/auth/spreadsheets.readonly"


class SheetsConfig(ConnectionConfig):
    spreadsheet_id: str = Field(..., pattern=r"^[A-Za-z0-9_-]{10,100}$", description="From the sheet's URL")
    range: str = Field("A1:ZZ", min_length=1, max_length=200, description="A1 range, header row first")


def _values_get(piece: Slice) -> PageRequest:
    config = piece.config
    if not isinstance(config, SheetsConfig):
        raise ValueError("a Sheets connection needs its SheetsConfig")
    path = f"/v4/spreadsheets/{config.spreadsheet_id}/values/{quote(config.range, safe='!:$')}"
    # FORMATTED_VALUE: what people see (dates as text, read by the mapper); ROWS: a row per list
    return PageRequest(path=path, params={"majorDimension": "ROWS", "valueRenderOption": "FORMATTED_VALUE"})


@dataclass(frozen=True)
class SheetStream(Stream[RawLead]):
    """The records of a ValueRange are its rows under the header, not a JSON list."""

    def records(self, spec: RequestSpec, response: dict[str, Any]) -> list[Any]:
        values = response.get("values")
        if not isinstance(values, list):
            return []
        start = rows.first_row_of(str(response.get("range") or ""))
        return rows.to_records([r if isinstance(r, list) else [] for r in values], start)


LEADS: SheetStream = SheetStream(
    name="leads",
    full=RequestSpec(build=_values_get, paginator=SinglePage(), records_path="values"),
    raw_model=RawLead,
    mapper=mappers.lead,
    primary_key="key",
    cursor_field=None,
    deletes=Sweep(every_s=0),
    docs_url="https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values/get",
    serving=serving.LEADS,
)

CONNECTOR = Connector(
    vendor="sheets",
    title="Google Sheets",
    docs_url="https://developers.google.com/sheets/api",
    config_model=SheetsConfig,
    auth=OAuth2(
        authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
        token_url="https://oauth2.googleapis.com/token",
        scopes=(SCOPE,),
        extra_authorize_params={"access_type": "offline", "prompt": "consent"},
    ),
    base_urls=("https://sheets.googleapis.com",),
    rate_limit=RateLimit(
        requests=60, per_seconds=60, scope="token", max_concurrency=2,
        headers=RateLimitHeaders(limit=None, remaining=None, reset=None),
    ),
    streams=(LEADS,),
    schedule=Schedule(cron="*/10 * * * *"),
)
