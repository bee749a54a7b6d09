"""Handlers for the Intercom REST API 2.14 record paths: me, admins, contacts, conversations.

Shapes follow components/schemas in api.intercom.io-2.14.yaml. Listing order is
(created_at, id) ascending for contacts and conversations; searches default to the same
and otherwise sort by `sort.field` then id. Companies are in api_companies.py; tags, teams,
segments and data attributes in api_workspace.py.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from devtools.sandboxes.intercom import render
from devtools.sandboxes.intercom.attributes import WriteRefused
from devtools.sandboxes.intercom.query import QueryError, field_for
from devtools.sandboxes.intercom.store import Store
from devtools.sandboxes.kit.paging import CursorError, keyset_page
from devtools.sandboxes.kit.params import int_arg as _int_arg
from devtools.sandboxes.kit.params import json_body as _json_body
from devtools.sandboxes.kit.responses import ApiError, Encoded, with_items

MAX_PER_PAGE = 150
DEFAULT_PER_PAGE = {"contacts": 50, "conversations": 20}


def me(store: Store, request: Request) -> dict[str, Any]:
    return render.me(store.admin_list()[0], store.config.epoch - 365 * 86_400)


def list_admins(store: Store, request: Request) -> dict[str, Any]:
    return {"type": "admin.list", "admins": [render.admin(a) for a in store.admin_list()]}


def get_admin(store: Store, request: Request, admin_id: str) -> dict[str, Any]:
    admin = store.admins.get(admin_id)
    if admin is None:
        raise ApiError(404, "admin_not_found", "Admin not found")
    return render.admin(admin)


def _list(store: Store, request: Request, kind: str) -> tuple[list[Any], dict[str, Any], int]:
    per_page = min(_int_arg(request, "per_page", DEFAULT_PER_PAGE[kind]), MAX_PER_PAGE)
    view = store.view(kind, None, "created_at")
    try:
        page = keyset_page(view, per_page, request.args.get("starting_after") or None, param="starting_after")
    except CursorError as exc:
        raise ApiError(400, "parameter_invalid", str(exc)) from exc
    return page.items, render.cursor_pages(page), page.total


def _contact_list(store: Store, items: list[Any], pages: dict[str, Any], total: int) -> Encoded:
    return with_items({"type": "list", "data": None, "total_count": total, "pages": pages}, "data",
                      [store.encoded(c) for c in items])


def _conversation_list(store: Store, items: list[Any], pages: dict[str, Any], total: int) -> Encoded:
    return with_items({"type": "conversation.list", "conversations": None, "total_count": total, "pages": pages},
                      "conversations", [store.encoded(v) for v in items])


def list_contacts(store: Store, request: Request) -> Encoded:
    return _contact_list(store, *_list(store, request, "contacts"))


def get_contact(store: Store, request: Request, contact_id: str) -> dict[str, Any]:
    contact = store.contacts.get(contact_id)
    if contact is None:
        raise ApiError(404, "not_found", "User Not Found")
    return render.contact(contact)


def update_contact(store: Store, request: Request, contact_id: str) -> dict[str, Any]:
    try:
        contact = store.update_contact(contact_id, _json_body(request))
    except WriteRefused as exc:
        raise ApiError(400, exc.code, str(exc)) from exc
    if contact is None:
        raise ApiError(404, "not_found", "User Not Found")
    return render.contact(contact)


def _search(store: Store, request: Request, kind: str) -> tuple[list[Any], dict[str, Any], int]:
    body = _json_body(request)
    if "query" not in body:
        raise ApiError(400, "parameter_not_found", "query parameter is required")
    pagination = body.get("pagination") or {}
    sort = body.get("sort") or {}
    if not isinstance(pagination, dict) or not isinstance(sort, dict):
        raise ApiError(400, "parameter_invalid", "pagination and sort must be objects")
    per_page = pagination.get("per_page", DEFAULT_PER_PAGE[kind])
    if not isinstance(per_page, int) or isinstance(per_page, bool) or per_page < 1:
        raise ApiError(400, "parameter_invalid", "pagination.per_page must be a positive integer")
    sort_field = sort.get("field", "created_at")
    order = sort.get("order", "ascending")
    if order not in ("ascending", "descending", "asc", "desc"):
        raise ApiError(400, "parameter_invalid", "sort.order must be ascending or descending")
    try:
        field_for(kind, sort_field, lenient=True)
        view = store.view(kind, body["query"], sort_field)
        page = keyset_page(view, min(per_page, MAX_PER_PAGE), pagination.get("starting_after") or None,
                           descending=order in ("descending", "desc"), param="starting_after")
    except QueryError as exc:
        raise ApiError(400, exc.code, str(exc)) from exc
    except CursorError as exc:
        raise ApiError(400, "parameter_invalid", str(exc)) from exc
    return page.items, render.cursor_pages(page), page.total


def search_contacts(store: Store, request: Request) -> Encoded:
    return _contact_list(store, *_search(store, request, "contacts"))


def list_conversations(store: Store, request: Request) -> Encoded:
    return _conversation_list(store, *_list(store, request, "conversations"))


def get_conversation(store: Store, request: Request, conversation_id: str) -> dict[str, Any]:
    conversation = store.conversations.get(conversation_id)
    if conversation is None:
        raise ApiError(404, "not_found", "Resource Not Found")
    return render.conversation_detail(conversation, store.authors)


def search_conversations(store: Store, request: Request) -> Encoded:
    return _conversation_list(store, *_search(store, request, "conversations"))


ROUTES: tuple[tuple[str, str, Any], ...] = (
    ("GET", "/me", me),
    ("GET", "/admins", list_admins),
    ("GET", "/admins/<admin_id>", get_admin),
    ("GET", "/contacts", list_contacts),
    ("POST", "/contacts/search", search_contacts),
    ("GET", "/contacts/<contact_id>", get_contact),
    ("PUT", "/contacts/<contact_id>", update_contact),
    ("GET", "/conversations", list_conversations),
    ("POST", "/conversations/search", search_conversations),
    ("GET", "/conversations/<conversation_id>", get_conversation),
)
