"""Reads from the synced store: the API's filters and sorts as store page queries.

Every query shape the API can produce is enumerable, so the composite indexes it needs are
derived here (`required_indexes`) from the same code that builds the queries; a test checks
that firestore.indexes.json declares them all (the emulator does not enforce indexes).

Index rule (Firestore): equality fields first (any order), then the order-by fields in
query order with the query's direction; the document id follows implicitly. A query with
no equality filter and a single order field is served by the automatic single-field index.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations
from typing import TYPE_CHECKING, Any

from shared.errors import NotFound
from shared.intercom_api import CONNECTION_ID
from shared.intercom_api.models import (
    Admin,
    AdminList,
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
from shared.store.queries import PageQuery

if TYPE_CHECKING:
    from google.cloud.firestore import Client

#: sort parameter -> stored field
CONTACT_SORTS = {"updated_at": "updated_at", "created_at": "created_at", "last_seen_at": "last_seen_at", "name": "name_lower"}
CONTACT_EQUALS = ("email_lower", "role")
CONVERSATION_SORTS = {"created_at": "created_at", "updated_at": "updated_at"}
CONVERSATION_EQUALS = ("state", "admin_assignee_id")
#: just below the end of the Unicode BMP: every string with the prefix sorts before prefix + this
PREFIX_END = "\uf8ff"


def prefix_range(field: str, prefix: str) -> tuple[tuple[str, Any, Any], ...]:
    return ((field, ">=", prefix), (field, "<", prefix + PREFIX_END))


# -- query builders ----------------------------------------------------------------------------


def contacts_query(q: ContactQuery) -> PageQuery:
    equals: list[tuple[str, Any]] = []
    if q.email is not None:
        equals.append(("email_lower", q.email.strip().lower()))
    if q.role is not None:
        equals.append(("role", q.role))
    ranges = prefix_range("name_lower", q.name.lower()) if q.name is not None else ()
    return PageQuery(sort=CONTACT_SORTS[q.sort], direction=q.order, equals=tuple(equals), ranges=ranges, limit=q.limit)


def companies_query(q: CompanyQuery) -> PageQuery:
    ranges = prefix_range("name_lower", q.name.lower()) if q.name is not None else ()
    return PageQuery(sort="name_lower", direction="asc", ranges=ranges, limit=q.limit)


def conversations_query(q: ConversationQuery) -> PageQuery:
    equals: list[tuple[str, Any]] = []
    if q.state is not None:
        equals.append(("state", q.state))
    if q.admin_id is not None:
        equals.append(("admin_assignee_id", q.admin_id))
    lower, upper = q.created_bounds()
    ranges: list[tuple[str, Any, Any]] = []
    if lower is not None:
        ranges.append(("created_at", ">=", lower))
    if upper is not None:
        ranges.append(("created_at", "<", upper))
    return PageQuery(
        sort=CONVERSATION_SORTS[q.sort], direction=q.order, equals=tuple(equals), ranges=tuple(ranges), limit=q.limit
    )


# -- reads ---------------------------------------------------------------------------------------


def list_contacts(db: Client, q: ContactQuery) -> ContactPage:
    from shared.store.queries import page

    result = page(db, CONNECTION_ID, "contacts", contacts_query(q), q.cursor)
    return ContactPage(items=[Contact.model_validate(d) for d in result.docs], next_cursor=result.next_cursor)


def get_record(db: Client, stream: str, key: str) -> dict[str, Any]:
    from shared.store.queries import get

    doc = get(db, CONNECTION_ID, stream, key)
    if doc is None:
        raise NotFound(f"No {stream[:-1]} {key!r}.")
    return doc


def list_companies(db: Client, q: CompanyQuery) -> CompanyPage:
    from shared.store.queries import page

    result = page(db, CONNECTION_ID, "companies", companies_query(q), q.cursor)
    return CompanyPage(items=[Company.model_validate(d) for d in result.docs], next_cursor=result.next_cursor)


def list_admins(db: Client) -> AdminList:
    from shared.store.queries import all_docs

    docs = all_docs(db, CONNECTION_ID, "admins")
    docs.sort(key=lambda d: ((d.get("name") or "").lower(), d.get("id") or ""))
    return AdminList(items=[Admin.model_validate(d) for d in docs])


def list_conversations(db: Client, q: ConversationQuery) -> ConversationPage:
    from shared.store.queries import page

    result = page(db, CONNECTION_ID, "conversations", conversations_query(q), q.cursor)
    return ConversationPage(items=[Conversation.model_validate(d) for d in result.docs], next_cursor=result.next_cursor)


# -- indexes ------------------------------------------------------------------------------------


def _subsets(fields: Iterable[str]) -> list[tuple[str, ...]]:
    items = tuple(fields)
    return [combo for size in range(len(items) + 1) for combo in combinations(items, size)]


def index_for(stream: str, spec: PageQuery) -> dict[str, Any] | None:
    """The composite index a page query needs, or None when single-field indexes serve it."""
    order = spec.order_fields
    equals = [name for name, _ in spec.equals]
    if not equals and len(order) == 1:
        return None
    direction = "DESCENDING" if spec.direction == "desc" else "ASCENDING"
    fields = [{"fieldPath": name, "order": "ASCENDING"} for name in sorted(equals)]
    fields += [{"fieldPath": name, "order": direction} for name in order]
    return {"collectionGroup": stream, "queryScope": "COLLECTION", "fields": fields}


def stats_indexes() -> list[dict[str, Any]]:
    """intercom-conversation-stats: created_day range, optionally one admin (see stats.py)."""
    return [
        {
            "collectionGroup": "conversations",
            "queryScope": "COLLECTION",
            "fields": [
                {"fieldPath": "admin_assignee_id", "order": "ASCENDING"},
                {"fieldPath": "created_day", "order": "ASCENDING"},
            ],
        }
    ]


def index_key(index: dict[str, Any]) -> tuple[Any, ...]:
    return (index["collectionGroup"], index["queryScope"], tuple((f["fieldPath"], f["order"]) for f in index["fields"]))


def required_indexes() -> list[dict[str, Any]]:
    """Every composite index any intercom-* store query can need, without duplicates."""
    specs: list[tuple[str, PageQuery]] = []
    for equals in _subsets(CONTACT_EQUALS):
        for named in (False, True):
            for sort in CONTACT_SORTS.values():
                for direction in ("asc", "desc"):
                    specs.append((
                        "contacts",
                        PageQuery(
                            sort=sort,
                            direction=direction,  # type: ignore[arg-type]
                            equals=tuple((name, "x") for name in equals),
                            ranges=prefix_range("name_lower", "x") if named else (),
                        ),
                    ))
    specs.append(("companies", companies_query(CompanyQuery(name="x"))))
    for equals in _subsets(CONVERSATION_EQUALS):
        for ranged in (False, True):
            for sort in CONVERSATION_SORTS.values():
                for direction in ("asc", "desc"):
                    specs.append((
                        "conversations",
                        PageQuery(
                            sort=sort,
                            direction=direction,  # type: ignore[arg-type]
                            equals=tuple((name, "x") for name in equals),
                            ranges=(("created_at", ">=", 0), ("created_at", "<", 1)) if ranged else (),
                        ),
                    ))
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for stream, spec in specs:
        index = index_for(stream, spec)
        if index is not None:
            seen.setdefault(index_key(index), index)
    for index in stats_indexes():
        seen.setdefault(index_key(index), index)
    return list(seen.values())

