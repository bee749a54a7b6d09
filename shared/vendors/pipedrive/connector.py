"""The Pipedrive connector, declared: one personal connection per salesperson.

Each user stores their own API token (sent as the `x-api-token` header, so it never sits in
a URL or a log line); budgets are per token (scope "token": shared.sync.budgets books each
connection's in the store, two users never share one).

Streams: the custom-field definitions (v1 /personFields, /organizationFields, /dealFields,
start/limit pages), then persons, organizations, deals and activities through API v2
lists: the first sync pages through everything (cursor pagination, 500 a page), later
syncs ask for `updated_since` the high-water mark, oldest change first. (The v1 /recents
endpoint reaches back only about a month, so it cannot recover from a long pause.) v2
lists leave deleted items out, so deletes are found by absence in a periodic full pass.

Rate limits (https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting): a burst
limit per token in 2-second windows (20 requests on the smallest plan, reported in
x-ratelimit-limit / -remaining / -reset, the reset in seconds), and a daily token budget
per company (each call costs tokens: token_cost), reported as x-daily-ratelimit-token-limit /
-remaining, booked ahead of every call (RateLimit.daily): a sync stops at the reserve and
its chunks wait for midnight UTC instead of meeting a 429. A 429 carries Retry-After;
callers that keep calling after 429s get blocked, so a 429 hands the page back to Cloud
Tasks and holds the connection's budget until then (shared.vendors.http), never retries in
a tight loop.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pydantic import Field

from shared.vendors.auth import ApiKey
from shared.vendors.connector import (
    ConnectionConfig,
    Connector,
    MapContext,
    Proxy,
    RequestSpec,
    Schedule,
    Slice,
    Stream,
    Sweep,
)
from shared.vendors.pagination import Offset, PageRequest, QueryCursor
from shared.vendors.pipedrive import mappers, serving
from shared.vendors.pipedrive.activities import LOG_ACTIVITY, activity_key
from shared.vendors.pipedrive.my500 import MY_500
from shared.vendors.pipedrive.raw import RawActivity, RawDeal, RawField, RawOrganization, RawPerson
from shared.vendors.pipedrive.warmness import WarmnessConfig
from shared.vendors.pipedrive.webhooks import SCHEME
from shared.vendors.ratelimit import DailyAllowance, RateLimit, RateLimitHeaders

if TYPE_CHECKING:
    from shared.vendors.http import VendorClient

#: with an API token every company is reached through api.pipedrive.com
BASE_URLS = ("https://api.pipedrive.com",)
#: what a person list asks for besides the default fields (recency for warmness)
PERSON_FIELDS = "last_activity_date,last_incoming_mail_time,last_outgoing_mail_time"


class PipedriveConfig(ConnectionConfig):
    """One user's Pipedrive: the company domain (for links) and their warmness settings."""

    base_url: str = "https://api.pipedrive.com"
    company_domain: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    warmness: WarmnessConfig = Field(default_factory=WarmnessConfig)
    #: the token's own Pipedrive user (GET /api/v1/users/me), learned when the connection is
    #: made or its token replaced (shared.connections.identity): lists ask for `owner_id` =
    #: this user and ingest keeps only their records, so a token that sees the whole company
    #: still gives its user only their own contacts
    user_id: int | None = Field(None, ge=1)


def identify(client: VendorClient) -> dict[str, Any]:
    """Whose token this is: GET /api/v1/users/me (https://developers.pipedrive.com/docs/api/v1/Users#getCurrentUser)."""
    data = client.fetch(PageRequest(path="/api/v1/users/me")).get("data") or {}
    learned: dict[str, Any] = {"user_id": int(data["id"])}
    domain = data.get("company_domain")
    if isinstance(domain, str) and re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", domain):
        learned["company_domain"] = domain
    return learned


def _owner(window: Slice) -> dict[str, str]:
    user = getattr(window.config, "user_id", None)
    return {"owner_id": str(user)} if user else {}


def owned(doc: dict[str, Any], context: MapContext) -> bool:
    """A record is the connection's when its owner is the token's user (or that is not known yet)."""
    user = context.config.get("user_id")
    return user is None or doc.get("owner_id") in (None, user, str(user))


_v2 = QueryCursor(cursor_param="cursor", cursor_path="additional_data.next_cursor", size_param="limit")
_v1 = Offset(
    offset_param="start",
    limit_param="limit",
    more_path="additional_data.pagination.more_items_in_collection",
    next_offset_path="additional_data.pagination.next_start",
)


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def token_cost(method: str, path: str) -> int:
    """What a call costs of the daily token budget (https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting):
    a search 40, a write 10, one item 2, a list 20."""
    if "/search" in path:
        return 40
    if method != "GET":
        return 10
    return 2 if re.search(r"/(\d+|me)$", path) else 20


def _list(path: str, **params: str) -> Callable[[Slice], PageRequest]:
    def build(window: Slice) -> PageRequest:
        return PageRequest(path=path, params={"sort_by": "id", "sort_direction": "asc", **_owner(window), **params})

    return build


def _changed(path: str, **params: str) -> Callable[[Slice], PageRequest]:
    def build(window: Slice) -> PageRequest:
        since = {"updated_since": _rfc3339(window.since)} if window.since else {}
        return PageRequest(
            path=path, params={"sort_by": "update_time", "sort_direction": "asc", **since, **_owner(window), **params}
        )

    return build


def _fields(name: str, path: str) -> Stream[RawField]:
    return Stream(
        name=name,
        full=RequestSpec(build=lambda _: PageRequest(path=path), paginator=_v1, records_path="data"),
        raw_model=RawField,
        mapper=mappers.field,
        primary_key="key",
        cursor_field=None,
        page_size=500,
        deletes=Sweep(every_s=86_400),
        docs_url="https://developers.pipedrive.com/docs/api/v1/PersonFields",
    )


PERSON_FIELD_DEFS = _fields("person_fields", "/api/v1/personFields")
ORGANIZATION_FIELD_DEFS = _fields("organization_fields", "/api/v1/organizationFields")
DEAL_FIELD_DEFS = _fields("deal_fields", "/api/v1/dealFields")


def _v2_stream(name: str, path: str, raw: type, mapper: Callable[..., dict], **kwargs: object) -> Stream:  # type: ignore[type-arg]
    extra = dict(kwargs.pop("params", {}) or {})  # type: ignore[call-overload]
    return Stream(
        name=name,
        full=RequestSpec(build=_list(path, **extra), paginator=_v2, records_path="data"),
        incremental=RequestSpec(build=_changed(path, **extra), paginator=_v2, records_path="data"),
        raw_model=raw,
        mapper=mapper,
        page_size=500,
        cursor_field="update_time",
        # update_time has whole seconds; updated_since is inclusive: a short overlap suffices
        lookback_s=120,
        deletes=Sweep(every_s=7 * 86_400),
        docs_url=f"https://developers.pipedrive.com/docs/api/v2/{name.capitalize()}",
        owned=owned,
        **kwargs,  # type: ignore[arg-type]
    )


PERSONS = _v2_stream(
    "persons", "/api/v2/persons", RawPerson, mappers.person,
    params={"include_fields": PERSON_FIELDS},
    serving=serving.PERSONS, refine=mappers.refine_person, lookups=("person_fields",),
)
ORGANIZATIONS = _v2_stream(
    "organizations", "/api/v2/organizations", RawOrganization, mappers.organization,
    serving=serving.ORGANIZATIONS, refine=mappers.refine_organization, lookups=("organization_fields",),
)
DEALS = _v2_stream(
    "deals", "/api/v2/deals", RawDeal, mappers.deal,
    serving=serving.DEALS, refine=mappers.refine_deal, lookups=("deal_fields",),
)
ACTIVITIES = _v2_stream("activities", "/api/v2/activities", RawActivity, mappers.activity, serving=serving.ACTIVITIES,
                        key=activity_key)

PROXY = Proxy(
    paths=("/api/v2/persons/{id}", "/api/v2/organizations/{id}", "/api/v2/deals/{id}", "/api/v2/activities/{id}",
           "/api/v1/users/me", "/api/v1/personFields", "/api/v1/activityTypes"),
    reserved=("search", "collection", "me"),
)

CONNECTOR = Connector(
    vendor="pipedrive",
    title="Pipedrive",
    docs_url="https://developers.pipedrive.com/docs/api/v2",
    config_model=PipedriveConfig,
    auth=ApiKey(field="api_token", header="x-api-token"),
    ownership="user",
    base_urls=BASE_URLS,
    rate_limit=RateLimit(
        requests=20,
        per_seconds=2,
        scope="token",
        headers=RateLimitHeaders("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "delta"),
        max_concurrency=10,
        queue_share=0.8,
        pace_below=0.25,
        # each user's token has its own 20 per 2 s; the queue serves 8 users' budgets at once
        parallel_tokens=8,
        # the company's daily token budget, booked ahead of every call; a sync leaves 5% of
        # it for what users do live (a logged activity's push costs 10)
        daily=DailyAllowance(remaining_header="x-daily-ratelimit-token-remaining",
                             limit_header="x-daily-ratelimit-token-limit", cost=token_cost),
        reserve_share=0.05,
    ),
    # field definitions first: persons are named by them as they are stored
    streams=(PERSON_FIELD_DEFS, ORGANIZATION_FIELD_DEFS, DEAL_FIELD_DEFS, PERSONS, ORGANIZATIONS, DEALS, ACTIVITIES),
    schedule=Schedule(cron="*/30 * * * *"),
    proxy=PROXY,
    views=(MY_500,),
    creates=(LOG_ACTIVITY,),
    identify=identify,
    webhooks=SCHEME,
)
