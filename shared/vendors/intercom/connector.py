"""The Intercom connector, declared: streams, pagination, cursor field, rate limit.

Full import pages through the list endpoints (contacts: the search, by creation time, in
parallel windows that split until each is about 10 pages); incremental sync asks the search
endpoints for records whose updated_at is past the high-water mark (contacts, conversations).
Conversation parts are a child stream: GET /conversations/{id} for each conversation a
run created or changed, never for unchanged ones. Tags, teams, segments and data
attribute definitions are small workspace listings read whole each run. Every stream
keeps Intercom's whole payload under `raw` (source, rating, SLA, teammates...).
Docs: https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io
"""

from __future__ import annotations

from collections.abc import Callable

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
from shared.vendors.intercom import mappers, serving
from shared.vendors.intercom.actions import CONTACT_CUSTOM_ATTRIBUTES
from shared.vendors.intercom.raw import (
    RawAdmin,
    RawCompany,
    RawContact,
    RawConversation,
    RawConversationPart,
    RawDataAttribute,
    RawSegment,
    RawTag,
    RawTeam,
)
from shared.vendors.intercom.stats import CONVERSATION_STATS
from shared.vendors.intercom.webhooks import SCHEME as WEBHOOKS
from shared.vendors.pagination import BodyCursor, PageRequest, QueryCursor, SinglePage
from shared.vendors.ratelimit import RateLimit, RateLimitHeaders

API_VERSION = "2.14"


#: Intercom's regional hosts: https://developers.intercom.com/docs/build-an-integration/learn-more/rest-apis/regional-hosting
BASE_URLS = ("https://api.intercom.io", "https://api.eu.intercom.io", "https://api.au.intercom.io")


class IntercomConfig(ConnectionConfig):
    """One Intercom workspace: its regional host (the sandbox's URL locally)."""

    base_url: str = "https://api.intercom.io"


_list_cursor = QueryCursor(cursor_param="starting_after", cursor_path="pages.next.starting_after", size_param="per_page")
_search_cursor = BodyCursor(
    container="pagination", cursor_key="starting_after", size_key="per_page", cursor_path="pages.next.starting_after"
)


def _get(path: str) -> Callable[[Slice], PageRequest]:
    def build(_: Slice) -> PageRequest:
        return PageRequest(path=path)

    return build


def _updated_since(path: str) -> Callable[[Slice], PageRequest]:
    def build(window: Slice) -> PageRequest:
        query = {"field": "updated_at", "operator": ">", "value": int(window.since or 0)}
        return PageRequest(method="POST", path=path, json_body={"query": query})

    return build


DAY = 86_400


def _created_in(path: str) -> Callable[[Slice], PageRequest]:
    """Records created in the window's whole UTC days. Intercom compares contact dates by
    calendar day (`>` starts at the next day, `<` ends before the day); with edges on UTC
    midnights, `> since - 1` and `< until` (rounded up to a midnight) select the same
    records whether the comparison is by day or by second."""

    def build(window: Slice) -> PageRequest:
        since, until = int(window.since or 0), int(window.until or 0)
        query = {"operator": "AND", "value": [
            {"field": "created_at", "operator": ">", "value": since - 1},
            {"field": "created_at", "operator": "<", "value": -(-until // DAY) * DAY},
        ]}
        return PageRequest(method="POST", path=path, json_body={"query": query})

    return build


# A full import is cut into yearly windows of creation time, fetched in parallel (Intercom
# allows 10,000 requests a minute: a large workspace's import is bound by our own work, so
# partitions that run side by side bring it down). A window whose search matches 1,500
# contacts or more (10 pages) splits in two, on a UTC midnight, until each is about that
# size, so a workspace whose contacts crowd into one year still fans out. Twenty years
# reach back past Intercom's launch (2011); creation times never change, so no contact
# moves between windows while they are read.
CONTACT_WINDOWS = Windows(backfill_s=20 * 365 * DAY, max_span_s=365 * DAY, align_s=DAY, result_cap=1_500,
                          total_path="total_count", min_span_s=DAY)

CONTACTS = Stream(
    name="contacts",
    full=RequestSpec(build=_created_in("/contacts/search"), paginator=_search_cursor, records_path="data"),
    windows=CONTACT_WINDOWS,
    incremental=RequestSpec(build=_updated_since("/contacts/search"), paginator=_search_cursor, records_path="data"),
    raw_model=RawContact,
    mapper=mappers.contact,
    page_size=150,
    # Intercom documents that contact date searches compare calendar days, so `>` on a
    # timestamp can skip later updates of the same day: overlap by a whole day.
    lookback_s=86_400,
    deletes=Sweep(),
    docs_url="https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/contacts/listcontacts",
    keep_raw=True,
    serving=serving.CONTACTS,
)

def _scroll_busy(status: int, error: str) -> bool:
    """Intercom allows one open scroll per workspace: a second one is refused until the
    first ends or expires."""
    return status == 400 and "scroll already exists" in error.lower()


# GET /companies lists at most 10,000 companies, leaves out those with no users and orders
# by a field that changes while paging: the scroll is the only complete listing. A scroll
# expires after a minute idle (404): the chain then scrolls again from the top.
COMPANIES = Stream(
    name="companies",
    full=RequestSpec(
        build=_get("/companies/scroll"),
        paginator=QueryCursor(cursor_param="scroll_param", cursor_path="scroll_param"),
        records_path="data",
        restart_statuses=frozenset({404}),
        busy=_scroll_busy,
        scroll_idle_s=60.0,
    ),
    raw_model=RawCompany,
    mapper=mappers.company,
    page_size=50,
    deletes=Sweep(),
    docs_url="https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/companies/scrolloverallcompanies",
    keep_raw=True,
    serving=serving.COMPANIES,
)

ADMINS = Stream(
    name="admins",
    full=RequestSpec(build=_get("/admins"), paginator=SinglePage(), records_path="admins"),
    raw_model=RawAdmin,
    mapper=mappers.admin,
    cursor_field=None,
    deletes=Sweep(),
    docs_url="https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/admins/listadmins",
    keep_raw=True,
    serving=serving.ADMINS,
)

CONVERSATIONS = Stream(
    name="conversations",
    full=RequestSpec(
        build=_get("/conversations"), paginator=_list_cursor, records_path="conversations"
    ),
    incremental=RequestSpec(
        build=_updated_since("/conversations/search"), paginator=_search_cursor, records_path="conversations"
    ),
    raw_model=RawConversation,
    mapper=mappers.conversation,
    page_size=150,
    docs_url="https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/conversations/listconversations",
    keep_raw=True,
    serving=serving.CONVERSATIONS,
)


def _conversation(window: Slice) -> PageRequest:
    if not window.parent_id or not window.parent_id.isalnum():
        raise ValueError("a conversation id is alphanumeric")
    return PageRequest(path=f"/conversations/{window.parent_id}")


# The parts come with the conversation (at most its 500 most recent): one request per
# conversation created or changed in the run, batched 20 to a task; a run where nothing
# changed asks for none. Keys are `{conversation id}:{part id}`.
CONVERSATION_PARTS = Stream(
    name="conversation_parts",
    full=RequestSpec(build=_conversation, paginator=SinglePage(), records_path="conversation_parts.conversation_parts"),
    raw_model=RawConversationPart,
    mapper=mappers.conversation_part,
    parent="conversations",
    child_batch=20,
    cursor_field="updated_at",
    docs_url="https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/conversations/retrieveconversation",
    keep_raw=True,
    serving=serving.CONVERSATION_PARTS,
)

# Workspace listings: one page each, read whole every run (they are small), deletions swept.
TAGS = Stream(
    name="tags",
    full=RequestSpec(build=_get("/tags"), paginator=SinglePage(), records_path="data"),
    raw_model=RawTag,
    mapper=mappers.tag,
    cursor_field=None,
    deletes=Sweep(),
    docs_url="https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/tags/listtags",
    keep_raw=True,
    serving=serving.TAGS,
)

TEAMS = Stream(
    name="teams",
    full=RequestSpec(build=_get("/teams"), paginator=SinglePage(), records_path="teams"),
    raw_model=RawTeam,
    mapper=mappers.team,
    cursor_field=None,
    deletes=Sweep(),
    docs_url="https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/teams/listteams",
    keep_raw=True,
    serving=serving.TEAMS,
)


def _segments(_: Slice) -> PageRequest:
    return PageRequest(path="/segments", params={"include_count": "true"})


SEGMENTS = Stream(
    name="segments",
    full=RequestSpec(build=_segments, paginator=SinglePage(), records_path="segments"),
    raw_model=RawSegment,
    mapper=mappers.segment,
    # counts change without updated_at moving: content decides what is rewritten
    cursor_field=None,
    deletes=Sweep(),
    docs_url="https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/segments/listsegments",
    keep_raw=True,
    serving=serving.SEGMENTS,
)

DATA_ATTRIBUTES = Stream(
    name="data_attributes",
    full=RequestSpec(build=_get("/data_attributes"), paginator=SinglePage(), records_path="data"),
    raw_model=RawDataAttribute,
    mapper=mappers.data_attribute,
    key=mappers.data_attribute_key,
    cursor_field=None,
    deletes=Sweep(),
    docs_url="https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/data-attributes/lisdataattributes",
    keep_raw=True,
    serving=serving.DATA_ATTRIBUTES,
)

#: the read-only proxy: GET these paths only; words Intercom uses where an id would be
#: (POST /contacts/search, /contacts/merge ...) never count as ids
PROXY = Proxy(
    paths=("/contacts/{id}", "/companies/{id}", "/conversations/{id}", "/admins", "/admins/{id}", "/tags", "/teams",
           "/segments", "/data_attributes"),
    reserved=("search", "scroll", "list", "merge", "find", "archive", "unarchive", "attach", "detach", "me"),
)

CONNECTOR = Connector(
    vendor="intercom",
    title="Intercom",
    docs_url="https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io",
    config_model=IntercomConfig,
    auth=BearerToken("access_token"),
    base_urls=BASE_URLS,
    default_headers={"Intercom-Version": API_VERSION},
    # Intercom allows 10,000 calls/min per app, spread over 10 s windows; the queue uses all
    # of it: live searches, updates and the proxy book the connection's live budget and the
    # sync gives way to them as they happen (shared/sync/budgets.py).
    rate_limit=RateLimit(
        requests=10_000,
        per_seconds=60,
        headers=RateLimitHeaders("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "epoch"),
        max_concurrency=20,
        queue_share=1.0,
    ),
    streams=(CONTACTS, COMPANIES, ADMINS, CONVERSATIONS, CONVERSATION_PARTS, TAGS, TEAMS, SEGMENTS, DATA_ATTRIBUTES),
    schedule=Schedule(cron="0 5 * * *"),
    proxy=PROXY,
    actions=(CONTACT_CUSTOM_ATTRIBUTES,),
    views=(CONVERSATION_STATS,),
    webhooks=WEBHOOKS,
)
