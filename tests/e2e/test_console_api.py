"""The functions the console needs besides the connections API: connectors (the add-a-
connection form comes from it) and dead letters (listed newest first, redriven by those who
manage the connection), over the wire with real ID tokens; and the CORS answer a browser
on the console's origin gets."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from devtools.identity import IdentityServer
from shared.store.records import Provenance
from tests.conftest import PROJECT


def headers(identity: IdentityServer, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {identity.identity.id_token(f'{role}@example.com', role=role)}"}


@pytest.fixture()
def db(clean_firestore: str) -> Any:
    from google.cloud import firestore

    return firestore.Client(project=PROJECT)


def test_connectors_describe_what_a_connection_needs(api: httpx.Client, identity: IdentityServer,
                                                     clean_firestore: str) -> None:
    response = api.get("/connectors", headers=headers(identity, "member"))
    assert response.status_code == 200, response.text
    found = {c["vendor"]: c for c in response.json()["connectors"]}
    intercom = found["intercom"]
    assert intercom["auth"] == {"kind": "bearer", "fields": ["access_token"], "oauth": False}
    assert intercom["ownership"] == "org" and "https://api.intercom.io" in intercom["base_urls"]
    assert {"contacts", "companies", "admins", "conversations"} <= {s["name"] for s in intercom["streams"]}
    config = {f["name"]: f for f in intercom["config"]}
    assert config["base_url"]["default"] == "https://api.intercom.io"
    # the test environment's demo connectors are there too (never in production: Settings refuses them)
    assert found["demo_notes"]["auth"]["oauth"] is True and found["demo_notes"]["ownership"] == "user"
    assert found["demo_keys"]["auth"]["fields"] == ["api_key"]
    assert api.get("/connectors").status_code == 401


def _connection(api: httpx.Client, identity: IdentityServer) -> str:
    body = {"vendor": "intercom", "name": "Dead letters", "owner": "org",
            "config": {"base_url": "https://api.intercom.io"}, "credentials": {"access_token": "t"}}
    created = api.post("/connections", json=body, headers=headers(identity, "admin"))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_dead_letters_newest_first_per_stream(api: httpx.Client, identity: IdentityServer, db: Any) -> None:
    from shared.store.records import dead_letter

    connection_id = _connection(api, identity)
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i, stream in enumerate(["contacts", "companies", "contacts"]):
        source = Provenance("sync", "run-1", at=t0 + timedelta(minutes=i))
        dead_letter(db, connection_id, stream, {"id": f"x{i}", "bad": True}, f"reason {i}", source=source)

    member = headers(identity, "member")
    listed = api.get("/dead-letters", params={"connection_id": connection_id}, headers=member)
    assert listed.status_code == 200, listed.text
    letters = listed.json()["dead_letters"]
    assert [d["reason"] for d in letters] == ["reason 2", "reason 1", "reason 0"]
    assert letters[0]["run_id"] == "run-1" and '"id": "x2"' in letters[0]["raw"]
    contacts = api.get("/dead-letters", params={"connection_id": connection_id, "stream": "contacts"}, headers=member)
    assert [d["reason"] for d in contacts.json()["dead_letters"]] == ["reason 2", "reason 0"]

    # members see them but may not redrive an organization connection's; admins may
    refused = api.post("/dead-letters/redrive", json={"connection_id": connection_id}, headers=member)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "role_required"
    redriven = api.post("/dead-letters/redrive", json={"connection_id": connection_id, "stream": "companies"},
                        headers=headers(identity, "admin"))
    assert redriven.status_code == 200, redriven.text
    assert redriven.json()["attempted"] == 1
    missing = api.get("/dead-letters", params={"connection_id": "intercom-000000000000"}, headers=member)
    assert missing.status_code == 404
