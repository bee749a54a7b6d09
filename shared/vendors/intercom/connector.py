"""The Intercom connector, declared: streams, pagination, cursor field, rate limit.

Full import pages through the list endpoints; incremental sync asks the search endpoints
for records whose updated_at is past the high-water mark (contacts, conversations).
Docs: https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io
"""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.vendors.connector import Connector, RequestSpec, Schedule, Stream, VendorSettings
from shared.vendors.intercom import mappers
from shared.vendors.intercom.raw import RawAdmin, RawCompany, RawContact, RawConversation
from shared.vendors.pagination import BodyCursor, PageNumber, PageRequest, QueryCursor, SinglePage
from shared.vendors.ratelimit import RateLimit, RateLimitHeaders

API_VERSION = "2.14"


class IntercomSettings(VendorSettings):
    """INTERCOM_BASE_URL (the sandbox or https://api.intercom.io) and INTERCOM_ACCESS_TOKEN."""

    model_config = SettingsConfigDict(env_prefix="INTERCOM_", extra="ignore")
    base_url: str = "https://api.intercom.io"


def _auth(settings: IntercomSettings) -> dict[str, str]:
    if settings.access_token is None:
        return {}
    return {"Authorization": f"Bearer {settings.access_token.get_secret_value()}"}


_list_cursor = QueryCursor(cursor_param="starting_after", cursor_path="pages.next.starting_after", size_param="per_page")
_search_cursor = BodyCursor(
    container="pagination", cursor_key="starting_after", size_key="per_page", cursor_path="pages.next.starting_after"
)


def _updated_since(path: str):  # type: ignore[no-untyped-def]
    def build(since: float | None) -> PageRequest:
        query = {"field": "updated_at", "operator": ">", "value": int(since or 0)}
        return PageRequest(method="POST", path=path, json_body={"query": query})

    return build


CONTACTS = Stream(
    name="contacts",
    full=RequestSpec(build=lambda _: PageRequest(path="/contacts"), paginator=_list_cursor, records_path="data"),
    incremental=RequestSpec(build=_updated_since("/contacts/search"), paginator=_search_cursor, records_path="data"),
    raw_model=RawContact,
    mapper=mappers.contact,
    page_size=150,
    # Intercom documents that contact date searches compare calendar days, so `>` on a
    # timestamp can skip later updates of the same day: overlap by a whole day.
    lookback_s=86_400,
    docs_url="https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/contacts/listcontacts",
)

COMPANIES = Stream(
    name="companies",
    full=RequestSpec(
        build=lambda _: PageRequest(path="/companies"),
        paginator=PageNumber(page_param="page", size_param="per_page", total_pages_path="pages.total_pages"),
        records_path="data",
    ),
    raw_model=RawCompany,
    mapper=mappers.company,
    page_size=60,
    docs_url="https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/companies/retrievecompany",
)

ADMINS = Stream(
    name="admins",
    full=RequestSpec(build=lambda _: PageRequest(path="/admins"), paginator=SinglePage(), records_path="admins"),
    raw_model=RawAdmin,
    mapper=mappers.admin,
    cursor_field=None,
    docs_url="https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/admins/listadmins",
)

CONVERSATIONS = Stream(
    name="conversations",
    full=RequestSpec(
        build=lambda _: PageRequest(path="/conversations"), paginator=_list_cursor, records_path="conversations"
    ),
    incremental=RequestSpec(
        build=_updated_since("/conversations/search"), paginator=_search_cursor, records_path="conversations"
    ),
    raw_model=RawConversation,
    mapper=mappers.conversation,
    page_size=150,
    docs_url="https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/conversations/listconversations",
)

CONNECTOR = Connector(
    vendor="intercom",
    title="Intercom",
    docs_url="https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io",
    settings_model=IntercomSettings,
    auth_headers=_auth,
    default_headers={"Intercom-Version": API_VERSION},
    # Intercom allows 10,000 calls/min per app, spread over 10 s windows; the queue uses 90%
    # of it and leaves the rest for live searches, updates and the proxy.
    rate_limit=RateLimit(
        requests=10_000,
        per_seconds=60,
        headers=RateLimitHeaders("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "epoch"),
        max_concurrency=20,
        queue_share=0.9,
    ),
    streams=(CONTACTS, COMPANIES, ADMINS, CONVERSATIONS),
    schedule=Schedule(cron="0 5 * * *"),
    secrets=("intercom-access-token",),
)
