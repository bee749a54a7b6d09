"""The HubSpot connector, declared: contacts, companies and deals (CRM v3 objects) with the
properties each connection chooses, their associations, over OAuth 2.

Full import: GET /crm/v3/objects/{type}?limit=100&properties=...&after=... (the list's
`paging.next.after` cursor; archived records leave it, so the weekly full pass's sweep
tombstones them). Incremental: POST /crm/v3/objects/{type}/search filtered on the
last-modified property (contacts: lastmodifieddate, others: hs_lastmodifieddate) within a
window, sorted ascending, 200 a page. Search answers at most 10,000 results per query (a
400 past that), so incremental runs are windowed and a window whose `total` reaches
10,000 splits in two mid-run (the engine's adaptive windows) until each half fits.
Associations are child streams read with the v4 associations API for every object a run
created or changed. Webhooks: webhooks.py.

Sources (checked with the search tool):
- objects, list/search paging, the 10,000 cap and 200 a page:
  https://developers.hubspot.com/docs/api/crm/search (Limitations)
- OAuth: authorize at https://app.hubspot.com/oauth/authorize, tokens at
  https://api.hubapi.com/oauth/v1/token (form body with client_id/client_secret), access
  tokens live expires_in=1800 s: https://legacydocs.hubspot.com/docs/methods/oauth2/refresh-access-token
- limits: apps using OAuth 100 requests / 10 s per installing account, daily limits per
  account (https://developers.hubspot.com/apisbytier); search has its own lower rate
  (4/s per token in https://developers.hubspot.com/changelog/crm-search-api-rate-limit-increase,
  5/s per account in the current docs: we book 4/s, the lower of the two)
- rate headers: X-HubSpot-RateLimit-Max/-Remaining per rolling window whose length is
  X-HubSpot-RateLimit-Interval-Milliseconds (10000); -Daily/-Daily-Remaining only for API
  keys and private apps, never on OAuth calls
  (https://developers.hubspot.com/changelog/rate-limit-headers-will-now-appear-for-oauth-authenticated-calls);
  -Secondly(-Remaining) (2018 changelog, API keys) are not relied on; search answers
  carry none of them, only X-HubSpot-Correlation-Id (community report under that changelog
  post), so search is paced by its declared endpoint budget alone
- v4 associations: GET /crm/v4/objects/{type}/{id}/associations/{toType}, 500 a page
  (https://developers.hubspot.com/docs/api-reference/crm-associations-v4)
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pydantic import Field, field_validator

from shared.vendors.auth import OAuth2
from shared.vendors.connector import (
    ConnectionConfig,
    Connector,
    ParentBatch,
    ParentSet,
    RequestSpec,
    Schedule,
    Serving,
    Slice,
    Stream,
    Sweep,
    TombstoneStream,
    Windows,
)
from shared.vendors.hubspot import mappers, serving
from shared.vendors.hubspot.raw import RawAssociationTarget, RawObject
from shared.vendors.hubspot.webhooks import scheme
from shared.vendors.pagination import Cursor, PageRequest, PageToken, dig
from shared.vendors.ratelimit import EndpointLimit, RateLimit, RateLimitHeaders

DAY = 86_400.0
BASE_URLS = ("https://api.hubapi.com",)
AUTH_BASE_URLS = ("https://app.hubspot.com", "https://app-eu1.hubspot.com")
#: search answers at most this many results per query
SEARCH_CAP = 10_000
#: list pages hold at most 100 (search up to 200; one size serves both)
PAGE = 100
SCOPES = ("oauth", "crm.objects.contacts.read", "crm.objects.companies.read", "crm.objects.deals.read")

#: the property search filters on, per object (contacts predate the hs_ prefix)
MODIFIED = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate", "deals": "hs_lastmodifieddate"}

_PROPERTY = r"^[A-Za-z0-9_]{1,100}$"


def _default(names: str) -> Callable[[], list[str]]:
    return lambda: names.split()


class HubSpotConfig(ConnectionConfig):
    """One HubSpot account (portal), and the properties read for each object: HubSpot
    returns only the properties asked for (custom ones by their internal name)."""

    base_url: str = "https://api.hubapi.com"
    #: where the person consents (HubSpot's app host; EU accounts use app-eu1)
    auth_base_url: str = Field("https://app.hubspot.com", description="HubSpot's consent host")
    contact_properties: list[str] = Field(
        default_factory=_default("email firstname lastname lifecyclestage hubspot_owner_id phone company jobtitle"),
        max_length=200)
    company_properties: list[str] = Field(
        default_factory=_default("name domain industry hubspot_owner_id city country numberofemployees"),
        max_length=200)
    deal_properties: list[str] = Field(
        default_factory=_default("dealname dealstage pipeline amount closedate hubspot_owner_id"), max_length=200)

    @field_validator("contact_properties", "company_properties", "deal_properties")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        import re

        bad = [name for name in value if not re.fullmatch(_PROPERTY, name)]
        if bad:
            raise ValueError(f"not HubSpot property names: {bad[:5]}")
        return list(dict.fromkeys(value))

    @field_validator("auth_base_url")
    @classmethod
    def _auth_host(cls, value: str) -> str:
        value = value.rstrip("/")
        if value not in AUTH_BASE_URLS and not value.startswith(("http://127.0.0.1:", "http://localhost:")):
            raise ValueError(f"must be one of {list(AUTH_BASE_URLS)}")
        return value

    def properties(self, object_type: str) -> list[str]:
        chosen = {"contacts": self.contact_properties, "companies": self.company_properties,
                  "deals": self.deal_properties}[object_type]
        return list(dict.fromkeys([*chosen, MODIFIED[object_type], "createdate"]))


def _config(piece: Slice) -> HubSpotConfig:
    if not isinstance(piece.config, HubSpotConfig):
        raise ValueError("a HubSpot connection needs its HubSpotConfig")
    return piece.config


def properties_of(object_type: str, config: Mapping[str, Any] | HubSpotConfig) -> list[str]:
    model = config if isinstance(config, HubSpotConfig) else HubSpotConfig.model_validate(dict(config))
    return model.properties(object_type)


def _ms(unix: float) -> str:
    return str(int(unix * 1000))


def _iso(unix: float) -> str:
    return datetime.fromtimestamp(unix, tz=timezone.utc).isoformat()


@dataclass(frozen=True)
class SearchCursor:
    """The search body's own paging: top-level `limit` and `after` (an offset HubSpot
    hands back as paging.next.after)."""

    def first(self, request: PageRequest, page_size: int) -> PageRequest:
        body = copy.deepcopy(request.json_body or {})
        body["limit"] = page_size
        return request.model_copy(update={"json_body": body})

    def next_cursor(self, request: PageRequest, response: dict[str, Any], records: int) -> Cursor | None:
        after = dig(response, "paging.next.after")
        return {"after": str(after)} if after not in (None, "") and records else None

    def apply(self, request: PageRequest, cursor: Cursor | None) -> PageRequest:
        if not cursor:
            return request
        body = copy.deepcopy(request.json_body or {})
        body["after"] = str(cursor["after"])
        return request.model_copy(update={"json_body": body})


_list_pages = PageToken(token_param="after", token_path="paging.next.after", size_param="limit")


def _lister(object_type: str) -> Callable[[Slice], PageRequest]:
    def build(piece: Slice) -> PageRequest:
        props = ",".join(_config(piece).properties(object_type))
        return PageRequest(path=f"/crm/v3/objects/{object_type}", params={"properties": props, "archived": "false"})

    return build


def _searcher(object_type: str) -> Callable[[Slice], PageRequest]:
    def build(piece: Slice) -> PageRequest:
        prop = MODIFIED[object_type]
        filters = [{"propertyName": prop, "operator": "GTE", "value": _ms(piece.since or 0)}]
        if piece.until is not None:
            filters.append({"propertyName": prop, "operator": "LT", "value": _ms(piece.until)})
        body = {
            "filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
            "properties": _config(piece).properties(object_type),
        }
        return PageRequest(method="POST", path=f"/crm/v3/objects/{object_type}/search", json_body=body)

    return build


def fetch_one(object_type: str, record_id: str, config: Mapping[str, Any]) -> PageRequest:
    """One object with the connection's properties (what a webhook's id-only event needs)."""
    return PageRequest(path=f"/crm/v3/objects/{object_type}/{record_id}",
                       params={"properties": ",".join(properties_of(object_type, config))})


def _object_stream(name: str, mapper: Callable[[RawObject], dict[str, Any]], serves: Serving) -> Stream[RawObject]:
    return Stream(
        name=name,
        full=RequestSpec(build=_lister(name), paginator=_list_pages, records_path="results"),
        incremental=RequestSpec(build=_searcher(name), paginator=SearchCursor(), records_path="results"),
        raw_model=RawObject,
        mapper=mapper,
        page_size=PAGE,
        cursor_field="updatedAt",
        lookback_s=300,
        # incremental runs only (the full import is the list); a window whose search
        # total reaches the cap splits in two
        windows=Windows(backfill_s=365 * DAY, max_span_s=30 * DAY, applies_to="incremental",
                        result_cap=SEARCH_CAP, total_path="total"),
        deletes=Sweep(),
        docs_url=f"https://developers.hubspot.com/docs/api/crm/{name}",
        serving=serves,
    )


def _archived(object_type: str) -> Stream[RawObject]:
    """The object's archived records (HubSpot's recycle bin): each is a tombstone of it.
    The list takes no time filter, so every run reads the whole bin (ids only); versioned
    by updatedAt, so a record restored since (updated later) is never hidden."""

    def build(piece: Slice) -> PageRequest:
        return PageRequest(path=f"/crm/v3/objects/{object_type}",
                           params={"archived": "true", "properties": "hs_object_id"})

    return Stream(
        name=f"{object_type}_archived",
        full=RequestSpec(build=build, paginator=_list_pages, records_path="results"),
        raw_model=RawObject,
        mapper=lambda raw: {"id": raw.id},
        page_size=PAGE,
        cursor_field="updatedAt",
        tombstones=TombstoneStream(of=object_type),
        docs_url=f"https://developers.hubspot.com/docs/api/crm/{object_type}",
    )


#: v4 associations batch read: at most 1,000 inputs per request (changelog, 2025-02-10)
BATCH_READ_MAX = 1_000
NO_ASSOCIATIONS = "crm.associations.NO_ASSOCIATIONS_FOUND"


def split_associations(response: dict[str, Any]) -> dict[str, tuple[list[Any], str | None]]:
    """A batch read's answer per parent: `results[]` ({from: {id}, to: [...], paging}) and,
    in a 207, `errors[]` where NO_ASSOCIATIONS_FOUND names parents that have none (an empty
    set, so their stored associations are removed). Other errors leave a parent unread."""
    out: dict[str, tuple[list[Any], str | None]] = {}
    for result in response.get("results") or []:
        parent = dig(result, "from.id")
        if parent is None:
            continue
        after = dig(result, "paging.next.after")
        rows = out.get(str(parent), ([], None))[0] + list(result.get("to") or [])
        out[str(parent)] = (rows, str(after) if after not in (None, "") else None)
    for error in response.get("errors") or []:
        if isinstance(error, dict) and error.get("subCategory") == NO_ASSOCIATIONS:
            for parent in dig(error, "context.fromObjectId") or []:
                out.setdefault(str(parent), ([], None))
    return out


def _associations(parent: str, to: str) -> Stream[RawAssociationTarget]:
    def build(piece: Slice) -> PageRequest:
        return PageRequest(path=f"/crm/v4/objects/{parent}/{piece.parent_id}/associations/{to}")

    def batch(piece: Slice, owed: Mapping[str, str | None]) -> PageRequest:
        inputs = [{"id": pid, "after": after} if after else {"id": pid} for pid, after in owed.items()]
        return PageRequest(method="POST", path=f"/crm/v4/associations/{parent}/{to}/batch/read",
                           json_body={"inputs": inputs})

    return Stream(
        name=f"{parent[:-1]}_{to}",
        full=RequestSpec(build=build, paginator=_list_pages, records_path="results"),
        batch=ParentBatch(build=batch, split=split_associations),
        raw_model=RawAssociationTarget,
        mapper=mappers.association,
        primary_key="toObjectId",
        parent=parent,
        page_size=500,
        # a parent page holds at most 100 changed objects: one batch read per page and type
        child_batch=PAGE,
        deletes=ParentSet(),
        cursor_field=None,
        docs_url="https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide",
        serving=serving.ASSOCIATIONS,
    )


CONTACTS = _object_stream("contacts", mappers.contact, serving.CONTACTS)
COMPANIES = _object_stream("companies", mappers.company, serving.COMPANIES)
DEALS = _object_stream("deals", mappers.deal, serving.DEALS)
CONTACT_COMPANIES = _associations("contacts", "companies")
DEAL_CONTACTS = _associations("deals", "contacts")
DEAL_COMPANIES = _associations("deals", "companies")
ARCHIVED = tuple(_archived(name) for name in ("contacts", "companies", "deals"))

RATE_HEADERS = RateLimitHeaders(limit="X-HubSpot-RateLimit-Max", remaining="X-HubSpot-RateLimit-Remaining",
                                reset="X-HubSpot-RateLimit-Interval-Milliseconds", reset_kind="window_ms")
SEARCH_LIMIT = EndpointLimit("/crm/v3/objects/", 4, 1, method="POST", pattern=r"/crm/v3/objects/[a-z_0-9]+/search")

CONNECTOR = Connector(
    vendor="hubspot",
    title="HubSpot",
    docs_url="https://developers.hubspot.com/docs/api/overview",
    config_model=HubSpotConfig,
    auth=OAuth2(
        authorize_url="{auth_base_url}/oauth/authorize",
        # the token endpoint is on the API host (a sandbox serves both)
        token_url="{base_url}/oauth/v1/token",
        scopes=SCOPES,
        pkce=False,
        client_auth="body",
    ),
    base_urls=BASE_URLS,
    rate_limit=RateLimit(
        requests=100,
        per_seconds=10,
        scope="token",
        # the rolling window's budget; no reset time is sent, only the window's length.
        # OAuth calls carry no -Daily headers, search answers none of these (RATE_HEADERS)
        headers=RATE_HEADERS,
        endpoints=(SEARCH_LIMIT,),
        max_concurrency=4,
        queue_share=0.9,
    ),
    streams=(CONTACTS, COMPANIES, DEALS, CONTACT_COMPANIES, DEAL_CONTACTS, DEAL_COMPANIES, *ARCHIVED),
    schedule=Schedule(cron="*/15 * * * *"),
    webhooks=scheme(fetch_one),
)
