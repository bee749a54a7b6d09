"""The sandbox Intercom answers a windowed search from its sorted indexes: a page's cost does
not grow with the store (so a 1,000,000-contact scale run is possible), and the answers are
exactly those of filtering and sorting everything, before and after writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from devtools.sandboxes.intercom import store as store_module
from devtools.sandboxes.intercom.config import DEFAULT_EPOCH, DataConfig
from devtools.sandboxes.intercom.query import Predicate, compile_query, sort_key
from devtools.sandboxes.intercom.store import Store
from devtools.sandboxes.kit.paging import keyset_page

DAY = 86_400


def created_in(since: int, until: int) -> dict[str, Any]:
    """The connector's full-import window (shared/vendors/intercom/connector.py _created_in)."""
    return {"operator": "AND", "value": [{"field": "created_at", "operator": ">", "value": since - 1},
                                         {"field": "created_at", "operator": "<", "value": until}]}


def examined_per_page(monkeypatch: pytest.MonkeyPatch, contacts: int) -> list[int]:
    """Records a search predicate looked at, per page, over three pages of each of three day
    windows (each window a fresh query, as a sync's windows are)."""
    examined = [0]

    def counting(kind: str, node: Any, lenient: bool = False, depth: int = 1) -> Predicate:
        pred = compile_query(kind, node, lenient, depth)

        def counted(r: Any) -> bool:
            examined[0] += 1
            return pred(r)

        return counted

    store = Store(DataConfig(contacts=contacts, companies=10, admins=3, conversations=5, history_days=20))
    monkeypatch.setattr(store_module, "compile_query", counting)
    out = []
    for day in (3, 9, 15):
        since = DEFAULT_EPOCH - day * DAY
        cursor = None
        for _ in range(3):
            examined[0] = 0
            page = keyset_page(store.view("contacts", created_in(since, since + DAY), "created_at"), 20, cursor,
                               param="starting_after")
            assert len(page.items) == 20
            out.append(examined[0])
            cursor = page.next_cursor
    monkeypatch.setattr(store_module, "compile_query", compile_query)
    return out


def test_a_windowed_search_page_costs_the_same_in_a_store_twenty_times_larger(monkeypatch: pytest.MonkeyPatch) -> None:
    small = examined_per_page(monkeypatch, 2_000)
    large = examined_per_page(monkeypatch, 40_000)
    # Bisecting the window's two edges: about 2 x log2(N) records, never a scan of the store.
    assert max(small) <= 2 * 16 and max(large) <= 2 * 20, (small, large)
    assert max(large) - max(small) <= 2 * 5, (small, large)


QUERIES: list[tuple[str, Any, str]] = [
    ("contacts", created_in(DEFAULT_EPOCH - 30 * DAY, DEFAULT_EPOCH - 20 * DAY), "created_at"),
    ("contacts", created_in(DEFAULT_EPOCH - 30 * DAY + 7_000, DEFAULT_EPOCH - 20 * DAY - 5), "created_at"),
    ("contacts", {"field": "updated_at", "operator": ">", "value": DEFAULT_EPOCH - 5 * DAY - 77}, "created_at"),
    ("contacts", {"field": "updated_at", "operator": "<", "value": DEFAULT_EPOCH - 60 * DAY}, "updated_at"),
    ("contacts", {"field": "created_at", "operator": "=", "value": DEFAULT_EPOCH - 40 * DAY}, "created_at"),
    ("contacts", {"operator": "AND", "value": [
        {"field": "updated_at", "operator": ">", "value": DEFAULT_EPOCH - 50 * DAY},
        {"field": "role", "operator": "=", "value": "lead"},
        {"field": "created_at", "operator": "<", "value": DEFAULT_EPOCH - 40 * DAY}]}, "updated_at"),
    ("contacts", {"operator": "OR", "value": [
        {"field": "updated_at", "operator": ">", "value": DEFAULT_EPOCH - 2 * DAY},
        {"field": "role", "operator": "=", "value": "lead"}]}, "created_at"),
    ("conversations", {"field": "updated_at", "operator": ">", "value": DEFAULT_EPOCH - 3 * DAY}, "created_at"),
    ("conversations", {"operator": "AND", "value": [
        {"field": "created_at", "operator": ">", "value": DEFAULT_EPOCH - 90 * DAY},
        {"field": "created_at", "operator": "<", "value": DEFAULT_EPOCH - 80 * DAY}]}, "created_at"),
    ("conversations", {"operator": "AND", "value": [
        {"field": "created_at", "operator": ">=", "value": DEFAULT_EPOCH - 90 * DAY},
        {"field": "state", "operator": "=", "value": "open"}]}, "updated_at"),
]


def scanned(store: Store, kind: str, query: Any, sort_field: str, lenient: bool) -> list[str]:
    """The answer without an index: every record filtered, then sorted by (field, id)."""
    pred = compile_query(kind, query, lenient)
    source = store.data.contacts if kind == "contacts" else store.data.conversations
    key: Callable[[Any], Any] = sort_key(kind, sort_field)
    return [r.id for r in sorted((r for r in source if pred(r)), key=key)]


def paged(store: Store, kind: str, query: Any, sort_field: str, descending: bool = False) -> list[str]:
    out: list[str] = []
    cursor = None
    while True:
        page = keyset_page(store.view(kind, query, sort_field), 37, cursor, descending=descending)
        out.extend(r.id for r in page.items)
        assert page.total == len(store.view(kind, query, sort_field).items)
        cursor = page.next_cursor
        if cursor is None:
            return out


@pytest.mark.parametrize("lenient", [False, True])
def test_indexed_answers_equal_a_full_scan_before_and_after_writes(lenient: bool) -> None:
    store = Store(DataConfig(contacts=3_000, companies=40, admins=4, conversations=1_500), lenient_search=lenient)
    for round_ in range(3):
        for kind, query, sort_field in QUERIES:
            expected = scanned(store, kind, query, sort_field, lenient)
            assert paged(store, kind, query, sort_field) == expected, (round_, kind, query)
            assert paged(store, kind, query, sort_field, descending=True) == expected[::-1], (round_, kind, query)
        assert [r.id for r in store.view("contacts", None, "created_at").items] == [
            r.id for r in sorted(store.data.contacts, key=sort_key("contacts", "created_at"))]
        # Writes move records in the indexes: updates, creates, deletes, conversation replies.
        store.mutate({"contacts_updated": 200, "contacts_created": 50, "contacts_deleted": 30,
                      "conversations_updated": 100, "conversations_created": 20})
        contact = store.data.contacts[round_ * 7]
        store.update_contact(contact.id, {"name": "Moved"})
        assert store.max_updated_at()["contacts"] == max(c.updated_at for c in store.data.contacts)
