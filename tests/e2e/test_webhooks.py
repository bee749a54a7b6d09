"""Webhooks end to end: the sandbox Intercom sends signed notifications (duplicated,
reordered, mis-signed, forged, replayed, lost) to the webhooks function served by
functions-framework; the Cloud Tasks emulator hands each remembered delivery to
webhook-worker; the store must end exactly as the sandbox's data. Nothing is mocked."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.identity import IdentityServer
from shared.sync.registry import connector
from tests.e2e.sync_stack import SyncStack
from tests.e2e.webhook_stack import (
    CLIENT_SECRET,
    create_webhook_queue,
    deliver,
    deliveries,
    flush,
    hook_sandbox,
    notification,
    sender_log,
    set_faults,
    set_secret,
    wait_processed,
)

SIZE = {"contacts": 300, "companies": 40, "admins": 5, "conversations": 300}
PUSHED = ("contacts", "companies", "conversations")


@pytest.fixture(scope="module")
def stack(identity: IdentityServer, firestore_host: str, log_dir: Path) -> Iterator[SyncStack]:
    stack = SyncStack(identity, firestore_host, log_dir, SIZE).start()
    yield stack
    stack.stop()


@pytest.fixture()
def hooked(stack: SyncStack, clean_firestore: str) -> SyncStack:
    """A synced connection whose secret is set and whose sandbox sends it webhooks."""
    stack.reset_sandbox()
    stack.create_queue()
    create_webhook_queue(stack)
    stack.connection_id = ""
    stack.connect()
    set_secret(stack)
    run = stack.sync(mode="full")
    assert run["status"] == "succeeded", run
    hook_sandbox(stack)
    return stack


def sandbox_records(stack: SyncStack, stream: str) -> dict[str, dict[str, Any]]:
    """Every record the sandbox has, as its list endpoints show them."""
    found: dict[str, dict[str, Any]] = {}
    with stack.sandbox() as s:
        if stream == "companies":
            params: dict[str, Any] = {}
            while True:
                body = s.get("/companies/scroll", params=params).json()
                if not body["data"]:
                    return found
                found.update({c["id"]: c for c in body["data"]})
                params = {"scroll_param": body["scroll_param"]}
        key = "data" if stream == "contacts" else "conversations"
        params = {"per_page": 150}
        while True:
            body = s.get(f"/{stream}", params=params).json()
            found.update({r["id"]: r for r in body[key]})
            nxt = (body.get("pages") or {}).get("next")
            if not nxt:
                return found
            params["starting_after"] = nxt["starting_after"]


def mapped(stream_name: str, raw: dict[str, Any]) -> dict[str, Any]:
    stream = connector("intercom").stream(stream_name)
    return stream.mapper(stream.raw_model.model_validate(raw))


def public(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if not k.startswith("_")}


#: the sandbox changes a company's user_count when a contact is created or deleted without
#: touching its updated_at or notifying (only the next full pass sees it): not a webhook's to carry
UNNOTIFIED = {"companies": ("user_count",)}


def assert_store_matches_sandbox(stack: SyncStack) -> None:
    for stream in PUSHED:
        skip = UNNOTIFIED.get(stream, ())
        expected = {rid: {k: v for k, v in mapped(stream, raw).items() if k not in skip}
                    for rid, raw in sandbox_records(stack, stream).items()}
        stored = {rid: {k: v for k, v in public(doc).items() if k not in skip}
                  for rid, doc in stack.stored(stream).items()}
        assert set(stored) == set(expected), (stream, set(stored) ^ set(expected))
        different = [rid for rid in expected if stored[rid] != expected[rid]]
        assert not different, (stream, different[:3], stored[different[0]], expected[different[0]])


def contact(stack: SyncStack, contact_id: str) -> dict[str, Any]:
    with stack.sandbox() as s:
        body: dict[str, Any] = s.get(f"/contacts/{contact_id}").json()
    return body


def any_contact_id(stack: SyncStack) -> str:
    return sorted(stack.stored("contacts"))[0]


# -- authentication ----------------------------------------------------------------------------


def test_unsigned_forged_stale_and_malformed_deliveries_write_nothing(hooked: SyncStack) -> None:
    contact_id = any_contact_id(hooked)
    before = hooked.stored("contacts")[contact_id]
    item = {**contact(hooked, contact_id), "name": "Mallory", "updated_at": int(time.time()) + 10_000}
    payload = notification("contact.user.updated", item)

    unsigned = deliver(hooked, payload, secret=None)
    assert unsigned.status_code == 401 and unsigned.json()["error"]["code"] == "signature_missing"
    forged = deliver(hooked, payload, secret="not-the-client-secret")
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "signature_invalid"
    stale = deliver(hooked, notification("contact.user.updated", item, created_at=int(time.time()) - 30 * 86_400))
    assert stale.status_code == 401 and stale.json()["error"]["code"] == "signature_stale"
    malformed = deliver(hooked, b'{"type": "notification_event", "topic": "contact.user.updated"}')
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "webhook_malformed"
    not_json = deliver(hooked, b"{nope")
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "malformed_json"
    unknown = deliver(hooked, payload, connection_id="intercom-000000000000")
    assert unknown.status_code == 404

    time.sleep(1.0)
    assert deliveries(hooked) == {}
    assert hooked.stored("contacts")[contact_id] == before


def test_a_rotated_secret_applies_at_once(hooked: SyncStack) -> None:
    payload = notification("ping", {"type": "ping", "id": "p"})
    assert deliver(hooked, payload).status_code == 200
    set_secret(hooked, "a-new-client-secret-123")
    refused = deliver(hooked, notification("ping", {"type": "ping", "id": "p"}))
    assert refused.status_code == 401
    accepted = deliver(hooked, notification("ping", {"type": "ping", "id": "p"}), secret="a-new-client-secret-123")
    assert accepted.status_code == 200 and accepted.json()["status"] == "ignored"


# -- exactly-once effect ------------------------------------------------------------------------


def test_duplicate_deliveries_change_nothing(hooked: SyncStack) -> None:
    contact_id = any_contact_id(hooked)
    item = {**contact(hooked, contact_id), "name": "Renamed Once", "updated_at": int(time.time())}
    payload = notification("contact.user.updated", item)
    first = deliver(hooked, payload)
    assert first.status_code == 200 and first.json()["status"] == "accepted"
    [delivery] = wait_processed(hooked, expected=1).values()
    written = hooked.stored("contacts")[contact_id]
    assert written["name"] == "Renamed Once" and written["_sync"]["source"]["kind"] == "webhook"
    assert written["_sync"]["source"]["id"] == payload["id"]
    for attempt in (2, 3):  # Intercom's retries: the same id, another body
        again = deliver(hooked, {**payload, "delivery_attempts": attempt})
        assert again.status_code == 200 and again.json()["status"] == "duplicate"
    time.sleep(1.0)
    assert list(deliveries(hooked).values()) == [delivery]
    assert hooked.stored("contacts")[contact_id] == written


def test_an_older_event_after_a_newer_one_never_overwrites_it(hooked: SyncStack) -> None:
    contact_id = any_contact_id(hooked)
    current = contact(hooked, contact_id)
    newer = {**current, "name": "Newer", "updated_at": current["updated_at"] + 200}
    older = {**current, "name": "Older", "updated_at": current["updated_at"] + 100}
    assert deliver(hooked, notification("contact.user.updated", newer)).status_code == 200
    wait_processed(hooked, expected=1)
    assert deliver(hooked, notification("contact.user.updated", older)).status_code == 200
    found = wait_processed(hooked, expected=2)
    assert hooked.stored("contacts")[contact_id]["name"] == "Newer"
    assert sorted(d["outcome"]["written"] for d in found.values()) == [0, 1]

    # a delete, then an update older than it, delivered late: it stays deleted
    assert deliver(hooked, notification("contact.deleted", {"type": "contact", "id": contact_id, "deleted": True})).status_code == 200
    wait_processed(hooked, expected=3)
    late = {**current, "name": "Late", "updated_at": current["updated_at"] + 300}
    assert deliver(hooked, notification("contact.user.updated", late)).status_code == 200
    wait_processed(hooked, expected=4)
    assert contact_id not in hooked.stored("contacts")
    tombstone = hooked.stored("contacts", include_deleted=True)[contact_id]
    assert tombstone["_deleted"] is True and tombstone["_sync"]["source"]["kind"] == "webhook"


def test_sandbox_changes_through_faulty_delivery_leave_the_store_as_the_sandbox(hooked: SyncStack) -> None:
    set_faults(hooked, duplicate_rate=0.4, reorder_window=12, delay_jitter_ms=15, mis_sign_rate=0.15,
               forge_rate=0.15, unsigned_rate=0.1, stale_rate=0.15, seed=11)
    changes = []
    with hooked.sandbox() as s:
        for _ in range(4):
            changes.append(s.post("/_sandbox/mutate", json={
                "contacts_updated": 25, "contacts_created": 6, "contacts_deleted": 4, "companies_updated": 3,
                "conversations_updated": 20, "conversations_created": 5}).json())
    flush(hooked)
    log = sender_log(hooked)
    genuine_ids = {e["id"] for e in log if e["kind"] in ("genuine", "duplicate")}
    kinds = {e["kind"] for e in log}
    assert {"genuine", "duplicate", "forged", "unsigned", "stale"} <= kinds
    refused = [e for e in log if e["kind"] in ("forged", "unsigned", "stale")]
    assert refused and all(e["status"] == 401 for e in refused)
    assert any(e["mis_signed"] and e["status"] == 401 for e in log)
    assert all(e["status"] == 200 for e in log if e["kind"] in ("genuine", "duplicate") and not e["mis_signed"])

    found = wait_processed(hooked, expected=len(genuine_ids))
    assert len(found) == len(genuine_ids)  # one record per notification, whatever the duplicates
    assert {d["delivery_id"] for d in found.values()} == genuine_ids
    assert all(d["status"] == "processed" for d in found.values())
    assert_store_matches_sandbox(hooked)
    # nothing a forger sent got in
    assert not any("Forged" in str(doc.get("name")) for doc in hooked.stored("contacts").values())
    deleted = {cid for change in changes for cid in change["contacts_deleted"]}
    tombstones = hooked.stored("contacts", include_deleted=True)
    assert all(tombstones[cid]["_deleted"] for cid in deleted if cid in tombstones)


def test_a_delete_whose_webhook_was_lost_is_gone_after_the_next_reconcile(hooked: SyncStack) -> None:
    set_faults(hooked, drop_rate=1.0)
    with hooked.sandbox() as s:
        change = s.post("/_sandbox/mutate", json={"contacts_deleted": 3}).json()
    flush(hooked)
    assert {e["kind"] for e in sender_log(hooked)} == {"dropped"}
    lost = set(change["contacts_deleted"])
    assert lost <= set(hooked.stored("contacts"))  # the webhook never came: still there

    run = hooked.sync(mode="full")  # the periodic reconcile: a full pass and its sweep
    assert run["status"] == "succeeded", run
    assert not lost & set(hooked.stored("contacts"))
    assert_store_matches_sandbox(hooked)


# -- setup ------------------------------------------------------------------------------------


def test_setup_shows_the_url_and_whether_the_secret_is_set(stack: SyncStack, clean_firestore: str) -> None:
    stack.connection_id = ""
    connection_id = stack.connect()
    with stack.api() as api:
        before = api.get(f"/webhooks/{connection_id}/setup")
        assert before.status_code == 200, before.text
        setup = before.json()
        assert setup["url"] == f"{stack.functions_url}/webhooks/{connection_id}"
        assert setup["verifier"] == "hmac" and setup["secret_fields"] == ["webhook_secret"]
        assert setup["secret_set"] is False and setup["secret_chosen_by"] == "vendor"
        assert setup["registration"] == "manual" and "contact.user.updated" in setup["topics"]
        saved = api.put(f"/webhooks/{connection_id}/secret", json={"secret": CLIENT_SECRET})
        assert saved.status_code == 200 and saved.json() == {"secret_set": True, "fields": ["webhook_secret"],
                                                              "generated": None}
        after = api.get(f"/webhooks/{connection_id}/setup").json()
        assert after["secret_set"] is True and CLIENT_SECRET not in json.dumps(after)
        assert api.post(f"/webhooks/{connection_id}/register").status_code == 409
        assert api.put(f"/webhooks/{connection_id}/secret", json={"secret": "x" * 9, "generate": True}).status_code == 400
    with stack.api("member") as member:
        assert member.get(f"/webhooks/{connection_id}/setup").status_code == 403
        assert member.put(f"/webhooks/{connection_id}/secret", json={"secret": "y" * 20}).status_code == 403
    # deliveries before any secret is set are refused, not trusted
    other = stack.connect(name="No secret yet")
    response = deliver(stack, notification("ping", {"id": "p"}), connection_id=other)
    assert response.status_code == 401 and response.json()["error"]["code"] == "webhook_secret_missing"


def test_id_only_events_are_fetched_and_a_vanished_record_becomes_a_tombstone(hooked: SyncStack) -> None:
    contact_id = any_contact_id(hooked)
    set_faults(hooked, drop_rate=1.0)  # the delete's own notification is lost: only the fetch can tell
    with hooked.sandbox() as s:
        changed = s.put(f"/contacts/{contact_id}", json={"name": "Changed At Intercom"}).json()
        gone = s.post("/_sandbox/mutate", json={"contacts_deleted": 1}).json()["contacts_deleted"][0]
    # contact.unarchived carries a stale copy here: the worker asks Intercom for the record
    assert deliver(hooked, notification("contact.unarchived", {"type": "contact", "id": contact_id})).status_code == 200
    assert deliver(hooked, notification("contact.unarchived", {"type": "contact", "id": gone})).status_code == 200
    found = list(wait_processed(hooked, expected=2).values())
    assert len(found) == 2 and all(d["status"] == "processed" and d["action"] == "fetch" for d in found)
    assert all(d["outcome"]["written"] == 1 for d in found)
    stored = hooked.stored("contacts")[contact_id]
    assert stored["name"] == "Changed At Intercom" and stored["updated_at"].timestamp() == changed["updated_at"]
    assert gone not in hooked.stored("contacts") and hooked.stored("contacts", include_deleted=True)[gone]["_deleted"]


def test_hostile_deliveries_are_4xx_with_the_error_body(hooked: SyncStack) -> None:
    import httpx

    from tests.conftest import TASKS_SA
    from tests.e2e.webhook_stack import signed

    base = f"{hooked.functions_url}/webhooks"
    for path_id in ("__x__", "__name__", "x" * 1501):
        response = httpx.post(f"{base}/{path_id}", content=b"{}", headers=signed(b"{}"))
        assert response.status_code == 400 and response.json()["error"]["code"] == "validation_failed"
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"id": NaN}', b'{"id": 1, "id": 2}', b'{"a": "\xff"}',
                 b'{"n": ' + b"9" * 5000 + b"}"):
        response = deliver(hooked, body)
        assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_json", body[:20]
    big = b'{"x": "' + b"a" * (1024 * 1024) + b'"}'
    assert deliver(hooked, big).status_code == 413
    assert httpx.get(f"{base}/{hooked.connection_id}").status_code == 405
    assert deliver(hooked, notification("ping", {}), connection_id="intercom-" + "f" * 12).status_code == 404

    worker = f"{hooked.functions_url}/webhook-worker"
    task = {"connection_id": hooked.connection_id, "delivery_id": "notif_never_seen"}
    assert httpx.post(worker, json=task).status_code == 401
    token = hooked.identity.identity.oidc_token(worker, TASKS_SA)
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.post(worker, json={**task, "extra": 1}, headers=auth).status_code == 400
    gone = httpx.post(worker, json=task, headers=auth)
    assert gone.status_code == 200 and gone.json()["status"] == "gone"
    assert deliveries(hooked) == {}
