"""live=true: the same questions asked of Intercom, answered in the stored shape.

Contacts and conversations go through Intercom's search (POST /contacts/search,
/conversations/search) with its own sort and `starting_after` pagination; companies through
GET /companies (?name= is an exact-name lookup there). Every raw record is validated with
the connector's raw model and mapped with its mapper, exactly as a sync would store it,
then filtered again locally with the store's own semantics: Intercom's search matches
some operators loosely (dates by day, `>` as `>=`), and the answer must not depend on that.

The Intercom cursor travels inside our own opaque cursor, bound to the query it came from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from shared.errors import UpstreamError
from shared.intercom_api.models import (
    Company,
    CompanyPage,
    CompanyQuery,
    Contact,
    ContactPage,
    ContactQuery,
    Conversation,
    ConversationPage,
    ConversationQuery,
)
from shared.store.queries import InvalidCursor, decode_cursor, encode_cursor

if TYPE_CHECKING:
    from shared.vendors.http import VendorClient
    from shared.vendors.intercom.connector import IntercomSettings

LIVE_CURSOR_VERSION = 1
#: Intercom's largest search page
INTERCOM_MAX_PAGE = 150


def settings() -> IntercomSettings:
    """INTERCOM_BASE_URL and INTERCOM_ACCESS_TOKEN, read once per instance."""
    from shared.vendors.clients import vendor_settings
    from shared.vendors.intercom.connector import CONNECTOR, IntercomSettings

    loaded = vendor_settings(CONNECTOR)
    assert isinstance(loaded, IntercomSettings)
    return loaded


def client() -> VendorClient:
    """The retrying vendor client, for one request's worth of calls, on the pooled connection."""
    from shared.vendors.clients import vendor_client
    from shared.vendors.intercom.connector import CONNECTOR

    return vendor_client(CONNECTOR)


# -- cursors ------------------------------------------------------------------------------------


def _signature(kind: str, shape: dict[str, Any]) -> str:
    payload = json.dumps({"kind": kind, **shape}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _wrap(signature: str, after: str | int | None) -> str | None:
    if after is None or after == "":
        return None
    return encode_cursor({"v": LIVE_CURSOR_VERSION, "live": signature, "after": after})


def _unwrap(signature: str, token: str | None) -> Any:
    if not token:
        return None
    payload = decode_cursor(token)
    if payload.get("v") != LIVE_CURSOR_VERSION or payload.get("live") != signature:
        raise InvalidCursor("The cursor belongs to another query (live flag, sort or filters changed).")
    after = payload.get("after")
    if not isinstance(after, (str, int)) or isinstance(after, bool) or after == "" or len(str(after)) > 1024:
        raise InvalidCursor()
    return after


# -- mapping ------------------------------------------------------------------------------------


def mapped(raw: Any, raw_model: type[BaseModel], mapper: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """A raw Intercom record as the document a sync would store (without `_sync`)."""
    try:
        return mapper(raw_model.model_validate(raw))
    except ValidationError as exc:
        raise UpstreamError(
            "Intercom sent a record we cannot read.", code="vendor_invalid_record", details={"errors": exc.error_count()}
        ) from None


def _unix(value: datetime) -> int:
    return int(value.timestamp())


def _query(filters: list[dict[str, Any]], neutral: dict[str, Any]) -> dict[str, Any]:
    if not filters:
        return neutral
    if len(filters) == 1:
        return filters[0]
    return {"operator": "AND", "value": filters}


def _search(
    path: str, records_key: str, query: dict[str, Any], sort: tuple[str, str], limit: int, after: Any
) -> tuple[list[dict[str, Any]], Any]:
    from shared.vendors.pagination import PageRequest, dig

    pagination: dict[str, Any] = {"per_page": min(limit, INTERCOM_MAX_PAGE)}
    if after is not None:
        pagination["starting_after"] = after
    body = {"query": query, "pagination": pagination, "sort": {"field": sort[0], "order": sort[1]}}
    with client() as vendor:
        response = vendor.fetch(PageRequest(method="POST", path=path, json_body=body))
    records = response.get(records_key)
    return (records if isinstance(records, list) else []), dig(response, "pages.next.starting_after")


def _order(direction: str) -> str:
    return "descending" if direction == "desc" else "ascending"


# -- contacts -----------------------------------------------------------------------------------


def search_contacts(q: ContactQuery) -> ContactPage:
    from shared.vendors.intercom import mappers
    from shared.vendors.intercom.raw import RawContact

    email = q.email.strip().lower() if q.email is not None else None
    prefix = q.name.lower() if q.name is not None else None
    filters: list[dict[str, Any]] = []
    if email is not None:
        filters.append({"field": "email", "operator": "=", "value": email})
    if prefix is not None:
        filters.append({"field": "name", "operator": "^", "value": prefix})
    if q.role is not None:
        filters.append({"field": "role", "operator": "=", "value": q.role})
    neutral = {"field": "role", "operator": "IN", "value": ["user", "lead"]}
    signature = _signature("contacts", {"f": filters, "s": q.sort, "o": q.order, "n": q.limit})
    records, after = _search(
        "/contacts/search", "data", _query(filters, neutral), (q.sort, _order(q.order)), q.limit,
        _unwrap(signature, q.cursor),
    )
    items = []
    for raw in records:
        doc = mapped(raw, RawContact, mappers.contact)
        if email is not None and doc.get("email_lower") != email:
            continue
        if prefix is not None and not (doc.get("name_lower") or "").startswith(prefix):
            continue
        if q.role is not None and doc.get("role") != q.role:
            continue
        items.append(Contact.model_validate(doc))
    return ContactPage(items=items, next_cursor=_wrap(signature, after))


def get_contact(contact_id: str) -> dict[str, Any]:
    """The contact as Intercom has it now, mapped (404 when Intercom has no such contact)."""
    from shared.vendors.intercom import mappers
    from shared.vendors.intercom.raw import RawContact
    from shared.vendors.pagination import PageRequest

    with client() as vendor:
        raw = vendor.fetch(PageRequest(path=f"/contacts/{contact_id}"))
    return mapped(raw, RawContact, mappers.contact)


def put_custom_attributes(contact_id: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """PUT /contacts/{id} with the attributes (Intercom merges them); the updated contact, mapped."""
    from shared.vendors.intercom import mappers
    from shared.vendors.intercom.raw import RawContact
    from shared.vendors.pagination import PageRequest

    request = PageRequest(method="PUT", path=f"/contacts/{contact_id}", json_body={"custom_attributes": attributes})
    with client() as vendor:
        raw = vendor.fetch(request)
    return mapped(raw, RawContact, mappers.contact)


# -- companies ----------------------------------------------------------------------------------


def list_companies(q: CompanyQuery) -> CompanyPage:
    """?name= asks Intercom for the company of exactly that name; otherwise a page of all."""
    from shared.vendors.errors import VendorNotFound
    from shared.vendors.intercom import mappers
    from shared.vendors.intercom.raw import RawCompany
    from shared.vendors.pagination import PageRequest, dig

    signature = _signature("companies", {"name": q.name, "n": q.limit})
    page = _unwrap(signature, q.cursor)
    if page is not None and (not isinstance(page, int) or page < 2):
        raise InvalidCursor()
    if q.name is not None:
        if page is not None:
            raise InvalidCursor()
        request = PageRequest(path="/companies", params={"name": q.name})
    else:
        request = PageRequest(path="/companies", params={"page": page or 1, "per_page": min(q.limit, 60)})
    try:
        with client() as vendor:
            response = vendor.fetch(request)
    except VendorNotFound:
        return CompanyPage(items=[], next_cursor=None)
    if response.get("type") == "company":
        records = [response]
    else:
        data = response.get("data")
        records = data if isinstance(data, list) else []
    items = [Company.model_validate(mapped(raw, RawCompany, mappers.company)) for raw in records]
    next_page = None
    current, total = dig(response, "pages.page"), dig(response, "pages.total_pages")
    if q.name is None and isinstance(current, int) and isinstance(total, int) and current < total:
        next_page = current + 1
    return CompanyPage(items=items, next_cursor=_wrap(signature, next_page))


# -- conversations ------------------------------------------------------------------------------


def search_conversations(q: ConversationQuery) -> ConversationPage:
    from shared.vendors.intercom import mappers
    from shared.vendors.intercom.raw import RawConversation

    lower, upper = q.created_bounds()
    filters: list[dict[str, Any]] = []
    if q.state is not None:
        filters.append({"field": "state", "operator": "=", "value": q.state})
    if q.admin_id is not None:
        admin: Any = int(q.admin_id) if q.admin_id.isdigit() else q.admin_id
        filters.append({"field": "admin_assignee_id", "operator": "=", "value": admin})
    # Intercom compares whole seconds and reads `>` loosely: ask wide, then cut exactly below.
    if lower is not None:
        filters.append({"field": "created_at", "operator": ">", "value": _unix(lower) - 1})
    if upper is not None:
        filters.append({"field": "created_at", "operator": "<", "value": _unix(upper) + 1})
    neutral = {"field": "created_at", "operator": ">", "value": 0}
    signature = _signature("conversations", {"f": filters, "s": q.sort, "o": q.order, "n": q.limit})
    records, after = _search(
        "/conversations/search", "conversations", _query(filters, neutral), (q.sort, _order(q.order)), q.limit,
        _unwrap(signature, q.cursor),
    )
    items = []
    for raw in records:
        doc = mapped(raw, RawConversation, mappers.conversation)
        created = doc.get("created_at")
        if q.state is not None and doc.get("state") != q.state:
            continue
        if q.admin_id is not None and doc.get("admin_assignee_id") != q.admin_id:
            continue
        if lower is not None and (created is None or created < lower):
            continue
        if upper is not None and (created is None or created >= upper):
            continue
        items.append(Conversation.model_validate(doc))
    return ConversationPage(items=items, next_cursor=_wrap(signature, after))
