"""The Salesforce connector, declared.

Auth: OAuth 2 web-server flow (authorization code + PKCE) at `login_url` (login.salesforce.com,
test.salesforce.com for sandbox orgs, or the org's My Domain); the token answer carries
`instance_url`, which becomes the connection's base URL: every API call goes to the org's
own instance, allowed only when its host is a Salesforce one (`base_url_hosts`). Salesforce
access tokens carry no `expires_in`: an expired one is refreshed on its 401
(INVALID_SESSION_ID), once, without failing the run.

Objects: Account, Contact and Opportunity through SOQL (GET /services/data/vXX.X/query?q=...),
up to 2,000 records a batch, then `nextRecordsUrl` (a path on the instance) until `done`.
Incremental on SystemModstamp (> the high-water mark minus a lookback, ORDER BY
SystemModstamp, Id). Deletes: queryAll lists soft-deleted records (IsDeleted = true, in the
recycle bin for about 15 days) whose SystemModstamp is the deletion's time: each becomes a
tombstone. Fields: a default set per object plus any the connection's config adds (custom
`__c` fields included), validated as API names so nothing else enters the query.

Allowance: every answer carries `Sforce-Limit-Info: api-usage=used/max`, the org's daily API
requests (a rolling 24 hours, shared with every other integration of the org); the latest is
kept on the connection, and at 10% remaining the connection pauses for an hour instead of
spending the rest. GET /limits is synced too (stream `limits`: DailyApiRequests and the others).
Docs: https://developer.salesforce.com/docs/platform/api-rest/guide/resources-query.html
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from shared.vendors.auth import OAuth2
from shared.vendors.connector import (
    ConnectionConfig,
    Connector,
    RequestSpec,
    Schedule,
    Slice,
    Stream,
    TombstoneStream,
)
from shared.vendors.pagination import NextUrl, PageRequest, SinglePage
from shared.vendors.ratelimit import RateLimit, RateLimitHeaders, RateLimitState
from shared.vendors.salesforce import mappers, serving
from shared.vendors.salesforce.raw import RawAccount, RawContact, RawDeleted, RawOpportunity

API_VERSION = "v62.0"
SObject = Literal["Account", "Contact", "Opportunity"]
_COMMON = ("Id", "Name", "OwnerId", "CreatedDate", "LastModifiedDate", "SystemModstamp")
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "Account": (*_COMMON, "Type", "Industry"),
    "Contact": (*_COMMON, "FirstName", "LastName", "Email", "AccountId"),
    "Opportunity": (*_COMMON, "AccountId", "StageName", "Amount", "CloseDate", "IsClosed", "IsWon"),
}
#: an API name (standard or custom, namespaced or not): letters, digits, underscores
_API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")
#: production and sandbox hosts a connection's instance URL may have
INSTANCE_HOSTS = (
    r"[a-z0-9-]+\.my\.salesforce\.com",
    r"[a-z0-9-]+\.sandbox\.my\.salesforce\.com",
    r"[a-z0-9-]+\.salesforce\.com",
)
LOGIN_URL = "https://login.salesforce.com"


class SalesforceConfig(ConnectionConfig):
    """One Salesforce org. `base_url` is the instance URL the OAuth install stores; before
    the install it is the login URL. `fields` adds API names to an object's default set."""

    base_url: str = LOGIN_URL
    login_url: str = Field(LOGIN_URL, description="login.salesforce.com, test.salesforce.com or the org's My Domain")
    fields: dict[SObject, list[str]] = Field(default_factory=dict, description="Extra fields per object, by API name")

    @field_validator("login_url")
    @classmethod
    def _login_host(cls, value: str) -> str:
        value = value.rstrip("/")
        host = re.fullmatch(r"https://([a-z0-9.-]+)", value.lower())
        local = re.fullmatch(r"http://(127\.0\.0\.1|localhost):\d{1,5}", value)
        if local is None and (host is None or not any(re.fullmatch(p, host.group(1)) for p in INSTANCE_HOSTS)):
            raise ValueError("must be https://login.salesforce.com, https://test.salesforce.com or a My Domain")
        return value

    @field_validator("fields")
    @classmethod
    def _api_names(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for names in value.values():
            bad = [n for n in names if not _API_NAME.fullmatch(n)]
            if bad or len(names) > 200:
                raise ValueError(f"not API names: {bad[:5]}" if bad else "at most 200 extra fields per object")
        return value

    def select(self, sobject: str) -> list[str]:
        extra = self.fields.get(sobject, [])  # type: ignore[call-overload]
        return list(dict.fromkeys([*DEFAULT_FIELDS[sobject], *extra]))


def soql_time(unix: float) -> str:
    """A SOQL dateTime literal (unquoted, UTC)."""
    return datetime.fromtimestamp(unix, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _config(piece: Slice) -> SalesforceConfig:
    if not isinstance(piece.config, SalesforceConfig):
        raise ValueError("a Salesforce connection needs its SalesforceConfig")
    return piece.config


def _query(sobject: str, *, deleted: bool = False) -> Callable[[Slice], PageRequest]:
    """SELECT the object's fields (only Id and SystemModstamp of deleted ones), changed since
    the slice's start when it has one, in SystemModstamp order so a resumed listing is stable."""

    def build(piece: Slice) -> PageRequest:
        select = ["Id", "SystemModstamp"] if deleted else _config(piece).select(sobject)
        where = ["IsDeleted = true"] if deleted else []
        if piece.since is not None:
            where.append(f"SystemModstamp > {soql_time(piece.since)}")
        soql = f"SELECT {', '.join(select)} FROM {sobject}"
        if where:
            soql += " WHERE " + " AND ".join(where)
        soql += " ORDER BY SystemModstamp, Id"
        resource = "queryAll" if deleted else "query"
        return PageRequest(path=f"/services/data/{API_VERSION}/{resource}", params={"q": soql})

    return build


_NEXT = NextUrl("nextRecordsUrl")


def _object(name: str, sobject: str, raw_model: Any, mapper: Any, served: Any) -> Stream[Any]:
    spec = RequestSpec(build=_query(sobject), paginator=_NEXT, records_path="records")
    return Stream(
        name=name,
        full=spec,
        incremental=spec,
        raw_model=raw_model,
        mapper=mapper,
        page_size=2000,
        primary_key="Id",
        cursor_field="SystemModstamp",
        docs_url=f"https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_{sobject.lower()}.htm",
        serving=served,
    )


def _deletes(of: str, sobject: str) -> Stream[RawDeleted]:
    spec = RequestSpec(build=_query(sobject, deleted=True), paginator=_NEXT, records_path="records")
    return Stream(
        name=f"{of}_deleted",
        full=spec,
        incremental=spec,
        raw_model=RawDeleted,
        mapper=lambda raw: {"id": raw.Id},
        page_size=2000,
        primary_key="Id",
        cursor_field="SystemModstamp",
        tombstones=TombstoneStream(of=of),
        docs_url="https://developer.salesforce.com/docs/platform/api-rest/guide/resources-queryall.html",
    )


class RawLimit(BaseModel):
    name: str
    Max: int | None = None
    Remaining: int | None = None


@dataclass(frozen=True)
class LimitsStream(Stream[RawLimit]):
    """GET /limits answers one object keyed by limit name: each becomes a record."""

    def records(self, spec: RequestSpec, response: dict[str, Any]) -> list[Any]:
        return [{"name": k, "Max": v.get("Max"), "Remaining": v.get("Remaining")}
                for k, v in response.items() if isinstance(v, dict)]


LIMITS = LimitsStream(
    name="limits",
    full=RequestSpec(build=lambda _: PageRequest(path=f"/services/data/{API_VERSION}/limits"),
                     paginator=SinglePage(), records_path=""),
    raw_model=RawLimit,
    mapper=lambda raw: {"id": raw.name, "max": raw.Max, "remaining": raw.Remaining},
    primary_key="name",
    cursor_field=None,
    docs_url="https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_limits.htm",
    serving=serving.LIMITS,
)


def limit_info(headers: Mapping[str, str]) -> RateLimitState | None:
    """`Sforce-Limit-Info: api-usage=10018/100000` -> limit 100000, remaining 89982."""
    match = re.search(r"api-usage=(\d+)/(\d+)", headers.get("Sforce-Limit-Info") or "")
    if match is None:
        return None
    used, limit = int(match.group(1)), int(match.group(2))
    return RateLimitState(limit=limit, remaining=max(0, limit - used), reset_in_s=None)


def _over_allowance(status: int, text: str) -> bool:
    """403 REQUEST_LIMIT_EXCEEDED: the org's allowance is spent for now (retried later)."""
    return status == 403 and "REQUEST_LIMIT_EXCEEDED" in text


ACCOUNTS = _object("accounts", "Account", RawAccount, mappers.account, serving.ACCOUNTS)
CONTACTS = _object("contacts", "Contact", RawContact, mappers.contact, serving.CONTACTS)
OPPORTUNITIES = _object("opportunities", "Opportunity", RawOpportunity, mappers.opportunity, serving.OPPORTUNITIES)


def _with_busy(stream: Stream[Any]) -> Stream[Any]:
    from dataclasses import replace

    full = replace(stream.full, busy=_over_allowance)
    return replace(stream, full=full, incremental=full if stream.incremental else None)


CONNECTOR = Connector(
    vendor="salesforce",
    title="Salesforce",
    docs_url="https://developer.salesforce.com/docs/platform/api-rest/guide/intro-rest.html",
    config_model=SalesforceConfig,
    auth=OAuth2(
        authorize_url="{login_url}/services/oauth2/authorize",
        token_url="{login_url}/services/oauth2/token",
        scopes=("api", "refresh_token"),
        base_url_field="instance_url",
    ),
    base_urls=(LOGIN_URL,),
    base_url_hosts=INSTANCE_HOSTS,
    rate_limit=RateLimit(
        # Salesforce limits a day's requests per org (no per-second budget is published for
        # REST); the queue paces each connection gently and the allowance does the rest
        requests=300,
        per_seconds=60,
        scope="token",
        max_concurrency=4,
        headers=RateLimitHeaders(limit=None, remaining=None, reset=None, parse=limit_info),
        reserve_share=0.1,
    ),
    streams=tuple(_with_busy(s) for s in (ACCOUNTS, CONTACTS, OPPORTUNITIES, _deletes("accounts", "Account"),
                                           _deletes("contacts", "Contact"), _deletes("opportunities", "Opportunity"),
                                           LIMITS)),
    schedule=Schedule(cron="*/30 * * * *"),
)
