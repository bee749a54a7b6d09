"""Salesforce over the wire: the sandbox process -> Cloud Tasks emulator -> sync-worker over
HTTP -> Firestore emulator, started by sync-now; then the records function serves the three
objects, and a change and a delete made in the org show up after the next run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.identity import IdentityServer
from tests.e2e.sync_stack import SyncStack

SIZE = {"contacts": 20, "companies": 4, "admins": 2, "conversations": 20,
        "accounts": 30, "sf_contacts": 25, "opportunities": 15}


@pytest.fixture(scope="module")
def stack(identity: IdentityServer, firestore_host: str, log_dir: Path) -> Iterator[SyncStack]:
    stack = SyncStack(identity, firestore_host, log_dir, SIZE).start()
    yield stack
    stack.stop()


def records(stack: SyncStack, connection_id: str, stream: str, **params: Any) -> list[dict[str, Any]]:
    with stack.api("member") as api:
        response = api.get(f"/records/{connection_id}/{stream}", params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_salesforce_syncs_over_the_wire_and_is_served(stack: SyncStack, clean_firestore: str) -> None:
    stack.reset_sandbox("salesforce")
    connection_id = stack.connect(vendor="salesforce")
    # the OAuth web-server flow over the wire: authorize at the sandbox, back to oauth-callback
    with stack.api() as api:
        authorize = api.post("/oauth-start", json={"connection_id": connection_id}).json()["authorize_url"]
    callback = httpx.get(authorize).headers["Location"]
    assert httpx.get(callback).status_code < 400
    with stack.api() as api:
        installed = api.get(f"/connections/{connection_id}").json()
    assert installed["status"] == "connected" and installed["config"]["base_url"] == stack.sandbox_urls["salesforce"]
    run = stack.wait(stack.start_sync(connection_id=connection_id), connection_id=connection_id)
    assert run["status"] == "succeeded", run
    accounts = records(stack, connection_id, "accounts")
    assert len(accounts) == 30 and len(records(stack, connection_id, "contacts")) == 25
    assert len(records(stack, connection_id, "opportunities")) == 15
    assert all(a["custom"].get("Tier__c") is None for a in accounts)  # not selected by default
    by_name = [a["name"] for a in records(stack, connection_id, "accounts", sort="name")]
    assert by_name == sorted(by_name, key=str.lower, reverse=True)

    with httpx.Client(base_url=stack.sandbox_urls["salesforce"]) as org:
        org.post("/_sandbox/mutate", json={"op": "update", "sobject": "Account", "id": accounts[0]["id"],
                                           "fields": {"Name": "Zeta Renamed"}}).raise_for_status()
        org.post("/_sandbox/mutate", json={"op": "delete", "sobject": "Account",
                                           "id": accounts[1]["id"]}).raise_for_status()
    run = stack.wait(stack.start_sync(connection_id=connection_id), connection_id=connection_id)
    assert run["status"] == "succeeded", run
    after = {a["id"]: a for a in records(stack, connection_id, "accounts")}
    assert after[accounts[0]["id"]]["name"] == "Zeta Renamed"
    assert accounts[1]["id"] not in after and len(after) == 29
    deleted = records(stack, connection_id, "accounts", include_deleted="true")
    assert any(a["id"] == accounts[1]["id"] and a["deleted"] for a in deleted)
    with stack.api() as api:
        connection = api.get(f"/connections/{connection_id}").json()
    assert connection["vendor_allowance"]["limit"] == 100_000
