"""Intercom's data through the generic functions, over the wire: real tokens, the Firestore
emulator, and for the live paths (live=true, actions, the proxy) the Intercom sandbox
behind a recording front. The connection is a record (connections/{id}) whose base URL is
the front and whose credentials are the sandbox's token, as a real one would be.

    /records/{connection}/{stream}[/{key}]   /views/{connection}/conversation-stats
    /actions/{connection}/contact-custom-attributes   /proxy/{connection}/{path}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.emulators import clear_firestore
from devtools.identity import IdentityServer
from tests.conftest import PROJECT, REPO
from tests.e2e import intercom_seed as seed
from tests.e2e.serving_world import create_connection

MEMBER = "mia@example.com"
OTHER = "otto@example.com"
ADMIN = "ada@example.com"
SANDBOX_TOKEN = "sandbox-token"
CONN = "intercom-org"
#: a personal Intercom connection of OTHER (members other than OTHER must not learn it exists)
PERSONAL = "intercom-otto"
RECORDS = f"/records/{CONN}"


def bearer(identity: IdentityServer, email: str = MEMBER, role: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {identity.identity.id_token(email, role=role)}"}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, body
    return body


def walk(
    api: httpx.Client, path: str, headers: dict[str, str], params: dict[str, Any]
) -> tuple[list[dict[str, Any]], int]:
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
def sandbox(log_dir: Path) -> Any:
    import os
    import sys

    from devtools.processes import ManagedProcess, free_port

    port = free_port()
    proc = ManagedProcess(
        "intercom-sandbox-api-tests",
        [
            sys.executable,
            "-m",
            "devtools.sandboxes.intercom",
            "--port",
            str(port),
            "--contacts",
            "40",
            "--companies",
            "12",
            "--admins",
            "4",
            "--conversations",
            "60",
            "--rate-limit",
            "100000",
        ],
        port=port,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        log_dir=log_dir,
        cwd=REPO,
    ).start()
    url = f"http://127.0.0.1:{port}"
    front = RecordingFront(url)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"}, timeout=30) as direct:
        yield {"url": url, "front": front, "direct": direct}
    front.stop()
    proc.stop()


@pytest.fixture(scope="module")
def store(firestore_host: str, sandbox: dict[str, Any]) -> Any:
    """The connections and the seeded store (module-wide: the read tests do not change it)."""
    from google.cloud import firestore

    clear_firestore(firestore_host, PROJECT)
    db = firestore.Client(project=PROJECT)
    for connection_id, owner in ((CONN, None), (PERSONAL, OTHER)):
        create_connection(
            db,
            connection_id,
            "intercom",
            base_url=sandbox["front"].url,
            credentials={"access_token": SANDBOX_TOKEN},
            owner_uid=owner,
        )
    seed.seed_all(db, CONN)
    seed.seed(db, PERSONAL, "contacts", seed.CONTACTS[:2])
    return db


@pytest.fixture()
def member(identity: IdentityServer, store: Any) -> dict[str, str]:
    return bearer(identity)


# -- contacts ------------------------------------------------------------------------------------


def test_contacts_email_filter_is_exact_and_case_insensitive(api: httpx.Client, member: dict[str, str]) -> None:
    body = api.get(f"{RECORDS}/contacts", headers=member, params={"email": "ADA.lovelace@example.COM"}).json()
    assert [c["id"] for c in body["items"]] == ["c01"]
    assert body["next_cursor"] is None and body["vendor"] == "intercom" and body["stream"] == "contacts"
    item = body["items"][0]
    assert item["email"] == "Ada.Lovelace@Example.com" and item["custom_attributes"] == {"plan": "free"}
    assert "_sync" not in item and "email_lower" not in item and "name_lower" not in item and item["deleted"] is False
    assert api.get(f"{RECORDS}/contacts", headers=member, params={"email": "ada@example"}).json()["items"] == []


def test_contacts_name_prefix_role_and_sorts(api: httpx.Client, member: dict[str, str]) -> None:
    def ids(**params: Any) -> list[str]:
        response = api.get(f"{RECORDS}/contacts", headers=member, params=params)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["items"]]

    assert ids(name="ada", sort="name", order="asc") == [
        "c06",
        "c01",
        "c02",
    ]  # ada king, ada lovelace, adam smith
    assert ids(name="ADA ", sort="name", order="asc") == ["c06", "c01"]
    assert ids(name="ada", role="lead", sort="created_at", order="desc") == ["c06", "c02"]
    # sorting by another field than the prefix filter's: ordered by updated_at, then id
    assert ids(name="ada", sort="updated_at", order="desc") == ["c02", "c01", "c06"]  # tie: name desc
    assert ids(name="b", sort="last_seen_at", order="asc") == ["c03", "c04"]  # no last_seen sorts first
    assert ids(role="lead", sort="updated_at", order="asc", limit=3) == ["c05", "c06", "c02"]


def test_contacts_cursor_walk_returns_every_record_once(api: httpx.Client, member: dict[str, str]) -> None:
    for sort in ("updated_at", "created_at", "last_seen_at", "name"):
        for order in ("asc", "desc"):
            items, pages = walk(api, f"{RECORDS}/contacts", member, {"sort": sort, "order": order, "limit": 4})
            ids = [c["id"] for c in items]
            assert sorted(ids) == sorted(c["id"] for c in seed.CONTACTS), (sort, order)
            assert len(ids) == len(set(ids)) and pages == -(-len(ids) // 4)
            keys = [((c["name"] or "").lower() if sort == "name" else c[sort]) or "" for c in items]
            assert keys == sorted(keys, reverse=order == "desc"), (sort, order)
    items, _ = walk(
        api, f"{RECORDS}/contacts", member, {"role": "user", "name": "zed", "limit": 3, "sort": "updated_at"}
    )
    assert sorted(c["id"] for c in items) == sorted(
        c["id"] for c in seed.CONTACTS if c["id"] >= "c07" and c["role"] == "user"
    )


def test_bad_cursor_bad_query_and_combinations_not_served(api: httpx.Client, member: dict[str, str]) -> None:
    for cursor in ("garbage!", "eyJ2IjoxfQ", "e30", "a" * 3000):
        response = api.get(f"{RECORDS}/contacts", headers=member, params={"cursor": cursor})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] in ("invalid_cursor", "validation_failed")
    assert_error(api.get(f"{RECORDS}/contacts", headers=member, params={"cursor": "garbage!"}), 400, "invalid_cursor")
    # a valid cursor of another query (other sort) is refused, not misapplied
    first = api.get(f"{RECORDS}/contacts", headers=member, params={"limit": 2, "sort": "created_at"}).json()
    assert first["next_cursor"]
    other = api.get(
        f"{RECORDS}/contacts",
        headers=member,
        params={"limit": 2, "sort": "updated_at", "cursor": first["next_cursor"]},
    )
    assert_error(other, 400, "invalid_cursor")
    for params in (
        {"limit": 0},
        {"limit": 201},
        {"sort": "email"},
        {"order": "up"},
        {"role": "admin"},
        {"colour": "red"},
    ):
        assert_error(api.get(f"{RECORDS}/contacts", headers=member, params=params), 400, "validation_failed")
    # only the declared combinations are served from the store (each costs composite indexes)
    body = assert_error(
        api.get(f"{RECORDS}/contacts", headers=member, params={"email": "a@b.c", "sort": "name"}),
        400,
        "unsupported_query",
    )
    assert {"filters": ["email"], "sorts": ["updated_at"], "orders": ["desc"]} in body["error"]["details"]["served"]


def test_contact_by_id_and_404(api: httpx.Client, member: dict[str, str]) -> None:
    response = api.get(f"{RECORDS}/contacts/c03", headers=member)
    assert response.status_code == 200 and response.json()["name"] == "Bob Brown"
    assert response.headers["ETag"].startswith('"') and len(response.headers["ETag"]) == 66
    assert_error(api.get(f"{RECORDS}/contacts/nope", headers=member), 404, "not_found")
    assert_error(api.get(f"{RECORDS}/contacts"), 401, "token_missing")
    assert_error(api.get(f"{RECORDS}/widgets", headers=member), 404, "unknown_stream")
    assert_error(api.get(f"{RECORDS}/widgets/x", headers=member), 404, "unknown_stream")
    assert_error(api.get("/records/no-such-connection/contacts", headers=member), 404, "connection_not_found")


# -- companies, admins, conversations ------------------------------------------------------------------


def test_companies(api: httpx.Client, member: dict[str, str]) -> None:
    body = api.get(f"{RECORDS}/companies", headers=member, params={"name": "ACME"}).json()
    assert [c["name"] for c in body["items"]] == ["Acme", "ACME Europe", "acme labs"]
    items, pages = walk(api, f"{RECORDS}/companies", member, {"limit": 2})
    assert [c["name"].lower() for c in items] == sorted(c["name"].lower() for c in seed.COMPANIES) and pages == 4
    assert api.get(f"{RECORDS}/companies/co3", headers=member).json()["name"] == "Beta Corp"
    assert_error(api.get(f"{RECORDS}/companies/co99", headers=member), 404, "not_found")


def test_admins(api: httpx.Client, member: dict[str, str]) -> None:
    body = api.get(f"{RECORDS}/admins", headers=member).json()
    assert [a["name"] for a in body["items"]] == ["Alan", "Edsger", "Grace"]
    assert body["items"][2]["team_ids"] == ["7"]


def test_conversations_filters_sorts_pages(api: httpx.Client, member: dict[str, str]) -> None:
    def ids(**params: Any) -> list[str]:
        response = api.get(f"{RECORDS}/conversations", headers=member, params=params)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["items"]]

    assert ids(order="asc") == [f"v{n}" for n in range(10)]
    assert ids(state="open") == ["v9", "v6", "v1"]
    assert ids(admin_id="101", state="closed", order="asc") == ["v0", "v2", "v8"]
    assert ids(created_from="2025-12-10", created_to="2025-12-11", order="asc") == [
        "v1",
        "v2",
        "v3",
        "v4",
        "v5",
    ]
    assert ids(created_from="2025-12-10T05:00:00Z", created_to="2025-12-11T00:00:00Z", order="asc") == [
        "v2",
        "v3",
        "v4",
    ]
    # range on created_at, sorted by updated_at: v6 was updated last
    assert ids(created_from="2025-12-12", sort="updated_at")[:1] == ["v6"]
    items, pages = walk(
        api,
        f"{RECORDS}/conversations",
        member,
        {
            "created_from": "2025-12-10",
            "created_to": "2025-12-12",
            "sort": "updated_at",
            "order": "asc",
            "limit": 3,
        },
    )
    assert sorted(c["id"] for c in items) == [f"v{n}" for n in range(1, 9)] and pages == 3
    conv = api.get(f"{RECORDS}/conversations/v4", headers=member).json()
    assert conv["state"] == "snoozed" and conv["admin_assignee_id"] == "102" and conv["created_day"] == "2025-12-11"
    assert conv["time_to_admin_reply_s"] == 30
    assert_error(api.get(f"{RECORDS}/conversations/v99", headers=member), 404, "not_found")
    for params in (
        {"state": "pending"},
        {"created_from": "yesterday"},
        {"created_from": "2025-12-12", "created_to": "2025-12-10"},
    ):
        assert_error(api.get(f"{RECORDS}/conversations", headers=member, params=params), 400, "validation_failed")


def test_conversation_stats(api: httpx.Client, member: dict[str, str]) -> None:
    path = f"/views/{CONN}/conversation-stats"
    response = api.get(path, headers=member, params={"from": "2025-12-10", "to": "2025-12-12"})
    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["total"] == 8
    assert stats["by_day"] == [
        {"day": "2025-12-10", "count": 3},
        {"day": "2025-12-11", "count": 2},
        {"day": "2025-12-12", "count": 3},
    ]
    assert stats["by_state"] == {"closed": 5, "open": 2, "snoozed": 1}
    assert stats["by_admin"] == [
        {"admin_id": "101", "count": 4},
        {"admin_id": "102", "count": 2},
        {"admin_id": "103", "count": 1},
        {"admin_id": None, "count": 1},
    ]
    assert stats["first_response"] == {"replied": 6, "median_s": 105.0, "p90_s": 600.0}
    again = api.get(
        path,
        headers={**member, "If-None-Match": response.headers["ETag"]},
        params={"from": "2025-12-10", "to": "2025-12-12"},
    )
    assert again.status_code == 304 and again.content == b""

    one = api.get(path, headers=member, params={"from": "2025-12-10", "to": "2025-12-12", "admin_id": "101"}).json()
    assert one["total"] == 4 and [d["count"] for d in one["by_day"]] == [2, 0, 2]
    assert one["first_response"] == {"replied": 4, "median_s": 180.0, "p90_s": 600.0}

    empty = api.get(path, headers=member, params={"from": "2024-01-01", "to": "2024-12-31"}).json()
    assert empty["total"] == 0 and len(empty["by_day"]) == 366 and empty["first_response"]["median_s"] is None
    for params in (
        {"from": "2024-01-01", "to": "2025-01-01"},
        {"from": "2025-12-10"},
        {"from": "2025-12-12", "to": "2025-12-10"},
    ):
        assert_error(api.get(path, headers=member, params=params), 400, "validation_failed")
    assert_error(api.get(f"/views/{CONN}/nope", headers=member), 404, "unknown_view")


# -- ETags, deletes, access ----------------------------------------------------------------------------


def test_list_etag_304_until_the_stream_changes(
    api: httpx.Client, member: dict[str, str], identity: IdentityServer, store: Any
) -> None:
    params = {"role": "lead", "sort": "updated_at"}
    first = api.get(f"{RECORDS}/contacts", headers=member, params=params)
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"
    again = api.get(f"{RECORDS}/contacts", headers={**member, "If-None-Match": etag}, params=params)
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    # bound to the query and to the caller: another query or another person gets the full answer
    assert (
        api.get(f"{RECORDS}/contacts", headers={**member, "If-None-Match": etag}, params={"role": "lead"}).status_code
        == 200
    )
    other = bearer(identity, OTHER)
    assert api.get(f"{RECORDS}/contacts", headers={**other, "If-None-Match": etag}, params=params).status_code == 200
    # any change in the stream (here a contact that is not even in this list) changes the ETag
    changed = dict(seed.CONTACTS[2], updated_at=seed.at(40), name="Bob Browne")
    seed.seed(store, CONN, "contacts", [changed], run_id="etag-test")
    after = api.get(f"{RECORDS}/contacts", headers={**member, "If-None-Match": etag}, params=params)
    assert after.status_code == 200 and after.headers["ETag"] != etag
    # a record answers 304 while its content is unchanged
    one = api.get(f"{RECORDS}/contacts/c03", headers=member)
    assert one.json()["name"] == "Bob Browne"
    assert (
        api.get(f"{RECORDS}/contacts/c03", headers={**member, "If-None-Match": one.headers["ETag"]}).status_code == 304
    )


def test_deleted_records_are_hidden_unless_asked(api: httpx.Client, member: dict[str, str], store: Any) -> None:
    from shared.store.records import Provenance
    from shared.sync.ingest import tombstone
    from shared.sync.registry import connector

    before = api.get(f"{RECORDS}/companies", headers=member, params={"limit": 3})
    tombstone(
        store,
        CONN,
        connector("intercom").stream("companies"),
        ["co0", "co1"],
        Provenance("sync", "sweep-test"),
    )
    names = [c["name"] for c in api.get(f"{RECORDS}/companies", headers=member).json()["items"]]
    assert "Acme" not in names and "acme labs" not in names and len(names) == len(seed.COMPANIES) - 2
    # a page that lost records to deletes is topped up, and its cursor walks the rest once
    items, _ = walk(api, f"{RECORDS}/companies", member, {"limit": 1})
    assert [c["name"] for c in items] == names
    assert_error(api.get(f"{RECORDS}/companies/co0", headers=member), 404, "not_found")
    gone = api.get(f"{RECORDS}/companies/co0", headers=member, params={"include_deleted": "true"}).json()
    assert gone["deleted"] is True and gone["id"] == "co0"
    listed = api.get(f"{RECORDS}/companies", headers=member, params={"include_deleted": "true"}).json()["items"]
    assert {c["id"] for c in listed if c["deleted"]} == {"co0", "co1"} and len(listed) == len(seed.COMPANIES)
    stale = api.get(
        f"{RECORDS}/companies",
        headers={**member, "If-None-Match": before.headers["ETag"]},
        params={"limit": 3},
    )
    assert stale.status_code == 200


def test_personal_connections_are_their_owners_and_admins(
    api: httpx.Client, identity: IdentityServer, store: Any
) -> None:
    path = f"/records/{PERSONAL}/contacts"
    assert_error(api.get(path, headers=bearer(identity)), 404, "connection_not_found")
    assert_error(api.get(f"{path}/c01", headers=bearer(identity)), 404, "connection_not_found")
    assert_error(
        api.get(
            f"/views/{PERSONAL}/conversation-stats",
            headers=bearer(identity),
            params={"from": "2025-12-10", "to": "2025-12-12"},
        ),
        404,
        "connection_not_found",
    )
    assert_error(api.get(f"/proxy/{PERSONAL}/admins", headers=bearer(identity)), 404, "connection_not_found")
    for headers in (bearer(identity, OTHER), bearer(identity, ADMIN, role="admin")):
        response = api.get(path, headers=headers)
        assert response.status_code == 200, response.text
        assert [c["id"] for c in response.json()["items"]] == ["c02", "c01"]


# -- live paths: the Intercom sandbox behind a recording front ------------------------------------


class RecordingFront:
    """Between our functions and the sandbox: records what reaches 'Intercom', and misbehaves
    like a careless vendor would, echoing the credential it got in a header on every answer
    and (for GET /tags, which the sandbox does not serve) in the body."""

    def __init__(self, upstream: str) -> None:
        from werkzeug.serving import make_server
        from werkzeug.wrappers import Request, Response

        self.upstream = upstream
        self.requests: list[dict[str, Any]] = []
        self._http = httpx.Client(base_url=upstream, timeout=30)

        def app(environ: dict[str, Any], start_response: Any) -> Any:
            request = Request(environ)
            auth = request.headers.get("Authorization", "")
            self.requests.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "query": request.query_string.decode(),
                    "headers": dict(request.headers),
                }
            )
            if request.path == "/tags":
                body = json.dumps(
                    {
                        "type": "list",
                        "data": [{"type": "tag", "id": "1", "name": "vip"}],
                        "debug": {"authorization": auth, "note": f"called with {auth}"},
                    }
                )
                response = Response(body, 200, mimetype="application/json")
            else:
                upstream = self._http.request(
                    request.method,
                    request.full_path if request.query_string else request.path,
                    headers={k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")},
                    content=request.get_data(),
                )
                response = Response(upstream.content, upstream.status_code, mimetype="application/json")
                for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
                    if name in upstream.headers:
                        response.headers[name] = upstream.headers[name]
            response.headers["X-Echo-Authorization"] = auth
            response.headers["Set-Cookie"] = f"session={auth.replace(' ', '_')}"
            return response(environ, start_response)

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        import threading

        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._http.close()


def _search_all(direct: httpx.Client, path: str, key: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = None
    while True:
        pagination: dict[str, Any] = {"per_page": 150, **({"starting_after": after} if after else {})}
        body = direct.post(path, json={"query": query, "pagination": pagination}).json()
        out += body[key]
        after = ((body.get("pages") or {}).get("next") or {}).get("starting_after")
        if not after:
            return out


def test_live_contacts_match_intercom_in_the_stored_shape(
    api: httpx.Client, sandbox: dict[str, Any], identity: IdentityServer, store: Any
) -> None:
    member = bearer(identity)
    direct = sandbox["direct"]
    raw = direct.get("/contacts", params={"per_page": 5}).json()["data"][2]
    body = api.get(f"{RECORDS}/contacts", headers=member, params={"live": "true", "email": raw["email"].upper()}).json()
    assert [c["id"] for c in body["items"]] == [raw["id"]]
    stored_shape = set(api.get(f"{RECORDS}/contacts/c01", headers=member).json())
    assert set(body["items"][0]) == stored_shape  # no _sync, no search copies: the same shape
    assert body["items"][0]["custom_attributes"] == raw["custom_attributes"]

    users = {
        c["id"]
        for c in _search_all(direct, "/contacts/search", "data", {"field": "role", "operator": "=", "value": "user"})
    }
    items, pages = walk(api, f"{RECORDS}/contacts", member, {"live": "true", "role": "user", "limit": 7})
    ids = [c["id"] for c in items]
    assert len(ids) == len(set(ids)) and set(ids) == users and pages == -(-len(users) // 7)
    stamps = [c["updated_at"] for c in items]
    assert stamps == sorted(stamps, reverse=True)

    prefix = raw["name"][:2]
    named, _ = walk(
        api,
        f"{RECORDS}/contacts",
        member,
        {"live": "true", "name": prefix.lower(), "sort": "name", "order": "asc"},
    )
    assert raw["id"] in {c["id"] for c in named} and all(c["name"].lower().startswith(prefix.lower()) for c in named)

    store_cursor = api.get(f"{RECORDS}/contacts", headers=member, params={"limit": 1}).json()["next_cursor"]
    response = api.get(f"{RECORDS}/contacts", headers=member, params={"live": "true", "cursor": store_cursor})
    assert_error(response, 400, "invalid_cursor")
    assert_error(api.get(f"{RECORDS}/admins", headers=member, params={"live": "true"}), 400, "live_not_supported")


def test_live_conversations_and_companies(
    api: httpx.Client, sandbox: dict[str, Any], identity: IdentityServer, store: Any
) -> None:
    member = bearer(identity)
    direct = sandbox["direct"]
    opened = {
        v["id"]
        for v in _search_all(
            direct,
            "/conversations/search",
            "conversations",
            {"field": "state", "operator": "=", "value": "open"},
        )
    }
    items, _ = walk(
        api, f"{RECORDS}/conversations", member, {"live": "true", "state": "open", "limit": 9, "order": "asc"}
    )
    assert {v["id"] for v in items} == opened and len(items) == len(opened)
    assert all(v["state"] == "open" and "_sync" not in v for v in items)
    created = [v["created_at"] for v in items]
    assert created == sorted(created)

    first = direct.get("/companies", params={"per_page": 3}).json()["data"][1]
    body = api.get(f"{RECORDS}/companies", headers=member, params={"live": "true", "name": first["name"]}).json()
    assert [c["id"] for c in body["items"]] == [first["id"]] and body["next_cursor"] is None
    none = api.get(
        f"{RECORDS}/companies", headers=member, params={"live": "true", "name": "No Such Company Ltd"}
    ).json()
    assert none["items"] == [] and none["next_cursor"] is None
    # Intercom lists only companies with users (the sandbox too): the same set, in pages of 5
    listed = {c["id"] for c in direct.get("/companies", params={"per_page": 60}).json()["data"]}
    companies, pages = walk(api, f"{RECORDS}/companies", member, {"live": "true", "limit": 5})
    assert {c["id"] for c in companies} == listed and len(companies) == len(listed) and pages == -(-len(listed) // 5)


def _stored_from_sandbox(store: Any, direct: httpx.Client, contact_id: str) -> None:
    seed.seed(store, CONN, "contacts", [direct.get(f"/contacts/{contact_id}").json()], run_id="live-test")


ACTION = f"/actions/{CONN}/contact-custom-attributes"


def test_action_custom_attributes_intercom_first_with_etags(
    api: httpx.Client, sandbox: dict[str, Any], identity: IdentityServer, store: Any
) -> None:
    direct = sandbox["direct"]
    cid = direct.get("/contacts", params={"per_page": 10}).json()["data"][7]["id"]
    _stored_from_sandbox(store, direct, cid)
    admin, member = bearer(identity, ADMIN, role="admin"), bearer(identity)
    change = {"key": cid, "attributes": {"plan_tier": "gold", "seats": 12}}

    current = api.get(f"{RECORDS}/contacts/{cid}", headers=member)
    etag = current.headers["ETag"]
    assert_error(api.post(ACTION, headers={**member, "If-Match": etag}, json=change), 403, "role_required")
    assert_error(api.post(ACTION, headers=admin, json=change), 428, "precondition_required")
    assert_error(api.post(ACTION, headers={**admin, "If-Match": '"0000"'}, json=change), 409, "version_conflict")
    assert_error(
        api.post(ACTION, headers={**admin, "If-Match": etag}, json={"key": cid, "attributes": {}}),
        400,
        "validation_failed",
    )
    assert_error(
        api.post(ACTION, headers={**admin, "If-Match": etag}, json={**change, "key": "nobody"}),
        404,
        "not_found",
    )
    assert_error(
        api.post(f"/actions/{CONN}/nope", headers={**admin, "If-Match": etag}, json=change),
        404,
        "unknown_action",
    )

    done = api.post(ACTION, headers={**admin, "If-Match": etag}, json=change)
    assert done.status_code == 200, done.text
    new_etag = done.headers["ETag"]
    assert new_etag != etag and done.json()["custom_attributes"]["plan_tier"] == "gold"
    assert direct.get(f"/contacts/{cid}").json()["custom_attributes"]["seats"] == 12  # Intercom has it
    reread = api.get(f"{RECORDS}/contacts/{cid}", headers=member)  # and so does the store
    assert reread.headers["ETag"] == new_etag and reread.json()["custom_attributes"]["plan_tier"] == "gold"
    stored = store.collection("connections").document(CONN).collection("contacts").document(cid).get().to_dict()
    assert stored["_sync"]["source"]["kind"] == "write_back" and "_write_claim" not in stored

    # the old version is gone: no lost update
    assert_error(
        api.post(ACTION, headers={**admin, "If-Match": etag}, json={"key": cid, "attributes": {"plan_tier": "tin"}}),
        409,
        "version_conflict",
    )
    # expected_updated_at instead of If-Match
    stale = {
        "key": cid,
        "attributes": {"plan_tier": "tin"},
        "expected_updated_at": current.json()["updated_at"],
    }
    assert_error(api.post(ACTION, headers=admin, json=stale), 409, "version_conflict")
    fresh = {
        "key": cid,
        "attributes": {"plan_tier": "silver"},
        "expected_updated_at": done.json()["updated_at"],
    }
    again = api.post(ACTION, headers=admin, json=fresh)
    assert again.status_code == 200 and again.json()["custom_attributes"]["plan_tier"] == "silver"

    # changed in Intercom behind the store's back: 409, and the store now has Intercom's version
    direct.put(
        f"/contacts/{cid}", json={"custom_attributes": {"training_topic": "edited in Intercom"}}
    ).raise_for_status()
    behind = api.post(
        ACTION,
        headers={**admin, "If-Match": again.headers["ETag"]},
        json={"key": cid, "attributes": {"plan_tier": "x"}},
    )
    body = assert_error(behind, 409, "version_conflict")
    reread = api.get(f"{RECORDS}/contacts/{cid}", headers=member)
    assert reread.json()["custom_attributes"]["training_topic"] == "edited in Intercom"
    assert reread.headers["ETag"] == body["error"]["details"]["current_etag"]
    retry = api.post(
        ACTION,
        headers={**admin, "If-Match": reread.headers["ETag"]},
        json={"key": cid, "attributes": {"plan_tier": "x"}},
    )
    assert retry.status_code == 200 and retry.json()["custom_attributes"] == {
        **reread.json()["custom_attributes"],
        "plan_tier": "x",
    }


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        ({"not_defined_here": "x"}, "Custom attribute 'not_defined_here' does not exist"),
        ({"seats": "twelve"}, "seats"),  # an integer attribute
        ({"beta_tester": 3}, "beta_tester"),  # a boolean attribute
    ],
)
def test_a_change_intercom_refuses_is_a_422_with_its_reason_and_changes_nothing(
    api: httpx.Client, sandbox: dict[str, Any], identity: IdentityServer, store: Any,
    attributes: dict[str, Any], reason: str,
) -> None:
    """Intercom keeps only attributes defined in the workspace, with their type: the caller
    learns why, and neither Intercom nor the store changed."""
    direct = sandbox["direct"]
    cid = direct.get("/contacts", params={"per_page": 20}).json()["data"][11]["id"]
    _stored_from_sandbox(store, direct, cid)
    admin = bearer(identity, ADMIN, role="admin")
    before_vendor = direct.get(f"/contacts/{cid}").json()
    before = api.get(f"{RECORDS}/contacts/{cid}", headers=admin, params={"include_raw": "true"})
    ref = store.collection("connections").document(CONN).collection("contacts").document(cid)
    stored_before = ref.get().to_dict()

    refused = api.post(
        ACTION,
        headers={**admin, "If-Match": before.headers["ETag"], "Idempotency-Key": f"refused-{cid}-{sorted(attributes)[0]}"},
        json={"key": cid, "attributes": attributes},
    )
    body = assert_error(refused, 422, "vendor_refused_change")
    assert body["error"]["message"].startswith("Intercom refused the change: ") and reason in body["error"]["message"]
    assert body["error"]["details"]["vendor_status"] == 400
    assert {e["code"] for e in body["error"]["details"]["vendor_errors"]} <= {"parameter_not_found", "parameter_invalid"}

    assert direct.get(f"/contacts/{cid}").json() == before_vendor  # Intercom did not change
    after = api.get(f"{RECORDS}/contacts/{cid}", headers=admin, params={"include_raw": "true"})
    assert after.headers["ETag"] == before.headers["ETag"] and after.json() == before.json()
    assert ref.get().to_dict() == stored_before  # nor did the store (the claim was released too)
    # the same key answers the same refusal without asking Intercom again
    replay = api.post(
        ACTION,
        headers={**admin, "If-Match": before.headers["ETag"], "Idempotency-Key": f"refused-{cid}-{sorted(attributes)[0]}"},
        json={"key": cid, "attributes": attributes},
    )
    assert replay.status_code == 422 and replay.headers.get("Idempotent-Replayed") == "true"


def test_records_keep_intercoms_whole_payload_answered_on_request(
    api: httpx.Client, sandbox: dict[str, Any], member: dict[str, str], store: Any
) -> None:
    direct = sandbox["direct"]
    cid = direct.get("/contacts", params={"per_page": 20}).json()["data"][13]["id"]
    _stored_from_sandbox(store, direct, cid)
    raw = direct.get(f"/contacts/{cid}").json()
    lean = api.get(f"{RECORDS}/contacts/{cid}", headers=member).json()
    assert "raw" not in lean
    full = api.get(f"{RECORDS}/contacts/{cid}", headers=member, params={"include_raw": "true"}).json()
    assert full["raw"] == raw and {k: v for k, v in full.items() if k != "raw"} == lean
    page = api.get(f"{RECORDS}/contacts", headers=member, params={"include_raw": "true", "limit": 200}).json()
    assert next(i for i in page["items"] if i["id"] == cid)["raw"] == raw
    assert all("raw" not in i for i in api.get(f"{RECORDS}/contacts", headers=member).json()["items"])
    live = api.get(f"{RECORDS}/contacts", headers=member,
                   params={"live": "true", "email": raw["email"], "include_raw": "true"}).json()
    assert live["items"][0]["raw"]["id"] == cid


def test_concurrent_actions_from_one_version_one_wins(
    api: httpx.Client, sandbox: dict[str, Any], identity: IdentityServer, store: Any
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    direct = sandbox["direct"]
    cid = direct.get("/contacts", params={"per_page": 10}).json()["data"][8]["id"]
    _stored_from_sandbox(store, direct, cid)
    admin = bearer(identity, ADMIN, role="admin")
    etag = api.get(f"{RECORDS}/contacts/{cid}", headers=admin).headers["ETag"]
    direct.post("/_sandbox/faults", json={"latency_ms": 300}).raise_for_status()  # widen the race window
    try:

        def act(value: str) -> httpx.Response:
            return api.post(
                ACTION,
                headers={**admin, "If-Match": etag},
                json={"key": cid, "attributes": {"training_topic": value}},
            )

        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(act, ["w1", "w2", "w3", "w4"]))
    finally:
        direct.post("/_sandbox/faults", json={"latency_ms": 0}).raise_for_status()
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 409, 409, 409], [r.text for r in results]
    winner = next(r for r in results if r.status_code == 200).json()["custom_attributes"]["training_topic"]
    assert all(r.json()["error"]["code"] == "version_conflict" for r in results if r.status_code == 409)
    # Intercom and the store agree on the one change that was made
    assert direct.get(f"/contacts/{cid}").json()["custom_attributes"]["training_topic"] == winner
    assert api.get(f"{RECORDS}/contacts/{cid}", headers=admin).json()["custom_attributes"]["training_topic"] == winner


def test_idempotency_key_never_acts_twice(
    api: httpx.Client, sandbox: dict[str, Any], identity: IdentityServer, store: Any
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    direct, front = sandbox["direct"], sandbox["front"]
    cid = direct.get("/contacts", params={"per_page": 10}).json()["data"][9]["id"]
    _stored_from_sandbox(store, direct, cid)
    admin = bearer(identity, ADMIN, role="admin")
    etag = api.get(f"{RECORDS}/contacts/{cid}", headers=admin).headers["ETag"]
    change = {"key": cid, "attributes": {"plan_tier": "pro"}}
    headers = {**admin, "If-Match": etag, "Idempotency-Key": "change-42"}

    def puts() -> int:
        return sum(1 for r in front.requests if r["method"] == "PUT" and r["path"] == f"/contacts/{cid}")

    first = api.post(ACTION, headers=headers, json=change)
    assert first.status_code == 200, first.text
    assert puts() == 1
    replay = api.post(ACTION, headers=headers, json=change)  # a retry: the same answer, no second PUT
    assert (
        replay.status_code == 200 and replay.json() == first.json() and replay.headers["ETag"] == first.headers["ETag"]
    )
    assert replay.headers["Idempotent-Replayed"] == "true" and puts() == 1
    assert_error(
        api.post(ACTION, headers=headers, json={**change, "attributes": {"plan_tier": "free"}}),
        422,
        "idempotency_key_reused",
    )
    # a refused request (stale If-Match) is answered the same way on retry
    stale = {**admin, "If-Match": etag, "Idempotency-Key": "change-43"}
    assert_error(api.post(ACTION, headers=stale, json=change), 409, "version_conflict")
    assert_error(api.post(ACTION, headers=stale, json=change), 409, "version_conflict")
    assert_error(
        api.post(ACTION, headers={**headers, "Idempotency-Key": "bad key"}, json=change),
        400,
        "invalid_idempotency_key",
    )

    # concurrent duplicates: one acts, the others are told it is in progress (or get its answer)
    current = first.headers["ETag"]
    direct.post("/_sandbox/faults", json={"latency_ms": 300}).raise_for_status()
    try:

        def act(_: int) -> httpx.Response:
            return api.post(
                ACTION,
                headers={**admin, "If-Match": current, "Idempotency-Key": "change-44"},
                json={"key": cid, "attributes": {"plan_tier": "team"}},
            )

        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(act, range(3)))
    finally:
        direct.post("/_sandbox/faults", json={"latency_ms": 0}).raise_for_status()
    assert puts() == 2, [r.text for r in results]
    assert [r.status_code for r in results].count(200) >= 1
    assert all(r.status_code == 200 or r.json()["error"]["code"] == "in_progress" for r in results)


def test_proxy_allow_list_and_credentials(
    api: httpx.Client, sandbox: dict[str, Any], identity: IdentityServer, store: Any
) -> None:
    direct, front = sandbox["direct"], sandbox["front"]
    admin = bearer(identity, ADMIN, role="admin")
    proxy = f"/proxy/{CONN}"
    assert_error(api.get(f"{proxy}/admins", headers=bearer(identity)), 403, "role_required")

    response = api.get(f"{proxy}/admins", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == direct.get("/admins").json()
    cid = direct.get("/contacts", params={"per_page": 1}).json()["data"][0]["id"]
    front.requests.clear()
    one = api.get(f"{proxy}/contacts/{cid}", headers=admin, params={"foo": "bar", "x": ["1", "2"]})
    assert one.status_code == 200 and one.json()["id"] == cid
    seen = front.requests[-1]
    assert seen["method"] == "GET" and seen["path"] == f"/contacts/{cid}" and seen["query"] == "foo=bar&x=1&x=2"
    assert seen["headers"]["Authorization"] == f"Bearer {SANDBOX_TOKEN}"  # the connection's, never the caller's
    assert admin["Authorization"] not in json.dumps(seen["headers"])

    missing = api.get(f"{proxy}/contacts/nobody", headers=admin)
    assert missing.status_code == 404 and missing.json()["type"] == "error.list"  # Intercom's own body

    echoed = api.get(f"{proxy}/tags", headers=admin)
    assert echoed.status_code == 200 and echoed.json()["data"][0]["name"] == "vip"
    assert echoed.json()["debug"]["authorization"] == "Bearer [redacted]"
    for r in (response, one, missing, echoed):
        assert SANDBOX_TOKEN not in r.text
        assert SANDBOX_TOKEN not in json.dumps(dict(r.headers))
        assert "X-Echo-Authorization" not in r.headers and "Set-Cookie" not in r.headers

    for path in (
        f"{proxy}/contacts",
        f"{proxy}/me",
        f"{proxy}/contacts/search",
        f"{proxy}/contacts/a/b",
        f"{proxy}/contacts/%2e%2e",
        f"{proxy}/",
        proxy,
        f"{proxy}/_sandbox/stats",
        f"{proxy}/companies/x%2F..%2Fadmins",
    ):
        assert_error(api.get(path, headers=admin), 403, "path_not_allowed")
    assert_error(api.post(f"{proxy}/contacts/{cid}", headers=admin, json={}), 405, "method_not_allowed")
    assert_error(api.delete(f"{proxy}/contacts/{cid}", headers=admin), 405, "method_not_allowed")
