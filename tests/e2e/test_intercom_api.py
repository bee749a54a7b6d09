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


# -- live paths: the Intercom sandbox behind a recording front ------------------------------------

SANDBOX_TOKEN = "sandbox-token"


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
            self.requests.append({"method": request.method, "path": request.path, "query": request.query_string.decode(),
                                  "headers": dict(request.headers)})
            if request.path == "/tags":
                body = json.dumps({"type": "list", "data": [{"type": "tag", "id": "1", "name": "vip"}],
                                   "debug": {"authorization": auth, "note": f"called with {auth}"}})
                response = Response(body, 200, mimetype="application/json")
            else:
                upstream = self._http.request(
                    request.method, request.full_path if request.query_string else request.path,
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


@pytest.fixture(scope="module")
def sandbox(log_dir: Path) -> Any:
    import sys

    from devtools.processes import ManagedProcess, free_port

    port = free_port()
    proc = ManagedProcess(
        "intercom-sandbox-api-tests",
        [sys.executable, "-m", "devtools.sandboxes.intercom", "--port", str(port), "--contacts", "40",
         "--companies", "12", "--admins", "4", "--conversations", "60", "--rate-limit", "100000"],
        port=port, env={**__import__("os").environ, "PYTHONPATH": str(REPO)}, log_dir=log_dir, cwd=REPO,
    ).start()
    url = f"http://127.0.0.1:{port}"
    front = RecordingFront(url)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"}, timeout=30) as direct:
        yield {"url": url, "front": front, "direct": direct}
    front.stop()
    proc.stop()


@pytest.fixture(scope="module")
def live_api(sandbox: dict[str, Any], log_dir: Path, identity: IdentityServer, firestore_host: str, store: Any) -> Any:
    """Every function, served by a functions server whose Intercom is the recording front."""
    import os
    import sys

    from devtools.processes import ManagedProcess, free_port
    from tests.conftest import REGION, base_env

    port = free_port()
    base = f"http://127.0.0.1:{port}/{PROJECT}/{REGION}"
    env = {**os.environ, **base_env(base, identity), "PYTHONPATH": str(REPO), "FIRESTORE_EMULATOR_HOST": firestore_host,
           "INTERCOM_BASE_URL": sandbox["front"].url, "INTERCOM_ACCESS_TOKEN": SANDBOX_TOKEN}
    proc = ManagedProcess("functions-intercom-live", [sys.executable, "-m", "devtools.functions_server", "--port", str(port)],
                          port=port, env=env, log_dir=log_dir, cwd=REPO).start()
    with httpx.Client(base_url=base, timeout=60) as client:
        yield client
    proc.stop()


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


def test_live_contacts_match_intercom_in_the_stored_shape(live_api: httpx.Client, sandbox: dict[str, Any],
                                                          identity: IdentityServer, api: httpx.Client) -> None:
    member = bearer(identity)
    direct = sandbox["direct"]
    raw = direct.get("/contacts", params={"per_page": 5}).json()["data"][2]
    body = live_api.get("/intercom-contacts", headers=member, params={"live": "true", "email": raw["email"].upper()}).json()
    assert [c["id"] for c in body["items"]] == [raw["id"]]
    stored_shape = set(api.get("/intercom-contacts/c01", headers=member).json())
    assert set(body["items"][0]) == stored_shape  # no _sync, no search copies: the same shape
    assert body["items"][0]["custom_attributes"] == raw["custom_attributes"]

    users = {c["id"] for c in _search_all(direct, "/contacts/search", "data", {"field": "role", "operator": "=", "value": "user"})}
    items, pages = walk(live_api, "/intercom-contacts", member, {"live": "true", "role": "user", "limit": 7})
    ids = [c["id"] for c in items]
    assert len(ids) == len(set(ids)) and set(ids) == users and pages == -(-len(users) // 7)
    stamps = [c["updated_at"] for c in items]
    assert stamps == sorted(stamps, reverse=True)

    prefix = raw["name"][:2]
    named, _ = walk(live_api, "/intercom-contacts", member, {"live": "true", "name": prefix.lower(), "sort": "name", "order": "asc"})
    assert raw["id"] in {c["id"] for c in named} and all(c["name"].lower().startswith(prefix.lower()) for c in named)

    store_cursor = api.get("/intercom-contacts", headers=member, params={"limit": 1}).json()["next_cursor"]
    response = live_api.get("/intercom-contacts", headers=member, params={"live": "true", "cursor": store_cursor})
    assert_error(response, 400, "invalid_cursor")


def test_live_conversations_and_companies(live_api: httpx.Client, sandbox: dict[str, Any], identity: IdentityServer) -> None:
    member = bearer(identity)
    direct = sandbox["direct"]
    opened = {v["id"] for v in _search_all(direct, "/conversations/search", "conversations",
                                           {"field": "state", "operator": "=", "value": "open"})}
    items, _ = walk(live_api, "/intercom-conversations", member, {"live": "true", "state": "open", "limit": 9, "order": "asc"})
    assert {v["id"] for v in items} == opened and len(items) == len(opened)
    assert all(v["state"] == "open" and "_sync" not in v for v in items)
    created = [v["created_at"] for v in items]
    assert created == sorted(created)

    first = direct.get("/companies", params={"per_page": 3}).json()["data"][1]
    body = live_api.get("/intercom-companies", headers=member, params={"live": "true", "name": first["name"]}).json()
    assert [c["id"] for c in body["items"]] == [first["id"]] and body["next_cursor"] is None
    none = live_api.get("/intercom-companies", headers=member, params={"live": "true", "name": "No Such Company Ltd"}).json()
    assert none == {"items": [], "next_cursor": None}
    companies, pages = walk(live_api, "/intercom-companies", member, {"live": "true", "limit": 5})
    assert len({c["id"] for c in companies}) == len(companies) == 12 and pages == 3


def _stored_from_sandbox(store: Any, direct: httpx.Client, contact_id: str) -> None:
    seed.seed(store, "contacts", [direct.get(f"/contacts/{contact_id}").json()], run_id="live-test")


def test_patch_custom_attributes_intercom_first_with_etags(live_api: httpx.Client, sandbox: dict[str, Any],
                                                           identity: IdentityServer, store: Any) -> None:
    direct = sandbox["direct"]
    cid = direct.get("/contacts", params={"per_page": 10}).json()["data"][7]["id"]
    _stored_from_sandbox(store, direct, cid)
    admin, member = bearer(identity, ADMIN, role="admin"), bearer(identity)
    path = f"/intercom-contacts/{cid}/custom-attributes"
    change = {"attributes": {"tier": "gold", "seats": 12}}

    current = live_api.get(f"/intercom-contacts/{cid}", headers=member)
    etag = current.headers["ETag"]
    assert_error(live_api.patch(path, headers={**member, "If-Match": etag}, json=change), 403, "role_required")
    assert_error(live_api.patch(path, headers=admin, json=change), 428, "precondition_required")
    assert_error(live_api.patch(path, headers={**admin, "If-Match": '"0000"'}, json=change), 409, "version_conflict")
    assert_error(live_api.patch(path, headers={**admin, "If-Match": etag}, json={"attributes": {}}), 400, "validation_failed")
    assert_error(live_api.patch("/intercom-contacts/nobody/custom-attributes", headers={**admin, "If-Match": etag},
                                json=change), 404, "not_found")

    done = live_api.patch(path, headers={**admin, "If-Match": etag}, json=change)
    assert done.status_code == 200, done.text
    new_etag = done.headers["ETag"]
    assert new_etag != etag and done.json()["custom_attributes"]["tier"] == "gold"
    assert direct.get(f"/contacts/{cid}").json()["custom_attributes"]["seats"] == 12  # Intercom has it
    reread = live_api.get(f"/intercom-contacts/{cid}", headers=member)  # and so does the store
    assert reread.headers["ETag"] == new_etag and reread.json()["custom_attributes"]["tier"] == "gold"

    # the old version is gone: no lost update
    assert_error(live_api.patch(path, headers={**admin, "If-Match": etag}, json={"attributes": {"tier": "tin"}}),
                 409, "version_conflict")
    # expected_updated_at instead of If-Match
    stale = {"attributes": {"tier": "tin"}, "expected_updated_at": current.json()["updated_at"]}
    assert_error(live_api.patch(path, headers=admin, json=stale), 409, "version_conflict")
    fresh = {"attributes": {"tier": "silver"}, "expected_updated_at": done.json()["updated_at"]}
    again = live_api.patch(path, headers=admin, json=fresh)
    assert again.status_code == 200 and again.json()["custom_attributes"]["tier"] == "silver"

    # changed in Intercom behind the store's back: 409, and the store now has Intercom's version
    direct.put(f"/contacts/{cid}", json={"custom_attributes": {"note": "edited in Intercom"}}).raise_for_status()
    behind = live_api.patch(path, headers={**admin, "If-Match": again.headers["ETag"]}, json={"attributes": {"tier": "x"}})
    body = assert_error(behind, 409, "version_conflict")
    reread = live_api.get(f"/intercom-contacts/{cid}", headers=member)
    assert reread.json()["custom_attributes"]["note"] == "edited in Intercom"
    assert reread.headers["ETag"] == body["error"]["details"]["current_etag"]
    retry = live_api.patch(path, headers={**admin, "If-Match": reread.headers["ETag"]}, json={"attributes": {"tier": "x"}})
    assert retry.status_code == 200 and retry.json()["custom_attributes"] == {
        **reread.json()["custom_attributes"], "tier": "x"}


def test_concurrent_patches_from_one_version_one_wins(live_api: httpx.Client, sandbox: dict[str, Any],
                                                      identity: IdentityServer, store: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    direct = sandbox["direct"]
    cid = direct.get("/contacts", params={"per_page": 10}).json()["data"][8]["id"]
    _stored_from_sandbox(store, direct, cid)
    admin = bearer(identity, ADMIN, role="admin")
    etag = live_api.get(f"/intercom-contacts/{cid}", headers=admin).headers["ETag"]
    direct.post("/_sandbox/faults", json={"latency_ms": 300}).raise_for_status()  # widen the race window
    try:
        def patch(value: str) -> httpx.Response:
            return live_api.patch(f"/intercom-contacts/{cid}/custom-attributes", headers={**admin, "If-Match": etag},
                                  json={"attributes": {"owner": value}})

        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(patch, ["w1", "w2", "w3", "w4"]))
    finally:
        direct.post("/_sandbox/faults", json={"latency_ms": 0}).raise_for_status()
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 409, 409, 409], [r.text for r in results]
    winner = next(r for r in results if r.status_code == 200).json()["custom_attributes"]["owner"]
    assert all(r.json()["error"]["code"] == "version_conflict" for r in results if r.status_code == 409)
    # Intercom and the store agree on the one change that was made
    assert direct.get(f"/contacts/{cid}").json()["custom_attributes"]["owner"] == winner
    assert live_api.get(f"/intercom-contacts/{cid}", headers=admin).json()["custom_attributes"]["owner"] == winner


def test_proxy_allow_list_and_credentials(live_api: httpx.Client, sandbox: dict[str, Any], identity: IdentityServer) -> None:
    direct, front = sandbox["direct"], sandbox["front"]
    admin = bearer(identity, ADMIN, role="admin")
    assert_error(live_api.get("/intercom-proxy/admins", headers=bearer(identity)), 403, "role_required")

    response = live_api.get("/intercom-proxy/admins", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == direct.get("/admins").json()
    cid = direct.get("/contacts", params={"per_page": 1}).json()["data"][0]["id"]
    front.requests.clear()
    one = live_api.get(f"/intercom-proxy/contacts/{cid}", headers=admin, params={"foo": "bar", "x": ["1", "2"]})
    assert one.status_code == 200 and one.json()["id"] == cid
    seen = front.requests[-1]
    assert seen["method"] == "GET" and seen["path"] == f"/contacts/{cid}" and seen["query"] == "foo=bar&x=1&x=2"
    assert seen["headers"]["Authorization"] == f"Bearer {SANDBOX_TOKEN}"  # ours, never the caller's
    assert admin["Authorization"] not in json.dumps(seen["headers"])

    missing = live_api.get("/intercom-proxy/contacts/nobody", headers=admin)
    assert missing.status_code == 404 and missing.json()["type"] == "error.list"  # Intercom's own body

    echoed = live_api.get("/intercom-proxy/tags", headers=admin)
    assert echoed.status_code == 200 and echoed.json()["data"][0]["name"] == "vip"
    assert echoed.json()["debug"]["authorization"] == "Bearer [redacted]"
    for r in (response, one, missing, echoed):
        assert SANDBOX_TOKEN not in r.text
        assert SANDBOX_TOKEN not in json.dumps(dict(r.headers))
        assert "X-Echo-Authorization" not in r.headers and "Set-Cookie" not in r.headers

    for path in ("/intercom-proxy/contacts", "/intercom-proxy/me", "/intercom-proxy/contacts/search",
                 "/intercom-proxy/contacts/a/b", "/intercom-proxy/contacts/%2e%2e", "/intercom-proxy/",
                 "/intercom-proxy/_sandbox/stats", "/intercom-proxy/companies/x%2F..%2Fadmins"):
        assert_error(live_api.get(path, headers=admin), 403, "path_not_allowed")
    assert_error(live_api.post(f"/intercom-proxy/contacts/{cid}", headers=admin, json={}), 405, "method_not_allowed")
    assert_error(live_api.delete(f"/intercom-proxy/contacts/{cid}", headers=admin), 405, "method_not_allowed")
