"""Customers and contacts over the wire: real tokens, the functions server, the Firestore
emulator. Versions, If-Match, 409 with the current record, Idempotency-Key replays,
304 polling, changes_since with deletions, soft delete and undo, the audit trail."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from devtools.identity import IdentityServer

MEMBER = "mia@example.com"
OTHER = "otto@example.com"
ADMIN = "ada@example.com"


def bearer(identity: IdentityServer, email: str = MEMBER, role: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {identity.identity.id_token(email, role=role)}"}


def error_code(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["error"]["code"])


@pytest.fixture()
def me(identity: IdentityServer) -> dict[str, str]:
    return bearer(identity)


def make_customer(api: httpx.Client, me: dict[str, str], **fields: Any) -> httpx.Response:
    response = api.post("/customers", headers=me, json={"name": "Acme Corp", **fields})
    assert response.status_code == 201, response.text
    return response


def test_create_read_update_with_versions(api: httpx.Client, me: dict[str, str], clean_firestore: str) -> None:
    created = make_customer(api, me, domain="https://Acme.example", owner_email="Mia@Example.com", tags=["vip"])
    body = created.json()
    assert body["version"] == 1 and created.headers["ETag"] == '"v1"'
    assert body["domain"] == "acme.example" and body["owner_email"] == "mia@example.com"
    assert body["created_by"] == MEMBER and not body["deleted"]
    cid = body["id"]

    read = api.get(f"/customers/{cid}", headers=me)
    assert read.status_code == 200 and read.headers["ETag"] == '"v1"' and read.json() == body
    assert api.get(f"/customers/{cid}", headers={**me, "If-None-Match": '"v1"'}).status_code == 304

    assert error_code(api.patch(f"/customers/{cid}", headers=me, json={"status": "active"}), 428) == "precondition_required"
    changed = api.patch(f"/customers/{cid}", headers={**me, "If-Match": '"v1"'}, json={"status": "active"})
    assert changed.status_code == 200 and changed.json()["version"] == 2 and changed.headers["ETag"] == '"v2"'
    stale = api.patch(f"/customers/{cid}", headers={**me, "If-Match": '"v1"'}, json={"name": "Acme Inc"})
    assert error_code(stale, 409) == "version_conflict"
    assert stale.json()["error"]["details"]["current"]["status"] == "active"
    assert stale.headers["ETag"] == '"v2"'
    # the same values again change nothing: no new version
    same = api.patch(f"/customers/{cid}", headers={**me, "If-Match": '"v2"'}, json={"status": "active"})
    assert same.json()["version"] == 2


def test_validation_is_strict(api: httpx.Client, me: dict[str, str], clean_firestore: str) -> None:
    cases = [
        {"name": "A", "colour": "red"},  # unknown field
        {"name": ""},
        {"name": "A" * 201},
        {"name": "A", "owner_email": "not-an-email"},
        {"name": "A", "owner_email": "a@b"},
        {"name": "A", "status": "asleep"},
        {"name": "A", "tags": ["t"] * 21},
        {"name": "A", "notes": "x" * 5001},
    ]
    for payload in cases:
        assert error_code(api.post("/customers", headers=me, json=payload), 400) == "validation_failed", payload
    assert error_code(api.post("/contacts", headers=me, json={"title": "CTO"}), 400) == "validation_failed"
    no_customer = api.post("/contacts", headers=me, json={"email": "a@x.example", "customer_id": "cust_nope"})
    assert error_code(no_customer, 400) == "validation_failed"
    assert error_code(api.get("/customers", headers=me, params={"customer_id": "cust_1"}), 400) == "unsupported_query"
    assert error_code(api.get("/customers", headers=me, params={"limit": 500}), 400) == "validation_failed"
    assert api.post("/customers", json={"name": "A"}).status_code == 401


def test_two_clients_editing_at_once(api: httpx.Client, identity: IdentityServer, clean_firestore: str) -> None:
    """Both send version 1 at the same moment: one 200, one 409; the loser's edit is not
    applied, the winner's is, and the audit trail has exactly one update."""
    me, other = bearer(identity), bearer(identity, OTHER)
    cid = make_customer(api, me).json()["id"]
    for round_ in range(5):
        version = api.get(f"/customers/{cid}", headers=me).json()["version"]
        barrier = threading.Barrier(2)
        results: dict[str, httpx.Response] = {}

        def edit(
            who: str, headers: dict[str, str], v: int = version, r: int = round_,
            barrier: threading.Barrier = barrier, results: dict[str, httpx.Response] = results,
        ) -> None:
            with httpx.Client(base_url=str(api.base_url), timeout=30) as client:
                barrier.wait()
                results[who] = client.patch(
                    f"/customers/{cid}", headers={**headers, "If-Match": f'"v{v}"'}, json={"notes": f"{who} {r}"}
                )

        threads = [threading.Thread(target=edit, args=(w, h)) for w, h in (("mia", me), ("otto", other))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = sorted(r.status_code for r in results.values())
        assert statuses == [200, 409], {w: r.text for w, r in results.items()}
        winner = next(w for w, r in results.items() if r.status_code == 200)
        loser = results["otto" if winner == "mia" else "mia"]
        now = api.get(f"/customers/{cid}", headers=me).json()
        assert now["notes"] == f"{winner} {round_}" and now["version"] == version + 1
        assert loser.json()["error"]["details"]["current"]["notes"] == f"{winner} {round_}"
    trail = api.get(f"/customers/{cid}/audit", headers=me).json()["items"]
    assert [e["action"] for e in trail] == ["update"] * 5 + ["create"]


def test_replayed_create_returns_the_first_result(api: httpx.Client, me: dict[str, str], clean_firestore: str) -> None:
    headers = {**me, "Idempotency-Key": "offline-7f3c-1"}
    first = api.post("/contacts", headers=headers, json={"first_name": "Ada", "email": "ada@acme.example"})
    assert first.status_code == 201
    again = api.post("/contacts", headers=headers, json={"first_name": "Ada", "email": "ada@acme.example"})
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true" and again.headers["ETag"] == first.headers["ETag"]
    listed = api.get("/contacts", headers=me).json()["items"]
    assert [c["id"] for c in listed] == [first.json()["id"]]
    reused = api.post("/contacts", headers=headers, json={"first_name": "Bob", "email": "bob@acme.example"})
    assert error_code(reused, 422) == "idempotency_key_reused"


def test_replays_at_once_make_one_record(api: httpx.Client, me: dict[str, str], clean_firestore: str) -> None:
    headers = {**me, "Idempotency-Key": "burst-1"}
    barrier = threading.Barrier(4)
    answers: list[httpx.Response] = []

    def send() -> None:
        with httpx.Client(base_url=str(api.base_url), timeout=30) as client:
            barrier.wait()
            answers.append(client.post("/customers", headers=headers, json={"name": "Burst"}))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {r.status_code for r in answers} <= {201, 409, 503}
    assert len(api.get("/customers", headers=me).json()["items"]) == 1


def test_lists_pages_filters_and_polling(api: httpx.Client, me: dict[str, str], clean_firestore: str) -> None:
    ids = []
    for n in range(60):
        status = "active" if n % 2 else "prospect"
        ids.append(make_customer(api, me, name=f"Firm {n:02d}", status=status).json()["id"])
    first = api.get("/customers", headers=me)
    assert first.status_code == 200 and len(first.json()["items"]) == 50
    rest = api.get("/customers", headers=me, params={"cursor": first.json()["next_cursor"]}).json()
    assert len(rest["items"]) == 10 and rest["next_cursor"] is None
    assert {c["id"] for c in first.json()["items"] + rest["items"]} == set(ids)
    # newest change first by default
    assert first.json()["items"][0]["name"] == "Firm 59"

    active = api.get("/customers", headers=me, params={"status": "active"}).json()
    assert len(active["items"]) == 30 and active["items"][0]["name"] == "Firm 59"
    unserved = api.get("/customers", headers=me, params={"status": "active", "sort": "name"})
    assert error_code(unserved, 400) == "unsupported_query"
    prefix = api.get("/customers", headers=me, params={"name": "firm 1", "sort": "name", "order": "asc"}).json()
    assert [c["name"] for c in prefix["items"]] == [f"Firm {n}" for n in range(10, 20)]

    etag = first.headers["ETag"]
    assert api.get("/customers", headers={**me, "If-None-Match": etag}).status_code == 304
    token = first.json()["sync_token"]
    nothing = api.get("/customers", headers=me, params={"changes_since": token}).json()
    assert nothing["items"] == [] and nothing["sync_token"] == token

    # one edit and one delete: the poll is no longer 304, changes_since returns exactly those
    v1 = {**me, "If-Match": '"v1"'}
    assert api.patch(f"/customers/{ids[3]}", headers=v1, json={"status": "churned"}).status_code == 200
    assert api.delete(f"/customers/{ids[4]}", headers=v1).json()["deleted"] is True
    assert api.get("/customers", headers={**me, "If-None-Match": etag}).status_code == 200
    changed = api.get("/customers", headers=me, params={"changes_since": token}).json()
    assert [(c["id"], c["deleted"]) for c in changed["items"]] == [(ids[3], False), (ids[4], True)]
    after = api.get("/customers", headers=me, params={"changes_since": changed["sync_token"]}).json()
    assert after["items"] == []
    assert error_code(api.get("/customers", headers=me, params={"changes_since": "garbage"}), 400) == "invalid_sync_token"


def test_soft_delete_undo_and_who_may_delete(api: httpx.Client, identity: IdentityServer, clean_firestore: str) -> None:
    me, other, admin = bearer(identity), bearer(identity, OTHER), bearer(identity, ADMIN, role="admin")
    cid = make_customer(api, me).json()["id"]
    assert error_code(api.delete(f"/customers/{cid}", headers={**other, "If-Match": '"v1"'}), 403) == "forbidden"
    assert error_code(api.delete(f"/customers/{cid}", headers=me), 428) == "precondition_required"
    gone = api.delete(f"/customers/{cid}", headers={**me, "If-Match": '"v1"'})
    assert gone.status_code == 200 and gone.json()["deleted"] and gone.json()["restore_until"]
    assert api.get(f"/customers/{cid}", headers=me).status_code == 404
    assert api.get(f"/customers/{cid}", headers=me, params={"include_deleted": "true"}).json()["version"] == 2
    assert api.get("/customers", headers=me).json()["items"] == []
    assert error_code(api.patch(f"/customers/{cid}", headers={**me, "If-Match": '"v2"'}, json={"name": "X"}), 409) == "deleted"
    back = api.post(f"/customers/{cid}/restore", headers={**admin, "If-Match": '"v2"'})
    assert back.status_code == 200 and not back.json()["deleted"] and back.json()["version"] == 3
    trail = api.get(f"/customers/{cid}/audit", headers=other).json()["items"]
    assert [(e["action"], e["by_email"]) for e in trail] == [
        ("restore", ADMIN), ("delete", MEMBER), ("create", MEMBER)
    ]


def test_contacts_belong_to_customers(api: httpx.Client, me: dict[str, str], clean_firestore: str) -> None:
    cid = make_customer(api, me).json()["id"]
    made = api.post("/contacts", headers=me, json={"first_name": "Grace", "last_name": "Hopper",
                                                   "email": "GRACE@Acme.example", "customer_id": cid})
    assert made.status_code == 201 and made.json()["email"] == "grace@acme.example"
    api.post("/contacts", headers=me, json={"first_name": "Alan", "email": "alan@other.example"})
    mine = api.get("/contacts", headers=me, params={"customer_id": cid}).json()["items"]
    assert [c["first_name"] for c in mine] == ["Grace"]
    by_email = api.get("/contacts", headers=me, params={"name": "alan", "sort": "name"}).json()["items"]
    assert [c["email"] for c in by_email] == ["alan@other.example"]
    by_name = api.get("/contacts", headers=me, params={"name": "grace h", "sort": "name"}).json()["items"]
    assert len(by_name) == 1
