"""Pipedrive over the wire: the registered sandbox (started by the harness with no line of its
own), the Cloud Tasks emulator, functions-framework and the Firestore emulator. Two users
connect their own tokens, sync at once within each token's limits and see only their own
data; an activity logged on a warm contact reaches the sandbox exactly once through a 500
and an attempt that timed out after Pipedrive accepted it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.identity import IdentityServer
from tests.conftest import PROJECT, REGION
from tests.e2e.sync_stack import SyncStack

VENDOR = "pipedrive"
ALICE_TOKEN, BOB_TOKEN = "pd-token-alice", "pd-token-bob"
#: the other sandboxes as small as they go; Pipedrive's accounts big enough for several pages each
SIZE = {"persons": 1200, "contacts": 20, "companies": 5, "admins": 2, "conversations": 20, "issues": 30,
        "accounts": 5, "leads": 7}


@pytest.fixture(scope="module")
def stack(identity: IdentityServer, firestore_host: str, log_dir: Path) -> Iterator[SyncStack]:
    stack = SyncStack(identity, firestore_host, log_dir, SIZE).start()
    yield stack
    stack.stop()


@pytest.fixture()
def fresh(stack: SyncStack, clean_firestore: str) -> SyncStack:
    from shared.serving.outbox_api import queue_spec
    from shared.tasks import ensure_queue

    stack.reset_sandbox(VENDOR)
    with stack.sandbox(VENDOR) as s:
        s.post("/_sandbox/limits", json={"burst": 20, "daily_tokens": 150_000}).raise_for_status()
    stack.create_queue(VENDOR)
    spec = queue_spec(stack.connector(VENDOR)).model_copy(update={"min_backoff_seconds": 0.5, "max_backoff_seconds": 2.0})
    ensure_queue(stack.tasks_client(), PROJECT, REGION, spec)
    return stack


def user(stack: SyncStack, name: str, role: str = "member") -> httpx.Client:
    token = stack.identity.identity.id_token(f"{name}@example.com", role=role)
    return httpx.Client(base_url=stack.functions_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def connect(stack: SyncStack, api: httpx.Client, token: str) -> str:
    body = stack.sandboxes[VENDOR].connection(stack.sandbox_urls[VENDOR], token, f"Pipedrive of {token}")
    response = api.post("/connections", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["owner"]["kind"] == "user"
    return str(response.json()["id"])


def sync(api: httpx.Client, connection_id: str, mode: str = "auto", timeout_s: float = 180) -> dict[str, Any]:
    started = api.post("/sync-now", json={"connection_id": connection_id, "mode": mode})
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = api.get(f"/sync-runs/{run_id}", params={"connection_id": connection_id}).json()
        if run["status"] in ("succeeded", "partial", "failed"):
            return dict(run)
        time.sleep(0.5)
    raise TimeoutError(f"run {run_id} did not finish")


def usage(stack: SyncStack) -> dict[str, Any]:
    with stack.sandbox(VENDOR) as s:
        return dict(s.get("/_sandbox/usage").json())


def test_two_users_sync_at_once_within_each_tokens_limits_and_see_only_their_own(fresh: SyncStack) -> None:
    with user(fresh, "alice") as alice, user(fresh, "bob") as bob, user(fresh, "admin", "admin") as admin:
        mine, theirs = connect(fresh, alice, ALICE_TOKEN), connect(fresh, bob, BOB_TOKEN)
        runs: dict[str, dict[str, Any]] = {}
        threads = [threading.Thread(target=lambda a=a, c=c: runs.__setitem__(c, sync(a, c, "full")))
                   for a, c in ((alice, mine), (bob, theirs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(240)
        assert runs[mine]["status"] == "succeeded" and runs[theirs]["status"] == "succeeded", runs
        used = usage(fresh)
        assert used["refused"] == {} and used["blocked"] == {}, used  # 0 429s, no bans
        assert max(used["peak_window"].values()) <= 20
        assert used["requests"][ALICE_TOKEN] >= 8 and used["requests"][BOB_TOKEN] >= 8

        with fresh.sandbox(VENDOR) as s:
            accounts = s.get("/_sandbox/accounts").json()
        a_people = {p["id"] for p in _all(alice, f"/records/{mine}/persons")}
        b_people = {p["id"] for p in _all(bob, f"/records/{theirs}/persons")}
        assert a_people == {str(i) for i in accounts[ALICE_TOKEN]["persons"]}
        assert b_people == {str(i) for i in accounts[BOB_TOKEN]["persons"]}

        # Bob cannot read or change anything of Alice's: records, views, the connection, its runs, its items
        for path in (f"/records/{mine}/persons", f"/views/{mine}/my-500", f"/connections/{mine}",
                     f"/sync-runs?connection_id={mine}", f"/creates/{mine}",
                     f"/records/{mine}/activities", f"/dead-letters?connection_id={mine}"):
            assert bob.get(path).status_code in (403, 404), path
        assert bob.patch(f"/connections/{mine}", json={"name": "mine now"}).status_code in (403, 404)
        assert bob.post("/sync-now", json={"connection_id": mine}).status_code in (403, 404)
        assert bob.post(f"/creates/{mine}/log-activity", headers={"Idempotency-Key": "x"},
                        json={"key": next(iter(a_people)), "kind": "call", "subject": "hi"}).status_code in (403, 404)
        assert bob.delete(f"/connections/{mine}").status_code in (403, 404)
        # a member's connection list holds only their own; an admin sees both
        assert {c["id"] for c in bob.get("/connections").json()["connections"]} == {theirs}
        assert {mine, theirs} <= {c["id"] for c in admin.get("/connections").json()["connections"]}
        assert admin.get(f"/records/{mine}/persons").status_code == 200

        # My 500: the caller's own warmest first; sync history per user
        page = alice.get(f"/views/{mine}/my-500", params={"limit": 20}).json()
        assert page["total"] == 500 and {p["id"] for p in page["items"]} <= a_people
        history = alice.get("/sync-runs", params={"connection_id": mine}).json()["runs"]
        assert [r["status"] for r in history] == ["succeeded"]
        assert history[0]["counts"]["fetched"] > 1200 and history[0]["counts"]["failed"] == 0


def _all(api: httpx.Client, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        answer = api.get(path, params={"limit": 200, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["items"]
        cursor = body.get("next_cursor")
        if not cursor:
            return items


def test_an_activity_on_a_warm_contact_reaches_pipedrive_once_through_a_failure_and_a_timeout(
        fresh: SyncStack) -> None:
    with user(fresh, "alice") as alice, user(fresh, "bob") as bob:
        mine = connect(fresh, alice, ALICE_TOKEN)
        assert sync(alice, mine, "full")["status"] == "succeeded"
        with fresh.sandbox(VENDOR) as s:
            pid = s.get("/_sandbox/accounts").json()[ALICE_TOKEN]["persons"][0]
            now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            s.post("/_sandbox/mutate", json={"token": ALICE_TOKEN, "kind": "persons", "id": pid,
                                             "changes": {"last_outgoing_mail_time": now}}).raise_for_status()
        assert sync(alice, mine, "auto")["status"] == "succeeded"
        with fresh.sandbox(VENDOR) as s:  # the first attempt fails; the second is accepted, then times out
            s.post("/_sandbox/inject", json={"method": "POST", "prefix": "/api/v2/activities", "times": 1,
                                             "status": 500}).raise_for_status()
            s.post("/_sandbox/inject", json={"method": "POST", "prefix": "/api/v2/activities", "times": 1,
                                             "status": "timeout", "delay_s": 10}).raise_for_status()
        body = {"key": str(pid), "kind": "call", "subject": "Follow-up call", "note": "Talked pricing"}
        headers = {"Idempotency-Key": "call-1"}
        assert alice.post(f"/creates/{mine}/log-activity", json=body).status_code == 400  # no key: refused
        logged = alice.post(f"/creates/{mine}/log-activity", json=body, headers=headers)
        assert logged.status_code == 201, logged.text
        item = logged.json()
        assert item["state"] == "pending"
        pending = alice.get(f"/records/{mine}/activities/{item['record_key']}").json()
        assert pending["push_state"] == "pending" and pending["person_id"] == str(pid)
        again = alice.post(f"/creates/{mine}/log-activity", json=body, headers=headers)
        assert again.status_code == 200 and again.json()["id"] == item["id"]
        assert again.headers["Idempotent-Replayed"] == "true"
        assert bob.get(f"/creates/{mine}/log-activity/{item['id']}").status_code in (403, 404)

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            item = alice.get(f"/creates/{mine}/log-activity/{item['id']}").json()
            if item["state"] == "delivered":
                break
            time.sleep(0.5)
        assert item["state"] == "delivered", item
        assert item["attempts"] >= 3 and item["adopted"] is True
        with fresh.sandbox(VENDOR) as s:
            activities = s.get("/_sandbox/activities", params={"token": ALICE_TOKEN}).json()["activities"]
        marked = [a for a in activities if "Follow-up call" == a["subject"]]
        assert len(marked) == 1 and item["vendor_id"] == str(marked[0]["id"])
        assert usage(fresh)["created"] == {ALICE_TOKEN: 1}
        stored = alice.get(f"/records/{mine}/activities/{item['record_key']}")
        assert stored.status_code == 200 and stored.json()["person_id"] == str(pid)
        assert stored.json()["pipedrive_id"] == int(item["vendor_id"]) and stored.json()["push_state"] == "in_pipedrive"
        assert [i["id"] for i in alice.get(f"/creates/{mine}").json()["items"]] == [item["id"]]


def test_an_activity_on_a_cold_contact_is_stored_here_only(fresh: SyncStack) -> None:
    with user(fresh, "alice") as alice:
        mine = connect(fresh, alice, ALICE_TOKEN)
        assert sync(alice, mine, "full")["status"] == "succeeded"
        cold = alice.get(f"/views/{mine}/my-500", params={"sort": "priority", "order": "asc", "limit": 1,
                                                           "warm": "false"}).json()["items"][0]
        logged = alice.post(f"/creates/{mine}/log-activity", headers={"Idempotency-Key": "note-1"},
                            json={"key": cold["id"], "kind": "note", "subject": "Met at the expo"})
        assert logged.status_code == 201 and logged.json()["state"] == "skipped"
        assert usage(fresh)["created"] == {}


def _webhook_queue(stack: SyncStack) -> None:
    from shared.tasks import ensure_queue
    from shared.webhooks.queues import queue_spec

    spec = queue_spec(stack.connector(VENDOR)).model_copy(update={"min_backoff_seconds": 0.2, "max_backoff_seconds": 2.0})
    ensure_queue(stack.tasks_client(), PROJECT, REGION, spec)


def _wait(probe: Any, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    raise TimeoutError("the webhook's change did not reach the store")


def test_webhooks_registered_per_user_bring_changes_and_deletes_to_the_store(fresh: SyncStack) -> None:
    """Connecting registers the user's v2 webhooks with their own token (basic credentials
    we generated); a change made in the sandbox reaches the store through the webhooks
    function and the ingest path, with no sync; a delete becomes a tombstone."""
    _webhook_queue(fresh)
    with user(fresh, "alice") as alice:
        mine = connect(fresh, alice, ALICE_TOKEN)
        with fresh.sandbox(VENDOR) as s:
            accounts = s.get("/_sandbox/accounts").json()
            hooks = [h for h in s.get("/_sandbox/webhooks").json()["webhooks"] if h["url"].endswith(f"/webhooks/{mine}")]
        assert alice.get(f"/connections/{mine}").json()["config"]["user_id"] == accounts[ALICE_TOKEN]["user_id"]
        assert sorted(h["event"] for h in hooks) == ["*.activity", "*.deal", "*.organization", "*.person"]
        assert all(h["url"].endswith(f"/webhooks/{mine}") and h["token_suffix"] == ALICE_TOKEN[-4:] for h in hooks)
        assert sync(alice, mine, "full")["status"] == "succeeded"
        pid, gone = accounts[ALICE_TOKEN]["persons"][:2]
        with fresh.sandbox(VENDOR) as s:
            s.post("/_sandbox/mutate", json={"token": ALICE_TOKEN, "kind": "persons", "id": pid,
                                             "changes": {"name": "Renamed In Pipedrive"}}).raise_for_status()
            s.post("/_sandbox/mutate", json={"token": ALICE_TOKEN, "kind": "persons", "id": gone,
                                             "delete": True}).raise_for_status()
            assert s.post("/_sandbox/webhooks/flush", json={"timeout_s": 60}, timeout=70).json()["flushed"]
        _wait(lambda: alice.get(f"/records/{mine}/persons/{pid}").json().get("name") == "Renamed In Pipedrive")
        _wait(lambda: alice.get(f"/records/{mine}/persons/{gone}").status_code == 404)
        deleted = alice.get(f"/records/{mine}/persons", params={"include_deleted": "true", "limit": 200}).json()
        assert any(p["id"] == str(gone) and p["deleted"] for p in deleted["items"]) or deleted.get("next_cursor")
        assert len(alice.get("/sync-runs", params={"connection_id": mine}).json()["runs"]) == 1  # no sync did it
        with fresh.sandbox(VENDOR) as s:
            stats = [h["stats"] for h in s.get("/_sandbox/webhooks").json()["webhooks"] if h["url"].endswith(mine)]
        assert stats and all(not st.get("failed") for st in stats), stats
