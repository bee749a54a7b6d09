"""Demo connectors for the connection and OAuth tests (TRIBUTARY_EXTRA_CONNECTORS=tests.demo_connectors).

No shipped vendor is per-user or OAuth yet, so these stand in:

    demo_notes   ownership "user", OAuth2 with PKCE, client secret in the body, its
                 authorize/token URLs under {base_url} (the kit OAuth server in tests)
    demo_crm     ownership "org", OAuth2 with HTTP Basic client auth and an instance_url
                 that replaces the base URL (Salesforce's shape), no PKCE
    demo_keys    ownership "user", an API key in a header (a static credential)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.vendors.auth import ApiKey, OAuth2
from shared.vendors.connector import Connector, RequestSpec, Schedule, Stream
from shared.vendors.pagination import PageRequest, SinglePage
from shared.vendors.ratelimit import RateLimit


class Item(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str


def _item(raw: Item) -> dict[str, Any]:
    return raw.model_dump()


def _stream(name: str) -> Stream[Item]:
    return Stream(
        name=name,
        full=RequestSpec(
            build=lambda _: PageRequest(path=f"/{name}"), paginator=SinglePage(), records_path="data"
        ),
        raw_model=Item,
        mapper=_item,
        cursor_field=None,
    )


def _connector(vendor: str, **kwargs: Any) -> Connector:
    return Connector(
        vendor=vendor,
        title=vendor.replace("_", " ").title(),
        docs_url="https://example.com/docs",
        rate_limit=RateLimit(requests=100, per_seconds=60),
        streams=(_stream("notes"), _stream("folders")),
        schedule=Schedule(cron="0 6 * * *"),
        base_urls=(f"https://api.{vendor}.example",),
        **kwargs,
    )


DEMO_NOTES = _connector(
    "demo_notes",
    ownership="user",
    auth=OAuth2(
        authorize_url="{base_url}/oauth/authorize",
        token_url="{base_url}/oauth/token",
        scopes=("notes.read", "offline"),
    ),
)
DEMO_CRM = _connector(
    "demo_crm",
    ownership="org",
    auth=OAuth2(
        authorize_url="{base_url}/oauth/authorize",
        token_url="{base_url}/oauth/token",
        pkce=False,
        client_auth="basic",
        base_url_field="instance_url",
    ),
)
DEMO_KEYS = _connector("demo_keys", ownership="user", auth=ApiKey(field="api_key", header="X-Api-Key"))

CONNECTORS = (DEMO_NOTES, DEMO_CRM, DEMO_KEYS)
