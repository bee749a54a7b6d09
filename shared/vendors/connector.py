"""What a connector declares. The sync engine, the serving functions, the deploy manifest
and the Firestore rules and indexes read only this.

    Connector(vendor, config model, auth strategy, ownership, rate limit, retry policy,
              schedule, streams, proxy allow-list, actions, views)
    Stream(name, full request, incremental request, paginator, page size, primary key,
           cursor field, raw model, mapper, windows, parent, deletes, serving)
    Serving(response model, filters, sorts, the combinations served, live search, unindexed)

Nothing here is per tenant: a connection (shared.connections) supplies the base URL,
account settings and credentials.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.vendors.auth import AuthStrategy, BearerToken
from shared.vendors.pagination import PageRequest, Paginator, as_unix, dig
from shared.vendors.ratelimit import RateLimit
from shared.vendors.retry import RetryPolicy

if TYPE_CHECKING:
    from shared.vendors.http import VendorClient
    from shared.vendors.webhooks import WebhookScheme

Raw = TypeVar("Raw", bound=BaseModel)
Direction = Literal["asc", "desc"]


class ConnectionConfig(BaseModel):
    """A connection's non-secret settings; connectors subclass it (account id, region...).

    base_url must be one the connector declares (or loopback outside production), so a
    connection can never point the worker, and its credentials, at another host.
    """

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(min_length=8, max_length=300)
    timeout_s: float = Field(30.0, gt=0, le=120)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")) or any(c in value for c in " \n\r\t?#@"):
            raise ValueError("must be an http(s) URL without credentials, query or fragment")
        return value.rstrip("/")


class InvalidConfig(ValueError):
    """A connection's config does not fit its connector (message says which field)."""


@dataclass(frozen=True)
class Schedule:
    cron: str
    time_zone: str = "Etc/UTC"


@dataclass(frozen=True)
class Slice:
    """What one chain asks the vendor for: a time window and/or one parent, with the
    connection's config (account ids, regions). Plain data: it is rebuilt by the worker
    from the chain's record, never carried in a task."""

    since: float | None = None
    until: float | None = None
    parent_id: str | None = None
    config: ConnectionConfig | None = None


@dataclass(frozen=True)
class RequestSpec:
    """How to ask for one page: `build(slice)` gives the first request of a chain."""

    build: Callable[[Slice], PageRequest]
    paginator: Paginator
    records_path: str
    #: vendor statuses that mean "the cursor expired" (Intercom's scroll after a minute
    #: idle): the chain starts the listing again from the top, keeping what it saved
    restart_statuses: frozenset[int] = frozenset()
    #: a refusal that only means "not now" (a scroll already open): retried with backoff
    busy: Callable[[int, str], bool] | None = None
    #: the cursor is a position the vendor keeps (Intercom's company scroll), unused for
    #: this long it expires: reading a page moves it, so no page can be read twice. The
    #: worker reads such a chain's pages one after another in one task (a continuation
    #: waiting in the queue behind a run's child tasks outlived the scroll), and a page that
    #: may have been read before (a retried task) lists again from the top
    scroll_idle_s: float | None = None


@dataclass(frozen=True)
class Windows:
    """A stream whose listing is cut into time windows: a backfill fans out as parallel
    chains, and the stream's high-water mark moves only through completed windows."""

    #: how far back a first import reaches
    backfill_s: float
    #: the widest window the vendor accepts (Pylon: 30 days)
    max_span_s: float
    #: "full": only the first import is windowed; "always": incremental runs too;
    #: "incremental": only incremental runs (HubSpot: the full import is a plain listing,
    #: the incremental a search capped per query)
    applies_to: Literal["full", "always", "incremental"] = "full"
    #: the vendor returns at most this many results per query (HubSpot search: 10,000);
    #: a window whose total reaches it splits in two mid-run
    result_cap: int | None = None
    #: where the response says how many results the query matched
    total_path: str | None = None
    min_span_s: float = 60.0
    #: window edges (and the middles of split windows) fall on multiples of this (Intercom
    #: compares contact dates by UTC day, so its windows are whole days); None: anywhere
    align_s: float | None = None


@dataclass(frozen=True)
class Sweep:
    """Deletes by absence: after a complete full pass, records not seen are soft-deleted.
    A full pass runs at least this often so deletions are caught."""

    every_s: float = 7 * 86_400


@dataclass(frozen=True)
class TombstoneStream:
    """Deletes listed by the vendor: this stream's records are ids of deleted records of `of`."""

    of: str


@dataclass(frozen=True)
class WebhookDeletes:
    """Deletes arrive as webhook events (tombstones through the ingest path)."""


@dataclass(frozen=True)
class ParentSet:
    """A child stream whose read of one parent is that parent's whole set (HubSpot's
    associations): stored children of the parent the read did not return are tombstoned,
    so a removed association disappears when its parent is next read."""


Deletes = Sweep | WebhookDeletes | ParentSet


@dataclass(frozen=True)
class ParentBatch:
    """A child stream the vendor reads for many parents in one request (HubSpot's v4
    associations batch read: up to 1,000 ids, each with its own paging cursor), instead of
    one request per parent. A task serves `Stream.child_batch` parents this way.

    build  (slice, parent id -> that parent's cursor, None for its first page) -> the request
    split  the answer -> parent id -> (its records, its next cursor or None); a parent the
           answer does not mention was not read (nothing is inferred about it)
    """

    build: Callable[[Slice, Mapping[str, str | None]], PageRequest]
    split: Callable[[dict[str, Any]], Mapping[str, tuple[list[Any], str | None]]]


# -- serving: how the synced records are read back ------------------------------------------


class ServedRecord(BaseModel):
    """Base of a stream's response model: the stored document minus what is internal
    (`_sync`, `_expires_at`, lower-cased search copies are dropped by extra="ignore")."""

    model_config = ConfigDict(extra="ignore")

    id: str
    deleted: bool = Field(False, description="The vendor deleted it (listed only with include_deleted=true)")


@dataclass(frozen=True)
class Filter:
    """One query filter of a served stream.

    eq      `name=value` on `field` (lower=True: the field holds a lower-cased copy)
    prefix  `name=text`: case-insensitive prefix on `field`, a *_lower copy (Firestore has
            no ILIKE; the mapper stores the copy)
    range   `{name}_from` / `{name}_to` on a time `field`: a date (a whole day) or an instant,
            both inclusive
    """

    name: str
    field: str
    op: Literal["eq", "prefix", "range"] = "eq"
    #: the parameter's type for eq filters (a Literal[...] lists the allowed values)
    annotation: Any = str
    lower: bool = False
    strip: bool = False
    description: str = ""
    max_length: int = 200


@dataclass(frozen=True)
class Sort:
    """`sort=name` orders by the stored `field`."""

    name: str
    field: str


@dataclass(frozen=True)
class Combination:
    """Filters served together (exactly this set, with any bounds of a range), with which
    sorts and directions. Each (combination, sort, direction) the store cannot serve with
    single-field indexes costs one composite index of the database's 200: declare what
    the dashboards use, not every subset."""

    filters: tuple[str, ...] = ()
    #: None: every sort the stream declares
    sorts: tuple[str, ...] | None = None
    directions: tuple[Direction, ...] = ("asc", "desc")


@dataclass(frozen=True)
class Criteria:
    """A parsed list query, in the declaration's terms (what a live translator receives).

    equals: filter name -> value; prefixes: filter name -> lower-cased prefix;
    ranges: filter name -> [lower, upper) in UTC, either bound None."""

    sort: Sort
    direction: Direction
    limit: int
    equals: dict[str, Any] = field(default_factory=dict)
    prefixes: dict[str, str] = field(default_factory=dict)
    ranges: dict[str, tuple[datetime | None, datetime | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class LivePage:
    """A live answer: the vendor's raw records and where its next page starts (None: last)."""

    records: list[dict[str, Any]]
    after: str | int | None = None


#: (vendor client, criteria, where the previous page ended) -> one page of raw records
LiveSearch = Callable[["VendorClient", Criteria, Any], LivePage]


@dataclass(frozen=True)
class Serving:
    """How a stream is served by the records function (and indexed in Firestore)."""

    #: the response model of one record (a ServedRecord)
    model: type[ServedRecord]
    filters: tuple[Filter, ...] = ()
    sorts: tuple[Sort, ...] = ()
    combinations: tuple[Combination, ...] = (Combination(),)
    default_sort: str | None = None
    default_order: Direction = "desc"
    #: live=true: the same query asked of the vendor
    live: LiveSearch | None = None
    #: free-form maps kept out of Firestore's automatic indexes (custom attributes)
    unindexed: tuple[str, ...] = ()
    default_limit: int = 50
    max_limit: int = 200

    def filter(self, name: str) -> Filter:
        for item in self.filters:
            if item.name == name:
                return item
        raise KeyError(name)

    def sort(self, name: str) -> Sort:
        for item in self.sorts:
            if item.name == name:
                return item
        raise KeyError(name)

    @property
    def searchable(self) -> tuple[str, ...]:
        """The fields searched by prefix (lower-cased copies)."""
        return tuple(f.field for f in self.filters if f.op == "prefix")

    @property
    def default(self) -> Sort:
        return self.sort(self.default_sort) if self.default_sort else self.sorts[0]


@dataclass(frozen=True)
class MapContext:
    """What a stream's `refine` step sees besides the mapped record: the connection's
    config as stored (a plain dict) and the stored records of the sibling streams named in
    `Stream.lookups` (stream -> key -> document), e.g. Pipedrive's custom-field definitions
    that turn 40-character hash keys into names."""

    config: dict[str, Any] = field(default_factory=dict)
    lookups: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


#: (mapped document, context) -> the document to store
Refine = Callable[[dict[str, Any], MapContext], dict[str, Any]]


@dataclass(frozen=True)
class Stream(Generic[Raw]):
    name: str
    full: RequestSpec
    raw_model: type[Raw]
    #: raw record -> the document we store (plain JSON-able dict)
    mapper: Callable[[Raw], dict[str, Any]]
    incremental: RequestSpec | None = None
    page_size: int = 100
    primary_key: str = "id"
    #: the record's key built from several fields, for records that have no single id
    #: (Intercom's standard data attributes); None: the `primary_key` field
    key: Callable[[dict[str, Any]], str | None] | None = None
    #: field of the raw record that drives incremental sync (unix seconds or ISO 8601)
    cursor_field: str | None = "updated_at"
    #: re-read this much before the high-water mark: clock skew and equal timestamps
    lookback_s: int = 300
    docs_url: str = ""
    windows: Windows | None = None
    #: a child stream is fetched per parent record created or changed in this run
    parent: str | None = None
    #: parents served by one task of a child stream (where the queue alone paces and the
    #: vendor reports no window, one: shared.sync.budgets.parents_per_task)
    child_batch: int = 20
    #: a child stream read for many parents per request (None: one parent per request)
    batch: ParentBatch | None = None
    deletes: Deletes | None = None
    #: this stream lists deleted records of another stream (ids only)
    tombstones: TombstoneStream | None = None
    #: keep the vendor's whole payload beside the mapped fields, under `raw`
    keep_raw: bool = False
    #: how the records function serves it (None: synced, not served)
    serving: Serving | None = None
    #: a step after the mapper that needs the connection (its config, sibling streams'
    #: records named in `lookups`): derived fields such as scores, custom fields by name
    refine: Refine | None = None
    lookups: tuple[str, ...] = ()
    #: (mapped document, context) -> is it the connection owner's? A personal connection
    #: whose credentials see more than their owner's records (a Pipedrive user who sees the
    #: whole company) stores only theirs: the others are left out by ingest (not counted)
    owned: Callable[[dict[str, Any], MapContext], bool] | None = None

    def records(self, spec: RequestSpec, response: dict[str, Any]) -> list[Any]:
        found = dig(response, spec.records_path)
        return list(found) if isinstance(found, list) else []

    def record_key(self, raw: dict[str, Any], parent_id: str | None = None) -> str | None:
        """The record's store key: the vendor's id, prefixed by its parent's for children."""
        value = self.key(raw) if self.key is not None else raw.get(self.primary_key)
        if value is None or value == "" or isinstance(value, (dict, list, bool)):
            return None
        return f"{parent_id}:{value}" if parent_id is not None else str(value)

    def cursor_value(self, raw: dict[str, Any]) -> float | None:
        """The record's cursor as unix seconds (vendors use both epoch numbers and ISO)."""
        if not self.cursor_field:
            return None
        return as_unix(dig(raw, self.cursor_field))


# -- what a connector offers besides its records ------------------------------------------------


@dataclass(frozen=True)
class Proxy:
    """The read-only pass-through: GET only, these path templates only. `{id}` stands for
    one plain id segment that is none of `reserved` (action words such as 'search')."""

    paths: tuple[str, ...]
    reserved: tuple[str, ...] = ()
    id_pattern: str = r"[A-Za-z0-9_-]{1,128}"


#: (vendor client, record key, validated input) -> the vendor's raw record after the change
Perform = Callable[["VendorClient", str, Any], dict[str, Any]]
#: (vendor client, record key) -> the vendor's raw record as it is now
ReadOne = Callable[["VendorClient", str], dict[str, Any]]


@dataclass(frozen=True)
class Action:
    """A write-back: change one record of `stream` in the vendor, then in the store.

    The request body is `input_model`'s fields plus `key`; the caller names the version it
    read with If-Match (the record's ETag), or with one of `alt_preconditions` (body field
    -> stored field, compared for equality)."""

    name: str
    stream: str
    input_model: type[BaseModel]
    perform: Perform
    #: read the record from the vendor first: a vendor version newer than the stored one
    #: is stored and answered 409 (someone changed it there since the last sync)
    read: ReadOne | None = None
    summary: str = ""
    alt_preconditions: dict[str, str] = field(default_factory=dict)


#: (vendor client, target key, validated input, marker) -> the vendor's created record
Push = Callable[["VendorClient", str, Any, str], dict[str, Any]]
#: (vendor client, target key, validated input, marker, since unix s) -> the record a previous
#: attempt created (found by the marker it carries), or None
Find = Callable[["VendorClient", str, Any, str, float], dict[str, Any] | None]


@dataclass(frozen=True)
class Create:
    """Something a user logs on a record (an activity on a contact): stored here first,
    then created in the vendor through the outbox (shared.serving.outbox) when `wanted`
    says so, retried with backoff until the vendor accepts it. Every attempt sends a
    marker the vendor stores; before a retry, `find` looks for it, so an attempt that timed
    out after the vendor accepted it is adopted, never repeated."""

    name: str
    #: the stream the record is logged on (the body's `key` is one of its records)
    target_stream: str
    #: the stream the vendor's created record belongs to (stored through the ingest path)
    stream: str
    input_model: type[BaseModel]
    push: Push
    find: Find
    #: (target record as stored, the connection's config) -> push it to the vendor?
    wanted: Callable[[dict[str, Any], dict[str, Any]], bool] = lambda _doc, _config: True
    summary: str = ""
    #: (target key, validated input, marker, state) -> the record as the vendor would list it,
    #: stored in `stream` through the ingest path the moment it is logged (state "pending" or
    #: "skipped"); `stream`'s key must come from the marker the vendor keeps, so the vendor's
    #: record lands on this same document when it is accepted and whenever it is synced
    local: Callable[[str, Any, str, str], dict[str, Any]] | None = None


@dataclass(frozen=True)
class IndexSpec:
    """A composite index a view's query needs: (field, "ASCENDING"|"DESCENDING") in order."""

    collection: str
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class View:
    """A read that is not plain records (statistics, dashboards' lists), computed by its own
    module from one stream; served by the views function, cached until the stream changes."""

    name: str
    stream: str
    query_model: type[BaseModel]
    response_model: type[BaseModel]
    #: (db, connection id, query) -> response
    compute: Callable[[Any, str, Any], BaseModel]
    summary: str = ""
    indexes: tuple[IndexSpec, ...] = ()


#: (db, connection id, the finished run) -> None: work a connector does once a run has
#: ended and written something (Pylon: its dashboard metrics), so pages read precomputed
#: documents instead of scanning records on every view
AfterRun = Callable[[Any, str, Any], None]


@dataclass(frozen=True)
class Connector:
    vendor: str
    title: str
    docs_url: str
    rate_limit: RateLimit
    streams: tuple[Stream[Any], ...]
    schedule: Schedule
    default_headers: dict[str, str] = field(default_factory=dict)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: per-connection settings (validated when a connection is created or updated)
    config_model: type[ConnectionConfig] = ConnectionConfig
    #: how requests are authenticated, from the connection's credentials
    auth: AuthStrategy = field(default_factory=BearerToken)
    #: "org": one account for the organization (admins manage it); "user": one per person
    ownership: Literal["org", "user"] = "org"
    #: base URLs a production connection may use (loopback is allowed outside production)
    base_urls: tuple[str, ...] = ()
    #: https hosts a production connection may use, as regular expressions the whole host
    #: must match, for vendors whose host is per customer and only known after the OAuth
    #: install (Salesforce's instance_url: `[a-z0-9-]+\.my\.salesforce\.com`)
    base_url_hosts: tuple[str, ...] = ()
    #: the proxy's allow-list (None: no proxy)
    proxy: Proxy | None = None
    actions: tuple[Action, ...] = ()
    views: tuple[View, ...] = ()
    #: runs once per finished run that wrote records
    after_run: AfterRun | None = None
    creates: tuple[Create, ...] = ()
    #: how the vendor pushes changes (shared.vendors.webhooks); None: it does not
    webhooks: WebhookScheme | None = None
    #: (vendor client) -> config fields learned from the vendor about whose credentials
    #: these are (Pipedrive: the token's own user id), kept in the connection's config when
    #: it is connected and when its credentials change (shared.connections.identity)
    identify: Callable[[VendorClient], dict[str, Any]] | None = None

    def validate_config(self, raw: dict[str, Any], *, environment: str) -> ConnectionConfig:
        """The connection's config as the connector's model, or InvalidConfig."""
        try:
            config = self.config_model.model_validate(raw)
        except ValidationError as exc:
            reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
            raise InvalidConfig(reason) from None
        loopback = config.base_url.startswith(("http://127.0.0.1:", "http://localhost:"))
        if config.base_url not in self.base_urls and not (loopback and environment != "production") \
                and not self.allows_host(config.base_url):
            allowed = list(self.base_urls) + [f"https://{h}" for h in self.base_url_hosts]
            raise InvalidConfig(f"base_url: must be one of {allowed}")
        return config

    def allows_host(self, base_url: str) -> bool:
        """An https URL with no port, path or user whose host matches a declared pattern."""
        match = re.fullmatch(r"https://([A-Za-z0-9.-]{1,253})", base_url)
        return match is not None and any(re.fullmatch(p, match.group(1).lower()) for p in self.base_url_hosts)

    def stream(self, name: str) -> Stream[Any]:
        for stream in self.streams:
            if stream.name == name:
                return stream
        raise KeyError(f"{self.vendor} has no stream {name!r}")

    def children(self, parent: str) -> list[Stream[Any]]:
        return [s for s in self.streams if s.parent == parent]

    def served(self) -> list[Stream[Any]]:
        """The streams the records function serves."""
        return [s for s in self.streams if s.serving is not None]

    def action(self, name: str) -> Action:
        for action in self.actions:
            if action.name == name:
                return action
        raise KeyError(f"{self.vendor} has no action {name!r}")

    def create(self, name: str) -> Create:
        for create in self.creates:
            if create.name == name:
                return create
        raise KeyError(f"{self.vendor} has no create {name!r}")

    def view(self, name: str) -> View:
        for view in self.views:
            if view.name == name:
                return view
        raise KeyError(f"{self.vendor} has no view {name!r}")
