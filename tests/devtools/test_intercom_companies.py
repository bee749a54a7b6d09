"""Companies as Intercom serves them: page-number listing of companies with users only, in
last_request_at order that moves while a client pages, capped at 10,000; the scroll that
returns every company, one per workspace, expiring when idle; lookups by name as lists."""

from __future__ import annotations

import time
from typing import Any

import pytest

from devtools.sandboxes.intercom import DataConfig
from devtools.sandboxes.intercom.companies import ScrollRegistry
from devtools.sandboxes.intercom.datagen import generate
from tests.devtools.intercom_inprocess import Sandbox, error_of


def _walk(sandbox: Sandbox, path: str = "/companies", per_page: int = 10,
          between: Any = None) -> list[dict[str, Any]]:
    """Page by number until total_pages, calling between(page_number) after each page."""
    out: list[dict[str, Any]] = []
    page, total_pages = 1, 1
    while page <= total_pages:
        response = (sandbox.get(path, page=page, per_page=per_page) if path == "/companies"
                    else sandbox.post(path, page=page, per_page=per_page))
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.json
        assert body is not None
        out.extend(body["data"])
        total_pages = body["pages"]["total_pages"]
        if between:
            between(page)
        page += 1
    return out


def _scroll(sandbox: Sandbox) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    param = None
    while True:
        response = sandbox.get("/companies/scroll", **({"scroll_param": param} if param else {}))
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.json
        assert body is not None and body["pages"] is None and body["total_count"] is None
        param = body["scroll_param"]
        if not body["data"]:
            return out
        out.extend(body["data"])


@pytest.fixture()
def sandbox() -> Sandbox:
    return Sandbox()


def test_listing_leaves_out_companies_without_users_and_orders_by_last_request_at(sandbox: Sandbox) -> None:
    everyone = {c.id: c for c in sandbox.app.store.data.companies}
    empty = {i for i, c in everyone.items() if c.user_count == 0}
    assert empty, "the generator leaves some companies without users"
    for path in ("/companies", "/companies/list"):
        listed = _walk(sandbox, path)
        assert {c["id"] for c in listed} == set(everyone) - empty
        stamps = [c["last_request_at"] for c in listed]
        assert stamps == sorted(stamps, reverse=True)
    first = sandbox.get("/companies", per_page=10).json
    assert first is not None and first["total_count"] == len(everyone) - len(empty)
    ascending = sandbox.post("/companies/list", order="asc", per_page=60).json
    assert ascending is not None
    assert [c["id"] for c in ascending["data"]] == [c["id"] for c in _walk(sandbox, "/companies/list")][::-1]


def test_pages_shift_when_companies_are_touched_mid_walk(sandbox: Sandbox) -> None:
    """A page-number walk over a moving order repeats some companies and misses others."""
    expected = {c["id"] for c in _walk(sandbox)}

    def touch(page: int) -> None:
        if page == 1:
            sandbox.post("/_sandbox/mutate", {"companies_updated": 20})

    seen = [c["id"] for c in _walk(sandbox, between=touch)]
    assert len(seen) != len(set(seen)), "some companies come back on a later page"
    assert expected - set(seen), "some companies are never seen"
    assert set(seen) <= expected


def test_contact_activity_moves_its_companies_to_the_front(sandbox: Sandbox) -> None:
    changed = sandbox.post("/_sandbox/mutate", {"contacts_updated": 20}).json
    assert changed is not None and changed["companies_updated"]
    front = sandbox.get("/companies", per_page=60).json
    assert front is not None
    now = changed["now"]
    moved = [c["id"] for c in front["data"] if c["last_request_at"] == now]
    listed = {c.id for c in sandbox.app.store.data.companies if c.user_count > 0}
    assert set(moved) == set(changed["companies_updated"]) & listed
    assert [c["id"] for c in front["data"][:len(moved)]] == sorted(moved)


def test_listing_stops_at_the_cap_with_intercoms_error() -> None:
    sandbox = Sandbox(company_list_cap=25)
    listed = len(sandbox.app.store.companies_listed())
    assert listed > 30
    third = sandbox.get("/companies", per_page=10, page=3).json
    assert third is not None and len(third["data"]) == 5 and third["total_count"] == listed
    assert third["pages"]["total_pages"] == -(-listed // 10)
    for response in (sandbox.get("/companies", per_page=10, page=4), sandbox.post("/companies/list", per_page=10, page=4)):
        assert response.status_code == 400
        assert error_of(response) == {"code": "bad_request", "message": "page limit reached, please use scroll API"}


def test_the_generator_makes_12000_companies_some_without_users() -> None:
    data = generate(DataConfig(contacts=10_000, companies=12_000, admins=5, conversations=0))
    assert len(data.companies) == 12_000
    empty = sum(1 for c in data.companies if c.user_count == 0)
    assert 0.05 * 12_000 < empty < 0.12 * 12_000
    assert 12_000 - empty > 10_000  # more than a listing can return
    again = generate(DataConfig(contacts=10_000, companies=12_000, admins=5, conversations=0))
    assert [(c.id, c.user_count) for c in again.companies] == [(c.id, c.user_count) for c in data.companies]


def test_12000_companies_list_to_the_cap_and_scroll_in_full() -> None:
    sandbox = Sandbox(DataConfig(contacts=10_000, companies=12_000, admins=5, conversations=0))
    listed = len(sandbox.app.store.companies_listed())
    page = sandbox.get("/companies", per_page=60, page=167).json
    assert page is not None and len(page["data"]) == 10_000 - 166 * 60 and page["total_count"] == listed
    assert sandbox.get("/companies", per_page=60, page=168).status_code == 400
    scrolled = _scroll(sandbox)
    assert len(scrolled) == len({c["id"] for c in scrolled}) == 12_000
    assert sum(1 for c in scrolled if c["user_count"] == 0) == 12_000 - listed


def test_one_scroll_per_workspace_and_the_last_page_ends_it(sandbox: Sandbox) -> None:
    first = sandbox.get("/companies/scroll").json
    assert first is not None and len(first["data"]) == 50
    second = sandbox.get("/companies/scroll")
    assert second.status_code == 400
    assert error_of(second) == {"code": "bad_request", "message": "scroll already exists for this workspace"}
    param = first["scroll_param"]
    sandbox.post("/_sandbox/mutate", {"companies_updated": 30})  # the snapshot does not move
    rest = sandbox.get("/companies/scroll", scroll_param=param).json
    assert rest is not None and len(rest["data"]) == 10 and rest["scroll_param"] == param
    end = sandbox.get("/companies/scroll", scroll_param=param).json
    assert end is not None and end["data"] == []
    expired = sandbox.get("/companies/scroll", scroll_param=param)
    assert expired.status_code == 404 and error_of(expired)["code"] == "not_found"
    ids = [c["id"] for c in first["data"] + rest["data"]]
    assert sorted(ids) == sorted(c.id for c in sandbox.app.store.data.companies)
    assert sandbox.get("/companies/scroll").status_code == 200  # a new scroll may open


def test_an_idle_scroll_expires() -> None:
    sandbox = Sandbox(scroll_idle_seconds=0.3)
    param = (sandbox.get("/companies/scroll").json or {})["scroll_param"]
    assert sandbox.get("/_sandbox/scroll").json["open"] is True  # type: ignore[index]
    time.sleep(0.45)
    refused = sandbox.get("/companies/scroll", scroll_param=param)
    assert refused.status_code == 404
    assert sandbox.get("/companies/scroll").status_code == 200
    assert sandbox.delete("/_sandbox/scroll").json == {"closed": True}


def test_scroll_registry_keeps_a_used_scroll_alive() -> None:
    now = [0.0]
    registry = ScrollRegistry(idle_seconds=60, page_size=2, clock=lambda: now[0])
    ids, param = registry.next_page(None, lambda: ["a", "b", "c", "d", "e"])
    for _ in range(3):
        now[0] += 59  # each use restarts the idle minute
        more, same = registry.next_page(param, list)
        assert same == param
        ids += more
    assert ids == ["a", "b", "c", "d", "e"]
    now[0] += 61
    assert registry.state()["open"] is False


def test_lookup_by_name_or_company_id_answers_a_list(sandbox: Sandbox) -> None:
    company = sandbox.app.store.data.companies[7]
    for params in ({"name": company.name}, {"name": company.name.upper()}, {"company_id": company.company_id}):
        body = sandbox.get("/companies", **params).json
        assert body is not None and body["type"] == "list" and body["total_count"] == 1
        assert [c["id"] for c in body["data"]] == [company.id]
    missing = sandbox.get("/companies", name="no such company")
    assert missing.status_code == 404 and error_of(missing) == {"code": "company_not_found",
                                                               "message": "Company Not Found"}
