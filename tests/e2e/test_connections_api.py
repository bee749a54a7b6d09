"""Connections over the wire: the connections, oauth-start, oauth-callback and
credentials-rotate functions served by functions-framework, on the Firestore emulator,
with real ID tokens, and the kit OAuth server on a free port for the install flow."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from devtools.identity import IdentityServer
from devtools.sandboxes.kit.oauth import OAuthClient, OAuthServer
from devtools.sandboxes.kit.server import BackgroundWSGI
from shared import crypto
from tests.conftest import PROJECT, TEST_CREDENTIALS_KEYS

KEYRING = crypto.Keyring.parse(TEST_CREDENTIALS_KEYS)
TOKEN = "PLAINTEXT-intercom-token-7f3a9c"
API_KEY = "PLAINTEXT-api-key-51d2e8"


class People:
    def __init__(self, identity: IdentityServer) -> None:
        self.identity = identity.identity

    def headers(self, who: str) -> dict[str, str]:
        role = "admin" if who.startswith("admin") else "member"
        token = self.identity.id_token(f"{who}@example.com", role=role, uid=f"uid-{who}")
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture()
def people(identity: IdentityServer, clean_firestore: str) -> People:
    return People(identity)


@pytest.fixture()
def db(clean_firestore: str) -> Any:
    from google.cloud import firestore

    return firestore.Client(project=PROJECT)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["request_id"] == response.headers["X-Request-Id"]
    return error  # type: ignore[no-any-return]


def intercom_body(**overrides: Any) -> dict[str, Any]:
    return {
        "vendor": "intercom",
        "name": "Support Intercom",
        "owner": "org",
        "config": {"base_url": "http://127.0.0.1:9101"},
        "credentials": {"access_token": TOKEN},
        **overrides,
    }


def keys_body(**overrides: Any) -> dict[str, Any]:
    return {
        "vendor": "demo_keys",
        "name": "My notes",
        "owner": "user",
        "config": {"base_url": "http://127.0.0.1:9"},
        "credentials": {"api_key": API_KEY},
        **overrides,
    }


def dump_connection_tree(db: Any, connection_id: str) -> str:
    """Every document under connections/{id}, recursively, as one string."""
    parts: list[str] = []

    def walk(ref: Any) -> None:
        snapshot = ref.get()
        if snapshot.exists:
            parts.append(f"{ref.path}={snapshot.to_dict()!r}")
        for collection in ref.collections():
            for doc in collection.list_documents():
                walk(doc)

    walk(db.collection("connections").document(connection_id))
    return "\n".join(parts)


def test_lifecycle_and_credentials_never_leave(
    api: httpx.Client, people: People, db: Any, log_dir: Path
) -> None:
    admin = people.headers("admin-ada")
    created = api.post("/connections", json=intercom_body(), headers=admin)
    assert created.status_code == 201, created.text
    connection = created.json()
    cid = connection["id"]
    assert cid.startswith("intercom-") and len(cid) == len("intercom-") + 12
    assert connection["status"] == "connected" and connection["has_credentials"] is True
    assert connection["owner"] == {"kind": "org", "uid": None, "email": None}
    assert connection["config"] == {"base_url": "http://127.0.0.1:9101", "timeout_s": 30.0}
    assert connection["next_run_at"] is not None and "credentials" not in connection

    responses = [created]
    responses.append(listed := api.get("/connections", headers=admin))
    assert [c["id"] for c in listed.json()["connections"]] == [cid]
    responses.append(got := api.get(f"/connections/{cid}", headers=admin))
    assert got.json() == connection

    patched = api.patch(
        f"/connections/{cid}",
        json={
            "name": "Renamed",
            "selection": {"streams": ["contacts", "admins"]},
            "schedule": {"cron": "15 */6 * * *"},
        },
        headers=admin,
    )
    responses.append(patched)
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["name"] == "Renamed" and body["selection"]["streams"] == ["contacts", "admins"]
    assert body["schedule"] == {"cron": "15 */6 * * *", "time_zone": "Etc/UTC"}
    assert datetime.fromisoformat(body["next_run_at"]).minute == 15

    new_token = TOKEN + "-rotated"
    replaced = api.patch(
        f"/connections/{cid}", json={"credentials": {"access_token": new_token}}, headers=admin
    )
    responses.append(replaced)
    assert replaced.status_code == 200 and replaced.json()["has_credentials"] is True
    assert crypto.decrypt(
        KEYRING,
        crypto.Envelope.from_dict(
            db.collection("connections")
            .document(cid)
            .collection("private")
            .document("credentials")
            .get()
            .to_dict()
        ),
        aad=cid,
    ) == {"access_token": new_token}

    responses.append(paused := api.post(f"/connections/{cid}/pause", headers=admin))
    assert paused.json()["status"] == "disabled" and paused.json()["next_run_at"] is None
    responses.append(resumed := api.post(f"/connections/{cid}/resume", headers=admin))
    assert resumed.json()["status"] == "connected" and resumed.json()["next_run_at"] is not None

    # nothing stored or served holds the token in clear
    stored = dump_connection_tree(db, cid)
    assert "private/credentials" in stored and "ciphertext" in stored
    assert TOKEN not in stored
    for response in responses:
        assert TOKEN not in response.text and "access_token" not in response.text
    # nor any log line of the functions
    logs = "\n".join(p.read_text(errors="replace") for p in log_dir.glob("*.log"))
    assert TOKEN not in logs

    # delete: the connection, its records, runs and credentials are gone
    ref = db.collection("connections").document(cid)
    for i in range(3):
        ref.collection("contacts").document(f"c{i}").set({"name": f"C {i}"})
    ref.collection("runs").document("r1").set({"status": "succeeded"})
    ref.collection("dead_letters").document("d1").set({"reason": "x"})
    deleted = api.delete(f"/connections/{cid}", headers=admin)
    assert deleted.status_code == 204, deleted.text
    assert not ref.get().exists and list(ref.collections()) == []
    assert_error(api.get(f"/connections/{cid}", headers=admin), 404, "connection_not_found")
    assert_error(api.delete(f"/connections/{cid}", headers=admin), 404, "connection_not_found")
    assert api.get("/connections", headers=admin).json() == {"connections": []}


def test_personal_connections_are_private_and_org_ones_admin_managed(
    api: httpx.Client, people: People
) -> None:
    alice, bob, admin = people.headers("alice"), people.headers("bob"), people.headers("admin-ada")
    mine = api.post("/connections", json=keys_body(), headers=alice)
    assert mine.status_code == 201, mine.text
    mine_id = mine.json()["id"]
    assert mine.json()["owner"] == {"kind": "user", "uid": "uid-alice", "email": "alice@example.com"}
    org = api.post("/connections", json=intercom_body(), headers=admin).json()["id"]

    # bob cannot learn that alice's connection exists
    for response in (
        api.get(f"/connections/{mine_id}", headers=bob),
        api.patch(f"/connections/{mine_id}", json={"name": "x"}, headers=bob),
        api.post(f"/connections/{mine_id}/pause", headers=bob),
        api.delete(f"/connections/{mine_id}", headers=bob),
        api.post("/oauth-start", json={"connection_id": mine_id}, headers=bob),
    ):
        assert_error(response, 404, "connection_not_found")
    assert [c["id"] for c in api.get("/connections", headers=bob).json()["connections"]] == [org]
    assert {c["id"] for c in api.get("/connections", headers=alice).json()["connections"]} == {org, mine_id}
    assert {c["id"] for c in api.get("/connections", headers=admin).json()["connections"]} == {org, mine_id}
    listed = api.get("/connections", params={"owner": "user"}, headers=admin).json()["connections"]
    assert [c["id"] for c in listed] == [mine_id]
    assert (
        api.get("/connections", params={"vendor": "intercom"}, headers=alice).json()["connections"][0]["id"]
        == org
    )

    # alice manages her own
    assert api.patch(f"/connections/{mine_id}", json={"name": "Mine"}, headers=alice).json()["name"] == "Mine"
    assert api.post(f"/connections/{mine_id}/pause", headers=alice).json()["status"] == "disabled"

    # members see org connections but may not change them
    assert api.get(f"/connections/{org}", headers=bob).status_code == 200
    for response in (
        api.patch(f"/connections/{org}", json={"name": "x"}, headers=bob),
        api.post(f"/connections/{org}/pause", headers=bob),
        api.post(f"/connections/{org}/resume", headers=bob),
        api.delete(f"/connections/{org}", headers=bob),
        api.post("/connections", json=intercom_body(), headers=bob),
        api.post("/credentials-rotate", headers=bob),
    ):
        assert_error(response, 403, "role_required")

    # admins may pause or delete a personal connection (a leaver's), not authorize it
    assert api.post(f"/connections/{mine_id}/resume", headers=admin).json()["status"] == "connected"
    assert api.delete(f"/connections/{mine_id}", headers=admin).status_code == 204


@pytest.mark.parametrize(
    "body, status, code",
    [
        (intercom_body(vendor="nosuchvendor"), 404, "unknown_vendor"),
        (intercom_body(config={"base_url": "https://evil.example.com"}), 400, "invalid_config"),
        (intercom_body(config={"base_url": "ftp://127.0.0.1:9101"}), 400, "invalid_config"),
        (intercom_body(config={"base_url": ""}), 400, "invalid_config"),
        (intercom_body(config={"base_url": "http://127.0.0.1:9101", "colour": "red"}), 400, "invalid_config"),
        (intercom_body(credentials={"api_key": TOKEN}), 400, "credentials_incomplete"),
        (intercom_body(credentials={"access_token": ""}), 400, "credentials_incomplete"),
        (intercom_body(selection={"streams": ["contacts", "tickets"]}), 400, "unknown_stream"),
        (intercom_body(selection={"fields": {"deals": ["id"]}}), 400, "unknown_stream"),
        (intercom_body(owner="user"), 400, "ownership_not_supported"),
        (keys_body(owner="org"), 400, "ownership_not_supported"),
        (intercom_body(surprise=True), 400, "validation_failed"),
        (intercom_body(selection={"streams": None, "extra": 1}), 400, "validation_failed"),
        (intercom_body(schedule={"cron": "61 * * * *"}), 400, "validation_failed"),
        (
            intercom_body(schedule={"cron": "0 5 * * *", "time_zone": "Mars/Olympus"}),
            400,
            "validation_failed",
        ),
        (intercom_body(credentials={"access_token": 42}), 400, "validation_failed"),
        (intercom_body(vendor="Bad Vendor"), 400, "validation_failed"),
    ],
)
def test_bad_input_gets_a_machine_readable_error(
    api: httpx.Client, people: People, body: dict[str, Any], status: int, code: str
) -> None:
    response = api.post("/connections", json=body, headers=people.headers("admin-ada"))
    error = assert_error(response, status, code)
    assert TOKEN not in response.text
    if code == "credentials_incomplete":
        assert error["details"]["required"] == ["access_token"]
    if code == "unknown_stream":
        assert "contacts" in error["details"]["streams"]


def test_bad_updates(api: httpx.Client, people: People) -> None:
    admin = people.headers("admin-ada")
    cid = api.post("/connections", json=intercom_body(), headers=admin).json()["id"]
    for body, code in (
        ({"vendor": "demo_keys"}, "validation_failed"),
        ({"name": None}, "validation_failed"),
        ({"config": {"base_url": "https://evil.example.com"}}, "invalid_config"),
        ({"credentials": {"wrong": "x"}}, "credentials_incomplete"),
        ({"selection": {"streams": ["nope"]}}, "unknown_stream"),
    ):
        assert_error(api.patch(f"/connections/{cid}", json=body, headers=admin), 400, code)
    assert_error(api.get("/connections/not-an-id", headers=admin), 404, "connection_not_found")
    assert_error(api.get("/connections/intercom-000000000000", headers=admin), 404, "connection_not_found")
    assert_error(api.get("/connections", params={"colour": "red"}, headers=admin), 400, "validation_failed")
    assert (
        api.get(f"/connections/{cid}", headers=admin).json()["name"] == "Support Intercom"
    )  # nothing changed


# -- OAuth install --------------------------------------------------------------------------


@pytest.fixture()
def kit(functions_url: str) -> Iterator[tuple[OAuthServer, str]]:
    server = OAuthServer([OAuthClient("notes-client", "notes-secret", (f"{functions_url}/oauth-callback",))])
    with BackgroundWSGI(server.wsgi_app()) as served:
        yield server, served.base_url


def start(api: httpx.Client, headers: dict[str, str], cid: str) -> str:
    response = api.post("/oauth-start", json={"connection_id": cid}, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["authorize_url"])


def test_oauth_install_end_to_end(
    api: httpx.Client, people: People, db: Any, kit: tuple[OAuthServer, str], functions_url: str
) -> None:
    server, kit_url = kit
    alice = people.headers("alice")
    body = {
        "vendor": "demo_notes",
        "name": "Alice's notes",
        "owner": "user",
        "config": {"base_url": kit_url},
        "credentials": {"client_id": "notes-client", "client_secret": "notes-secret"},
    }
    created = api.post("/connections", json=body, headers=alice)
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    assert created.json()["status"] == "pending" and created.json()["next_run_at"] is None

    url = start(api, alice, cid)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{kit_url}/oauth/authorize?")
    assert query["client_id"] == ["notes-client"] and query["code_challenge_method"] == ["S256"]
    assert query["scope"] == ["notes.read offline"] and "notes-secret" not in url

    # the browser: authorize (auto-approved) redirects to our callback with code and state
    redirect = httpx.get(url)
    assert redirect.status_code == 302
    callback_url = redirect.headers["Location"]
    assert callback_url.startswith(f"{functions_url}/oauth-callback?")
    done = httpx.get(callback_url)
    assert done.status_code == 200, done.text
    assert done.json()["connection_id"] == cid and done.json()["status"] == "connected"

    connection = api.get(f"/connections/{cid}", headers=alice).json()
    assert connection["status"] == "connected" and connection["next_run_at"] is not None
    raw = (
        db.collection("connections")
        .document(cid)
        .collection("private")
        .document("credentials")
        .get()
        .to_dict()
    )
    creds = crypto.decrypt(KEYRING, crypto.Envelope.from_dict(raw), aad=cid)
    assert server.is_valid_access_token(creds["access_token"]) and creds["refresh_token"]
    stored = dump_connection_tree(db, cid)
    for secret in (creds["access_token"], creds["refresh_token"], "notes-secret"):
        assert secret not in stored and secret not in done.text and secret not in json.dumps(connection)
    assert server.stats["token:authorization_code"] == 1

    # the same callback again: the state was used
    assert_error(httpx.get(callback_url), 400, "oauth_state_invalid")
    assert server.stats["token:authorization_code"] == 1

    # an expired state (started, then left for more than 10 minutes)
    redirect = httpx.get(start(api, alice, cid))
    state = parse_qs(urlsplit(redirect.headers["Location"]).query)["state"][0]
    db.collection("oauth_states").document(state).update(
        {"expires_at": datetime.now(timezone.utc) - timedelta(seconds=1)}
    )
    assert_error(httpx.get(redirect.headers["Location"]), 400, "oauth_state_expired")
    assert not db.collection("oauth_states").document(state).get().exists

    # a made-up state, and the person pressing Cancel at the vendor
    assert_error(
        httpx.get(f"{functions_url}/oauth-callback", params={"state": "forged", "code": "x"}),
        400,
        "oauth_state_invalid",
    )
    server.deny_next_authorize()
    denied = httpx.get(start(api, alice, cid))
    assert_error(httpx.get(denied.headers["Location"]), 400, "oauth_denied")
    assert server.stats["token:authorization_code"] == 1


def test_oauth_start_rules(api: httpx.Client, people: People, kit: tuple[OAuthServer, str]) -> None:
    _, kit_url = kit
    alice, admin = people.headers("alice"), people.headers("admin-ada")
    body = {
        "vendor": "demo_notes",
        "name": "n",
        "owner": "user",
        "config": {"base_url": kit_url},
        "credentials": {"client_id": "notes-client", "client_secret": "notes-secret"},
    }
    cid = api.post("/connections", json=body, headers=alice).json()["id"]
    assert_error(api.post("/oauth-start", json={"connection_id": cid}, headers=admin), 403, "owner_required")
    key_conn = api.post("/connections", json=keys_body(), headers=alice).json()["id"]
    assert_error(
        api.post("/oauth-start", json={"connection_id": key_conn}, headers=alice), 400, "connector_not_oauth"
    )
    assert_error(
        api.post("/oauth-start", json={"connection_id": cid, "x": 1}, headers=alice), 400, "validation_failed"
    )
    assert_error(api.post("/oauth-start", json={"connection_id": cid}), 401, "token_missing")


# -- key rotation ---------------------------------------------------------------------------


def test_credentials_rotate_rewraps_old_key_credentials(api: httpx.Client, people: People, db: Any) -> None:
    admin = people.headers("admin-ada")
    cid = api.post("/connections", json=intercom_body(), headers=admin).json()["id"]
    ref = db.collection("connections").document(cid).collection("private").document("credentials")
    # a credential written before the rotation began: only the old key (test-0) wrapped it
    old_only = crypto.Keyring([k for k in crypto.parse_keys(TEST_CREDENTIALS_KEYS) if k.kid == "test-0"])
    ref.set(
        {
            **crypto.encrypt(old_only, {"access_token": TOKEN}, aad=cid).to_dict(),
            "updated_at": datetime.now(timezone.utc),
        }
    )
    before = ref.get().to_dict()

    rotated = api.post("/credentials-rotate", headers=admin)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json() == {"rewrapped": 1, "current_kid": "test-1"}
    after = ref.get().to_dict()
    assert after["kid"] == "test-1" and after["ciphertext"] == before["ciphertext"]
    new_only = crypto.Keyring([k for k in crypto.parse_keys(TEST_CREDENTIALS_KEYS) if k.kid == "test-1"])
    assert crypto.decrypt(new_only, crypto.Envelope.from_dict(after), aad=cid) == {"access_token": TOKEN}
    assert api.post("/credentials-rotate", headers=admin).json()["rewrapped"] == 0
