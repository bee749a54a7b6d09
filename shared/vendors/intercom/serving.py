"""How Intercom's streams are served: response models, the filters, sorts and combinations
the records function accepts, and the live translators (live=true asks Intercom).

Responses carry the stored document shape (mappers.py) minus what is internal: `_sync` and
the lower-cased search copies. A live answer is validated and mapped exactly as a sync
would store it, so a client cannot tell the two apart by shape.

Live: contacts and conversations go through Intercom's search (POST /contacts/search,
/conversations/search) with its own sort and `starting_after` pagination; companies
through GET /companies (?name= is an exact-name lookup there, page numbers otherwise).
The records function filters every live page again with the store's own semantics:
Intercom's search matches some operators loosely (dates by day, `>` as `>=`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from shared.vendors.connector import Combination, Criteria, Filter, LivePage, ServedRecord, Serving, Sort

if TYPE_CHECKING:
    from shared.vendors.http import VendorClient

#: Intercom's largest search page
MAX_SEARCH_PAGE = 150
MAX_COMPANY_PAGE = 60


# -- response models ------------------------------------------------------------------------------


class Contact(ServedRecord):
    role: str | None = None
    external_id: str | None = None
    email: str | None = None
    name: str | None = None
    phone: str | None = None
    owner_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_seen_at: datetime | None = None
    custom_attributes: dict[str, Any] = Field(default_factory=dict)
    company_ids: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    country: str | None = None
    city: str | None = None


class Company(ServedRecord):
    company_id: str | None = None
    name: str | None = None
    website: str | None = None
    industry: str | None = None
    size: int | None = None
    monthly_spend: float | None = None
    user_count: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    custom_attributes: dict[str, Any] = Field(default_factory=dict)


class Admin(ServedRecord):
    name: str | None = None
    email: str | None = None
    job_title: str | None = None
    away_mode_enabled: bool | None = None
    team_ids: list[str] = Field(default_factory=list)


class Conversation(ServedRecord):
    title: str | None = None
    state: str | None = None
    open: bool | None = None
    read: bool | None = None
    priority: str | None = None
    admin_assignee_id: str | None = None
    team_assignee_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_day: str | None = None
    waiting_since: datetime | None = None
    snoozed_until: datetime | None = None
    source_type: str | None = None
    subject: str | None = None
    contact_ids: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    first_admin_reply_at: datetime | None = None
    first_contact_reply_at: datetime | None = None
    time_to_admin_reply_s: int | None = None
    source_id: str | None = None
    source_delivered_as: str | None = None
    source_url: str | None = None
    source_author_type: str | None = None
    source_author_id: str | None = None
    teammate_ids: list[str] = Field(default_factory=list)
    time_to_assignment_s: int | None = None
    time_to_first_close_s: int | None = None
    time_to_last_close_s: int | None = None
    median_time_to_reply_s: int | None = None
    first_assignment_at: datetime | None = None
    first_close_at: datetime | None = None
    last_assignment_at: datetime | None = None
    last_contact_reply_at: datetime | None = None
    last_admin_reply_at: datetime | None = None
    last_close_at: datetime | None = None
    last_closed_by_id: str | None = None
    count_reopens: int | None = None
    count_assignments: int | None = None
    count_conversation_parts: int | None = None
    rating: int | None = None
    rating_remark: str | None = None
    rating_created_at: datetime | None = None
    rating_teammate_id: str | None = None
    sla_name: str | None = None
    sla_status: str | None = None
    ai_agent_participated: bool | None = None
    custom_attributes: dict[str, Any] = Field(default_factory=dict)


class ConversationPart(ServedRecord):
    """A message, note or event of a conversation; `id` is `{conversation id}:{part id}`."""

    parent_id: str | None = Field(None, description="The conversation's id")
    part_id: str | None = None
    part_type: str | None = None
    body: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    notified_at: datetime | None = None
    author_type: str | None = None
    author_id: str | None = None
    author_name: str | None = None
    author_email: str | None = None
    assigned_to_id: str | None = None
    external_id: str | None = None
    redacted: bool | None = None
    state: str | None = None


class Tag(ServedRecord):
    name: str | None = None


class Team(ServedRecord):
    name: str | None = None
    admin_ids: list[str] = Field(default_factory=list)


class Segment(ServedRecord):
    name: str | None = None
    person_type: str | None = None
    count: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class DataAttribute(ServedRecord):
    """A data attribute definition; `id` is `{model}:{full_name}`, Intercom's own id (custom
    attributes only) is `attribute_id`."""

    attribute_id: str | None = None
    model: str | None = None
    name: str | None = None
    full_name: str | None = None
    label: str | None = None
    description: str | None = None
    data_type: str | None = None
    options: list[str] | None = None
    custom: bool | None = None
    archived: bool | None = None
    api_writable: bool | None = None
    ui_writable: bool | None = None
    messenger_writable: bool | None = None
    admin_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


# -- live translators -----------------------------------------------------------------------------


def _order(direction: str) -> str:
    return "descending" if direction == "desc" else "ascending"


def _query(filters: list[dict[str, Any]], neutral: dict[str, Any]) -> dict[str, Any]:
    if not filters:
        return neutral
    if len(filters) == 1:
        return filters[0]
    return {"operator": "AND", "value": filters}


def _search(
    client: VendorClient, path: str, records_key: str, query: dict[str, Any], criteria: Criteria, after: Any
) -> LivePage:
    from shared.vendors.pagination import PageRequest, dig

    pagination: dict[str, Any] = {"per_page": min(criteria.limit, MAX_SEARCH_PAGE)}
    if after is not None:
        pagination["starting_after"] = after
    body = {
        "query": query,
        "pagination": pagination,
        "sort": {"field": criteria.sort.name, "order": _order(criteria.direction)},
    }
    response = client.fetch(PageRequest(method="POST", path=path, json_body=body))
    records = response.get(records_key)
    return LivePage(records if isinstance(records, list) else [], dig(response, "pages.next.starting_after"))


def search_contacts(client: VendorClient, criteria: Criteria, after: Any) -> LivePage:
    filters: list[dict[str, Any]] = []
    if "email" in criteria.equals:
        filters.append({"field": "email", "operator": "=", "value": criteria.equals["email"]})
    if "name" in criteria.prefixes:
        filters.append({"field": "name", "operator": "^", "value": criteria.prefixes["name"]})
    if "role" in criteria.equals:
        filters.append({"field": "role", "operator": "=", "value": criteria.equals["role"]})
    neutral = {"field": "role", "operator": "IN", "value": ["user", "lead"]}
    return _search(client, "/contacts/search", "data", _query(filters, neutral), criteria, after)


def search_conversations(client: VendorClient, criteria: Criteria, after: Any) -> LivePage:
    filters: list[dict[str, Any]] = []
    if "state" in criteria.equals:
        filters.append({"field": "state", "operator": "=", "value": criteria.equals["state"]})
    if "admin_id" in criteria.equals:
        admin = criteria.equals["admin_id"]
        filters.append(
            {"field": "admin_assignee_id", "operator": "=", "value": int(admin) if admin.isdigit() else admin}
        )
    lower, upper = criteria.ranges.get("created", (None, None))
    # Intercom compares whole seconds and reads `>` loosely: ask wide, the records function cuts exactly.
    if lower is not None:
        filters.append({"field": "created_at", "operator": ">", "value": int(lower.timestamp()) - 1})
    if upper is not None:
        filters.append({"field": "created_at", "operator": "<", "value": int(upper.timestamp()) + 1})
    neutral = {"field": "created_at", "operator": ">", "value": 0}
    return _search(client, "/conversations/search", "conversations", _query(filters, neutral), criteria, after)


def list_companies(client: VendorClient, criteria: Criteria, after: Any) -> LivePage:
    """name= asks Intercom for the company of exactly that name; otherwise a page of all."""
    from shared.store.queries import InvalidCursor
    from shared.vendors.errors import VendorNotFound
    from shared.vendors.pagination import PageRequest, dig

    if after is not None and (not isinstance(after, int) or after < 2):
        raise InvalidCursor()
    name = criteria.prefixes.get("name")
    if name is not None:
        if after is not None:
            raise InvalidCursor()
        request = PageRequest(path="/companies", params={"name": name})
    else:
        request = PageRequest(
            path="/companies", params={"page": after or 1, "per_page": min(criteria.limit, MAX_COMPANY_PAGE)}
        )
    try:
        response = client.fetch(request)
    except VendorNotFound:
        return LivePage([])
    if response.get("type") == "company":
        return LivePage([response])
    data = response.get("data")
    current, total = dig(response, "pages.page"), dig(response, "pages.total_pages")
    more = name is None and isinstance(current, int) and isinstance(total, int) and current < total
    return LivePage(data if isinstance(data, list) else [], current + 1 if more else None)


# -- declarations ---------------------------------------------------------------------------------

CONTACTS = Serving(
    model=Contact,
    filters=(
        Filter(
            "email",
            "email_lower",
            lower=True,
            strip=True,
            max_length=320,
            description="Exact email, case-insensitive",
        ),
        Filter("name", "name_lower", op="prefix", description="Name prefix, case-insensitive"),
        Filter("role", "role", annotation=Literal["user", "lead"], description="Contact role"),
    ),
    sorts=(
        Sort("updated_at", "updated_at"),
        Sort("created_at", "created_at"),
        Sort("last_seen_at", "last_seen_at"),
        Sort("name", "name_lower"),
    ),
    combinations=(
        Combination(),
        Combination(("email",), sorts=("updated_at",), directions=("desc",)),
        Combination(("name",), sorts=("name", "updated_at", "last_seen_at")),
        Combination(("role",)),
        Combination(("role", "name"), sorts=("name", "updated_at", "created_at")),
    ),
    live=search_contacts,
    unindexed=("custom_attributes",),
)

COMPANIES = Serving(
    model=Company,
    filters=(
        Filter("name", "name_lower", op="prefix", description="Name prefix, case-insensitive (live: exact name)"),
    ),
    sorts=(Sort("name", "name_lower"), Sort("updated_at", "updated_at")),
    combinations=(Combination(), Combination(("name",), sorts=("name",))),
    default_order="asc",
    live=list_companies,
    unindexed=("custom_attributes",),
)

ADMINS = Serving(
    model=Admin,
    sorts=(Sort("name", "name_lower"),),
    default_order="asc",
)

CONVERSATIONS = Serving(
    model=Conversation,
    filters=(
        Filter("state", "state", annotation=Literal["open", "closed", "snoozed"]),
        Filter("admin_id", "admin_assignee_id", max_length=64, description="Assigned admin"),
        Filter("created", "created_at", op="range", description="Creation time"),
    ),
    sorts=(Sort("created_at", "created_at"), Sort("updated_at", "updated_at")),
    combinations=(
        Combination(),
        Combination(("state",)),
        Combination(("admin_id",)),
        Combination(("state", "admin_id")),
        Combination(("created",)),
        Combination(("state", "created")),
        Combination(("admin_id", "created")),
    ),
    live=search_conversations,
    unindexed=("custom_attributes",),
)

CONVERSATION_PARTS = Serving(
    model=ConversationPart,
    filters=(Filter("conversation_id", "parent_id", max_length=64, description="The conversation's parts"),),
    sorts=(Sort("created_at", "created_at"),),
    # a conversation's parts read in time order: one composite index (asc only)
    combinations=(Combination(), Combination(("conversation_id",), directions=("asc",))),
    default_order="asc",
    # message bodies are long HTML, never filtered on
    unindexed=("body",),
)

TAGS = Serving(model=Tag, sorts=(Sort("name", "name_lower"),), default_order="asc")

TEAMS = Serving(model=Team, sorts=(Sort("name", "name_lower"),), default_order="asc")

SEGMENTS = Serving(model=Segment, sorts=(Sort("name", "name_lower"),), default_order="asc")

# A few dozen definitions: no filter (no composite index); sorted by id they come grouped
# by model (`company:...`, `contact:...`, `conversation:...`).
DATA_ATTRIBUTES = Serving(
    model=DataAttribute,
    sorts=(Sort("id", "id"), Sort("name", "name")),
    default_order="asc",
)
