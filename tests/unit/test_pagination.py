from __future__ import annotations

from shared.vendors.pagination import (
    BodyCursor,
    NextUrl,
    Offset,
    PageNumber,
    PageRequest,
    PageToken,
    QueryCursor,
    SinglePage,
    follow,
)


def test_query_cursor_follows_next_starting_after() -> None:
    p = QueryCursor("starting_after", "pages.next.starting_after", "per_page")
    first = p.first(PageRequest(path="/contacts"), 150)
    assert first.params == {"per_page": 150}
    second = follow(p, first, {"pages": {"next": {"starting_after": "abc"}}}, 150)
    assert second is not None and second.params == {"per_page": 150, "starting_after": "abc"}
    assert follow(p, second, {"pages": {"next": None}}, 20) is None
    assert follow(p, second, {"pages": {"next": {"starting_after": "x"}}}, 0) is None


def test_body_cursor_keeps_the_query() -> None:
    p = BodyCursor("pagination", "starting_after", "per_page", "pages.next.starting_after")
    first = p.first(PageRequest(method="POST", path="/contacts/search", json_body={"query": {"field": "updated_at"}}), 50)
    nxt = follow(p, first, {"pages": {"next": {"starting_after": "c2"}}}, 50)
    assert nxt is not None
    assert nxt.json_body == {"query": {"field": "updated_at"}, "pagination": {"per_page": 50, "starting_after": "c2"}}
    assert first.json_body == {"query": {"field": "updated_at"}, "pagination": {"per_page": 50}}


def test_page_number_stops_at_total_pages() -> None:
    p = PageNumber("page", "per_page", "pages.total_pages")
    req = p.first(PageRequest(path="/companies"), 60)
    pages = [req.params["page"]]
    while (req := follow(p, req, {"pages": {"total_pages": 3}}, 60)) is not None:
        pages.append(req.params["page"])
    assert pages == [1, 2, 3]


def test_offset_uses_more_flag() -> None:
    p = Offset("start", "limit", "additional_data.pagination.more_items_in_collection")
    req = p.first(PageRequest(path="/persons"), 100)
    nxt = follow(p, req, {"additional_data": {"pagination": {"more_items_in_collection": True}}}, 100)
    assert nxt is not None and nxt.params["start"] == 100
    assert follow(p, nxt, {"additional_data": {"pagination": {"more_items_in_collection": False}}}, 100) is None


def test_page_token_and_next_url_and_single_page() -> None:
    token = PageToken("after", "paging.next.after", "limit")
    req = token.first(PageRequest(path="/crm/v3/objects/contacts"), 100)
    nxt = follow(token, req, {"paging": {"next": {"after": "200"}}}, 100)
    assert nxt is not None and nxt.params == {"limit": 100, "after": "200"}
    url = follow(NextUrl("nextRecordsUrl"), req, {"nextRecordsUrl": "/services/data/v60.0/query/01g-2000?x=1"}, 2000)
    assert url is not None and url.path == "/services/data/v60.0/query/01g-2000" and url.params == {"x": "1"}
    assert follow(SinglePage(), req, {"admins": []}, 5) is None


def test_cursors_are_small_data_and_rebuild_the_request_from_the_declaration() -> None:
    p = QueryCursor("starting_after", "pages.next.starting_after", "per_page")
    first = p.first(PageRequest(path="/contacts"), 150)
    cursor = p.next_cursor(first, {"pages": {"next": {"starting_after": "abc"}}}, 150)
    assert cursor == {"after": "abc"}
    assert p.apply(first, cursor).params == {"per_page": 150, "starting_after": "abc"}
    # a cursor cannot smuggle a host: the next URL's host is dropped, and a hostile path is refused
    url = NextUrl("next")
    c = url.next_cursor(first, {"next": "https://evil.test/services/data/x?y=1"}, 1)
    assert c == {"path": "/services/data/x", "params": {"y": "1"}}
    import pytest
    from pydantic import ValidationError
    with pytest.raises(ValidationError):
        url.apply(first, {"path": "http://evil.test/x", "params": {}})
