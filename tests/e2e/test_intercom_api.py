"""The Intercom data API over the wire: real tokens, the Firestore emulator, and for the
live paths (live=true, PATCH, proxy) the Intercom sandbox behind a recording front."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.emulators import clear_firestore
from devtools.identity import IdentityServer
from shared.intercom_api.queries import index_key, required_indexes
from tests.conftest import PROJECT, REPO
from tests.e2e import intercom_seed as seed

MEMBER = "mia@example.com"
ADMIN = "ada@example.com"


def bearer(identity: IdentityServer, email: str = MEMBER, role: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {identity.identity.id_token(email, role=role)}"}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, body
    return body


def walk(api: httpx.Client, path: str, headers: dict[str, str], params: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Every item of every page, and the number of pages."""
    items: list[dict[str, Any]] = []
    cursor, pages = None, 0
    while True:
        response = api.get(path, headers=headers, params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            return items, pages
        assert pages < 100


@pytest.fixture(scope="module")
def store(firestore_host: str) -> Any:
    """The seeded store (module-wide: the read tests do not change it)."""
    from google.cloud import firestore

    clear_firestore(firestore_host, PROJECT)
    db = firestore.Client(project=PROJECT)
    seed.seed_all(db)
    return db


@pytest.fixture()
def member(identity: IdentityServer, store: Any) -> dict[str, str]:
    return bearer(identity)


# -- indexes --------------------------------------------------------------------------------------


def test_every_query_shape_has_its_composite_index() -> None:
    declared = json.loads((REPO / "firestore.indexes.json").read_text())
    have = {index_key(i) for i in declared["indexes"]}
    missing = [i for i in required_indexes() if index_key(i) not in have]
    assert not missing, missing


# -- contacts ------------------------------------------------------------------------------------


def test_contacts_email_filter_is_exact_and_case_insensitive(api: httpx.Client, member: dict[str, str]) -> None:
    body = api.get("/intercom-contacts", headers=member, params={"email": "ADA.lovelace@example.COM"}).json()
    assert [c["id"] for c in body["items"]] == ["c01"]
    assert body["next_cursor"] is None
    item = body["items"][0]
    assert item["email"] == "Ada.Lovelace@Example.com" and item["custom_attributes"] == {"plan": "free"}
    assert "_sync" not in item and "email_lower" not in item and "name_lower" not in item
    assert api.get("/intercom-contacts", headers=member, params={"email": "ada@example"}).json()["items"] == []


def test_contacts_name_prefix_role_and_sorts(api: httpx.Client, member: dict[str, str]) -> None:
    def ids(**params: Any) -> list[str]:
        response = api.get("/intercom-contacts", headers=member, params=params)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["items"]]

    assert ids(name="ada", sort="name", order="asc") == ["c06", "c01", "c02"]  # ada king, ada lovelace, adam smith
    assert ids(name="ADA ", sort="name", order="asc") == ["c06", "c01"]
    assert ids(name="ada", role="lead", sort="created_at", order="desc") == ["c06", "c02"]
    # sorting by another field than the prefix filter's: ordered by updated_at, then id
    assert ids(name="ada", sort="updated_at", order="desc") == ["c02", "c01", "c06"]  # tie: name desc
    assert ids(name="b", sort="last_seen_at", order="asc") == ["c03", "c04"]  # no last_seen sorts first
    assert ids(role="lead", sort="updated_at", order="asc", limit=3) == ["c05", "c06", "c02"]


def test_contacts_cursor_walk_returns_every_record_once(api: httpx.Client, member: dict[str, str]) -> None:
    for sort in ("updated_at", "created_at", "last_seen_at", "name"):
        for order in ("asc", "desc"):
            items, pages = walk(api, "/intercom-contacts", member, {"sort": sort, "order": order, "limit": 4})
            ids = [c["id"] for c in items]
            assert sorted(ids) == sorted(c["id"] for c in seed.CONTACTS), (sort, order)
            assert len(ids) == len(set(ids)) and pages == -(-len(ids) // 4)
            field = {"name": "name"}.get(sort, sort)
            keys = [((c[field] or "").lower() if sort == "name" else c[field]) or "" for c in items]
            assert keys == sorted(keys, reverse=order == "desc"), (sort, order)
    items, _ = walk(api, "/intercom-contacts", member, {"role": "user", "name": "zed", "limit": 3, "sort": "updated_at"})
    assert sorted(c["id"] for c in items) == sorted(c["id"] for c in seed.CONTACTS if c["id"] >= "c07" and c["role"] == "user")


def test_bad_cursor_and_bad_query(api: httpx.Client, member: dict[str, str]) -> None:
    for cursor in ("garbage!", "eyJ2IjoxfQ", "e30", "a" * 3000):
        response = api.get("/intercom-contacts", headers=member, params={"cursor": cursor})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] in ("invalid_cursor", "validation_failed")
    assert_error(api.get("/intercom-contacts", headers=member, params={"cursor": "garbage!"}), 400, "invalid_cursor")
    # a valid cursor of another query (other sort) is refused, not misapplied
    first = api.get("/intercom-contacts", headers=member, params={"limit": 2, "sort": "created_at"}).json()
    assert first["next_cursor"]
    other = api.get("/intercom-contacts", headers=member, params={"limit": 2, "sort": "updated_at", "cursor": first["next_cursor"]})
    assert_error(other, 400, "invalid_cursor")
    for params in ({"limit": 0}, {"limit": 201}, {"sort": "email"}, {"order": "up"}, {"role": "admin"}, {"colour": "red"}):
        assert_error(api.get("/intercom-contacts", headers=member, params=params), 400, "validation_failed")


def test_contact_by_id_and_404(api: httpx.Client, member: dict[str, str]) -> None:
    response = api.get("/intercom-contacts/c03", headers=member)
    assert response.status_code == 200 and response.json()["name"] == "Bob Brown"
    assert response.headers["ETag"].startswith('"') and len(response.headers["ETag"]) == 66
    assert_error(api.get("/intercom-contacts/nope", headers=member), 404, "not_found")
    assert_error(api.get("/intercom-contacts"), 401, "token_missing")


# -- companies, admins, conversations ------------------------------------------------------------------


def test_companies(api: httpx.Client, member: dict[str, str]) -> None:
    body = api.get("/intercom-companies", headers=member, params={"name": "ACME"}).json()
    assert [c["name"] for c in body["items"]] == ["Acme", "ACME Europe", "acme labs"]
    items, pages = walk(api, "/intercom-companies", member, {"limit": 2})
    assert [c["name"].lower() for c in items] == sorted(c["name"].lower() for c in seed.COMPANIES) and pages == 4
    assert api.get("/intercom-companies/co3", headers=member).json()["name"] == "Beta Corp"
    assert_error(api.get("/intercom-companies/co99", headers=member), 404, "not_found")


def test_admins(api: httpx.Client, member: dict[str, str]) -> None:
    body = api.get("/intercom-admins", headers=member).json()
    assert [a["name"] for a in body["items"]] == ["Alan", "Edsger", "Grace"]
    assert body["items"][2]["team_ids"] == ["7"]


def test_conversations_filters_sorts_pages(api: httpx.Client, member: dict[str, str]) -> None:
    def ids(**params: Any) -> list[str]:
        response = api.get("/intercom-conversations", headers=member, params=params)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["items"]]

    assert ids(order="asc") == [f"v{n}" for n in range(10)]
    assert ids(state="open") == ["v9", "v6", "v1"]
    assert ids(admin_id="101", state="closed", order="asc") == ["v0", "v2", "v8"]
    assert ids(created_from="2025-12-10", created_to="2025-12-11", order="asc") == ["v1", "v2", "v3", "v4", "v5"]
    assert ids(created_from="2025-12-10T05:00:00Z", created_to="2025-12-11T00:00:00Z", order="asc") == ["v2", "v3", "v4"]
    # range on created_at, sorted by updated_at: v6 was updated last
    assert ids(created_from="2025-12-12", sort="updated_at")[:1] == ["v6"]
    items, pages = walk(api, "/intercom-conversations", member, {"created_from": "2025-12-10", "created_to": "2025-12-12",
                                                                  "sort": "updated_at", "order": "asc", "limit": 3})
    assert sorted(c["id"] for c in items) == [f"v{n}" for n in range(1, 9)] and pages == 3
    conv = api.get("/intercom-conversations/v4", headers=member).json()
    assert conv["state"] == "snoozed" and conv["admin_assignee_id"] == "102" and conv["created_day"] == "2025-12-11"
    assert conv["time_to_admin_reply_s"] == 30
    assert_error(api.get("/intercom-conversations/v99", headers=member), 404, "not_found")
    for params in ({"state": "pending"}, {"created_from": "yesterday"}, {"created_from": "2025-12-12", "created_to": "2025-12-10"}):
        assert_error(api.get("/intercom-conversations", headers=member, params=params), 400, "validation_failed")


def test_conversation_stats(api: httpx.Client, member: dict[str, str]) -> None:
    response = api.get("/intercom-conversation-stats", headers=member, params={"from": "2025-12-10", "to": "2025-12-12"})
    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["total"] == 8
    assert stats["by_day"] == [{"day": "2025-12-10", "count": 3}, {"day": "2025-12-11", "count": 2},
                               {"day": "2025-12-12", "count": 3}]
    assert stats["by_state"] == {"closed": 5, "open": 2, "snoozed": 1}
    assert stats["by_admin"] == [{"admin_id": "101", "count": 4}, {"admin_id": "102", "count": 2},
                                 {"admin_id": "103", "count": 1}, {"admin_id": None, "count": 1}]
    assert stats["first_response"] == {"replied": 6, "median_s": 105.0, "p90_s": 600.0}

    one = api.get("/intercom-conversation-stats", headers=member,
                  params={"from": "2025-12-10", "to": "2025-12-12", "admin_id": "101"}).json()
    assert one["total"] == 4 and [d["count"] for d in one["by_day"]] == [2, 0, 2]
    assert one["first_response"] == {"replied": 4, "median_s": 180.0, "p90_s": 600.0}

    empty = api.get("/intercom-conversation-stats", headers=member, params={"from": "2024-01-01", "to": "2024-12-31"}).json()
    assert empty["total"] == 0 and len(empty["by_day"]) == 366 and empty["first_response"]["median_s"] is None
    for params in ({"from": "2024-01-01", "to": "2025-01-01"}, {"from": "2025-12-10"}, {"from": "2025-12-12", "to": "2025-12-10"}):
        assert_error(api.get("/intercom-conversation-stats", headers=member, params=params), 400, "validation_failed")
