"""HubSpot over the wire: the HubSpot sandbox -> Cloud Tasks emulator -> sync-worker over
HTTP (OAuth tokens refreshed at the sandbox's token endpoint) -> Firestore emulator; the
records function serves the three objects; the sandbox's signed webhook batches (v3
signature, the app's client secret) reach the webhooks function and the ingest path:
property changes are fetched, deletions become tombstones, an association removed
(contact.associationChange) re-reads the contact's associations and tombstones it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.identity import IdentityServer
from devtools.sandboxes.hubspot.sandbox import CLIENT_SECRET, credentials
from tests.conftest import PROJECT
from tests.e2e.serving_world import create_connection
from tests.e2e.sync_stack import SyncStack
from tests.e2e.webhook_stack import set_secret, wait_processed, webhook_url

SIZE = {"contacts": 30, "companies": 6, "admins": 2, "conversations": 30, "leads": 10, "deals": 8}
CONN = "hubspot-0123456789ab"


@pytest.fixture(scope="module")
def stack(identity: IdentityServer, firestore_host: str, log_dir: Path) -> Iterator[SyncStack]:
    stack = SyncStack(identity, firestore_host, log_dir, SIZE).start()
    yield stack
    stack.stop()


@pytest.fixture()
def hubspot(stack: SyncStack, clean_firestore: str) -> SyncStack:
    from google.cloud import firestore

    stack.reset_sandbox("hubspot")
    with stack.sandbox("hubspot") as s:
        s.post("/_sandbox/reset", json={"contacts": 12, "companies": 3, "deals": 4}).raise_for_status()
    db = firestore.Client(project=PROJECT)
    url = stack.sandbox_urls["hubspot"]
    create_connection(db, CONN, "hubspot", base_url=url, credentials=credentials("expired-token"))
    db.collection("connections").document(CONN).update(
        {"config": {"base_url": url, "auth_base_url": url,
                    "contact_properties": ["email", "firstname", "lastname", "favorite_color"]},
         "next_run_at": None})
    return stack


def _webhook_queue(stack: SyncStack) -> None:
    from shared.sync.registry import connector
    from shared.tasks import ensure_queue
    from shared.webhooks.queues import queue_spec
    from tests.conftest import REGION

    spec = queue_spec(connector("hubspot")).model_copy(update={"min_backoff_seconds": 0.2, "max_backoff_seconds": 2.0})
    ensure_queue(stack.tasks_client(), PROJECT, REGION, spec)


def test_sync_serve_and_webhooks_over_the_wire(hubspot: SyncStack) -> None:
    stack = hubspot
    run = stack.wait(stack.start_sync(connection_id=CONN), connection_id=CONN, timeout_s=300)
    assert run["status"] == "succeeded", run
    counts = stack.sandbox_counts("hubspot")
    for kind in ("contacts", "companies", "deals"):
        assert len(stack.stored(kind, connection_id=CONN)) == counts[kind], kind
    with stack.api("member") as api:
        for kind in ("contacts", "companies", "deals"):
            page = api.get(f"/records/{CONN}/{kind}", params={"limit": 5})
            assert page.status_code == 200, page.text
            assert len(page.json()["items"]) >= 3
        one = api.get(f"/records/{CONN}/contacts", params={"sort": "name", "name": "ada1"}).json()["items"]
        assert one and all(r["name"].lower().startswith("ada1") for r in one)
        assert "favorite_color" in one[0]["properties"]  # a custom property, served

    _webhook_queue(stack)
    set_secret(stack, CLIENT_SECRET, connection_id=CONN)
    with stack.sandbox("hubspot") as s:
        s.post("/_sandbox/webhooks", json={"url": webhook_url(stack, CONN), "signer": "hubspot-v3",
                                           "secret": CLIENT_SECRET, "retry_backoff_s": 0.05}).raise_for_status()
        contacts = sorted(stack.stored("contacts", connection_id=CONN))
        link = sorted(stack.stored("contact_companies", connection_id=CONN))[0]  # "<contact>:<company>"
        contact, company = link.split(":")
        unlink = [{"from": "contacts", "id": contact, "to": "companies", "to_id": company}]
        done = s.post("/_sandbox/mutate", json={"touch": {"contacts": 2}, "archive": {"contacts": [contacts[-1]]},
                                                "unlink": unlink}).json()
        assert done["unlink"] == unlink
        assert s.post("/_sandbox/webhooks/flush", json={"timeout_s": 60}, timeout=70).json()["flushed"]
    wait_processed(stack, expected=4, connection_id=CONN)
    assert stack.stored("contact_companies", connection_id=CONN, include_deleted=True)[link]["_deleted"]
    stored = stack.stored("contacts", connection_id=CONN, include_deleted=True)
    with stack.sandbox("hubspot") as s:
        for key in done["touched"]["contacts"]:
            live = s.get(f"/crm/v3/objects/contacts/{key}", params={"properties": "favorite_color"},
                         headers={"Authorization": "Bearer hubspot-sandbox-token"}).json()
            assert stored[key]["properties"]["favorite_color"] == live["properties"]["favorite_color"]
    assert stored[contacts[-1]].get("_deleted")
