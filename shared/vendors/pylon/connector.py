"""The Pylon connector, declared.

Issues: GET /issues takes start_time and end_time at most 30 days apart and filters on
creation time, so the first import is all history cut into 30-day windows fanned out in
parallel; later runs ask POST /issues/search for issues whose updated_at is in a time_range
from the high-water mark minus a lookback (windows of at most 30 days: Pylon caps that
filter as it caps GET /issues), which also catches changes to old issues. updated_at is not
among the search's documented filter fields; Airbyte's Pylon source relies on it too (README,
"Pylon support dashboard"). Messages are a
child stream: fetched for every issue a run created or changed, a few issues per task.
Accounts, users and teams are listed whole (users and teams name the agents).

Pylon limits requests per endpoint (GET /issues 10 a minute, messages 20 a minute, as its
API reference states): each endpoint's budget is booked per connection in the store before
every request (shared/sync/budgets.py), less room in each window for a request that
reaches Pylon up to LATE_S after its slot, so a normal run never meets a 429.
Docs: https://docs.usepylon.com/pylon-docs/developer/api/api-reference
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.vendors.auth import BearerToken
from shared.vendors.connector import (
    ConnectionConfig,
    Connector,
    Proxy,
    RequestSpec,
    Schedule,
    Slice,
    Stream,
    Sweep,
    Windows,
)
from shared.vendors.pagination import Cursor, PageRequest, dig
from shared.vendors.pylon import mappers, serving
from shared.vendors.pylon.raw import RawAccount, RawIssue, RawMessage, RawTeam, RawUser
from shared.vendors.ratelimit import EndpointLimit, RateLimit, RateLimitHeaders

DAY = 86_400.0
#: the widest window GET /issues accepts
MAX_WINDOW_S = 30 * DAY
BACKFILL_S = 2 * 365 * DAY
BASE_URLS = ("https://api.usepylon.com",)
Priority = Literal["urgent", "high", "medium", "low"]


class SlaTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_response_s: int | None = Field(None, gt=0, description="First response within this many seconds")
    resolution_s: int | None = Field(None, gt=0, description="Resolved within this many seconds")


class BusinessHours(BaseModel):
    """When SLA clocks run: these hours of these weekdays in this time zone."""

    model_config = ConfigDict(extra="forbid")

    time_zone: str = "Etc/UTC"
    start_hour: int = Field(9, ge=0, le=23)
    end_hour: int = Field(17, ge=1, le=24)
    #: 0 = Monday
    weekdays: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4], min_length=1)

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in value):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _opens_before_it_closes(self) -> BusinessHours:
        if self.end_hour <= self.start_hour:
            raise ValueError("end_hour must be after start_hour")
        return self


def _default_sla() -> dict[Priority, SlaTarget]:
    hour = 3600
    return {
        "urgent": SlaTarget(first_response_s=hour, resolution_s=8 * hour),
        "high": SlaTarget(first_response_s=4 * hour, resolution_s=24 * hour),
        "medium": SlaTarget(first_response_s=8 * hour, resolution_s=72 * hour),
        "low": SlaTarget(first_response_s=24 * hour, resolution_s=168 * hour),
    }


class PylonConfig(ConnectionConfig):
    """One Pylon organization, with the support team's SLA targets (per priority; an issue
    without a priority uses `default_priority`) and optional business hours."""

    base_url: str = "https://api.usepylon.com"
    sla: dict[Priority, SlaTarget] = Field(default_factory=_default_sla)
    default_priority: Priority = "medium"
    business_hours: BusinessHours | None = None
    #: an open issue this close to a deadline is "about to breach"
    at_risk_s: int = Field(3600, ge=0, le=7 * 86_400)


def rfc3339(unix: float) -> str:
    return datetime.fromtimestamp(unix, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class PylonCursor:
    """Pylon's pagination: `limit` and `cursor` (query string on GETs, body on searches);
    the response's pagination.cursor is the next page while pagination.has_next_page."""

    in_body: bool = False

    def _with(self, request: PageRequest, values: dict[str, Any]) -> PageRequest:
        if self.in_body:
            body = copy.deepcopy(request.json_body or {})
            body.update(values)
            return request.model_copy(update={"json_body": body})
        return request.model_copy(update={"params": {**request.params, **values}})

    def first(self, request: PageRequest, page_size: int) -> PageRequest:
        return self._with(request, {"limit": page_size})

    def next_cursor(self, request: PageRequest, response: dict[str, Any], records: int) -> Cursor | None:
        cursor = dig(response, "pagination.cursor")
        if not dig(response, "pagination.has_next_page") or not isinstance(cursor, str) or not cursor or not records:
            return None
        return {"after": cursor}

    def apply(self, request: PageRequest, cursor: Cursor | None) -> PageRequest:
        return self._with(request, {"cursor": cursor["after"]}) if cursor else request


_query, _body = PylonCursor(), PylonCursor(in_body=True)


def _get(path: str) -> Callable[[Slice], PageRequest]:
    def build(_: Slice) -> PageRequest:
        return PageRequest(path=path)

    return build


def _issues_created(window: Slice) -> PageRequest:
    """One 30-day (or shorter) window of creation times."""
    until = window.until if window.until is not None else datetime.now(timezone.utc).timestamp()
    since = window.since if window.since is not None else until - MAX_WINDOW_S
    return PageRequest(path="/issues", params={"start_time": rfc3339(since), "end_time": rfc3339(until)})


def _issues_updated(window: Slice) -> PageRequest:
    """Issues updated in one window of at most 30 days: Pylon caps a time filter on
    updated_at at 30 days per request, as it caps GET /issues' creation range."""
    until = window.until if window.until is not None else datetime.now(timezone.utc).timestamp()
    since = window.since if window.since is not None else until - MAX_WINDOW_S
    return PageRequest(method="POST", path="/issues/search",
                       json_body={"filter": {"field": "updated_at", "operator": "time_range",
                                             "values": [rfc3339(since), rfc3339(until)]}})


def _messages(window: Slice) -> PageRequest:
    return PageRequest(path=f"/issues/{window.parent_id}/messages")


ISSUES = Stream(
    name="issues",
    full=RequestSpec(build=_issues_created, paginator=_query, records_path="data"),
    incremental=RequestSpec(build=_issues_updated, paginator=_body, records_path="data"),
    raw_model=RawIssue,
    mapper=mappers.issue,
    page_size=100,
    lookback_s=3600,
    # incremental runs are windowed too: a search over a gap longer than 30 days (a paused
    # connection) is cut into several
    windows=Windows(backfill_s=BACKFILL_S, max_span_s=MAX_WINDOW_S, applies_to="always"),
    docs_url="https://docs.usepylon.com/pylon-docs/developer/api/api-reference/issues",
    serving=serving.ISSUES,
)

MESSAGES = Stream(
    name="messages",
    full=RequestSpec(build=_messages, paginator=_query, records_path="data"),
    raw_model=RawMessage,
    mapper=mappers.message,
    parent="issues",
    # each issue's messages are one request at 20 a minute: small batches keep a task's
    # booked waits inside its time budget
    child_batch=5,
    cursor_field="timestamp",
    docs_url="https://docs.usepylon.com/pylon-docs/developer/api/api-reference/messages",
    serving=serving.MESSAGES,
)

ACCOUNTS = Stream(
    name="accounts",
    full=RequestSpec(build=_get("/accounts"), paginator=_query, records_path="data"),
    raw_model=RawAccount,
    mapper=mappers.account,
    page_size=999,  # "greater than 0 and less than 1000"
    cursor_field=None,
    deletes=Sweep(),
    docs_url="https://docs.usepylon.com/pylon-docs/developer/api/api-reference/accounts",
    serving=serving.ACCOUNTS,
)

USERS = Stream(
    name="users",
    full=RequestSpec(build=_get("/users"), paginator=_query, records_path="data"),
    raw_model=RawUser,
    mapper=mappers.user,
    cursor_field=None,
    deletes=Sweep(),
    docs_url="https://docs.usepylon.com/pylon-docs/developer/api/api-reference/users",
    serving=serving.USERS,
)

TEAMS = Stream(
    name="teams",
    full=RequestSpec(build=_get("/teams"), paginator=_query, records_path="data"),
    raw_model=RawTeam,
    mapper=mappers.team,
    cursor_field=None,
    deletes=Sweep(),
    docs_url="https://docs.usepylon.com/pylon-docs/developer/api/api-reference/teams",
    serving=serving.TEAMS,
)

#: how late a request may reach Pylon after its booked slot. Pylon counts in fixed windows,
#: and a request booked at the end of one can land in the next after its latency: booking
#: the whole budget met an occasional 429 (the benchmark, one in 3,000). Each window keeps
#: room for the requests of the last LATE_S (one at ten a minute: 0.9 of the budget, as a
#: fixed 0.9 share did before; a hundredth when the benchmark runs the clock 30 times faster)
LATE_S = 1.0


def _limit(prefix: str, per_minute: int, method: str, pattern: str) -> EndpointLimit:
    """Pylon's stated budget (`per_minute`), booked less the room for late requests."""
    return EndpointLimit(prefix, per_minute, 60, method=method, pattern=pattern, late_s=LATE_S)


#: Pylon's per-endpoint limits as its API reference states them (GET /issues 10 a minute,
#: GET /issues/{id}/messages 20); a pattern gives each endpoint its own budget although they
#: share the /issues prefix. The search's and the lists' budgets are not stated on the pages
#: found: 20 and 60 are assumed (Airbyte's connector documents "most other endpoints" at 60)
ENDPOINT_LIMITS = (
    _limit("/issues", 10, "GET", r"/issues"),
    _limit("/issues/search", 20, "POST", r"/issues/search"),
    _limit("/issues/", 20, "GET", r"/issues/[^/]+/messages"),
    _limit("/accounts", 60, "GET", r"/accounts"),
    _limit("/users", 60, "GET", r"/users"),
    _limit("/teams", 60, "GET", r"/teams"),
)


def _after_run(db: Any, connection_id: str, run: Any) -> None:
    from shared.vendors.pylon import precompute

    precompute.refresh(db, connection_id)


CONNECTOR = Connector(
    vendor="pylon",
    title="Pylon",
    docs_url="https://docs.usepylon.com/pylon-docs/developer/api/api-reference",
    config_model=PylonConfig,
    auth=BearerToken("api_token"),
    base_urls=BASE_URLS,
    rate_limit=RateLimit(
        requests=120,
        per_seconds=60,
        # Pylon documents no rate-limit headers; a 429's Retry-After is honoured
        headers=RateLimitHeaders(limit=None, remaining=None, reset=None),
        endpoints=ENDPOINT_LIMITS,
        # every endpoint's budget is a few requests a minute; bookings take no lock
        # (shared.store.ratelimits), so six tasks at once keep several budgets busy together
        max_concurrency=6,
        queue_share=0.9,
    ),
    streams=(ISSUES, MESSAGES, ACCOUNTS, USERS, TEAMS),
    # the support team's dashboard is fresh every morning at 11:00 UTC
    schedule=Schedule(cron="0 11 * * *"),
    proxy=Proxy(paths=("/issues/{id}", "/issues/{id}/messages", "/accounts/{id}", "/users/{id}", "/teams/{id}"),
                reserved=("search",)),
    after_run=_after_run,
)
