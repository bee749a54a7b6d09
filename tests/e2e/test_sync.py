"""The sync engine end to end: sandbox Intercom -> Cloud Tasks emulator -> sync-worker
(functions-framework over HTTP) -> Firestore emulator. Nothing is mocked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.identity import IdentityServer
from shared.vendors.intercom import mappers
from shared.vendors.intercom.raw import RawContact, RawConversation
from tests.conftest import SCHEDULER_SA, TASKS_SA
from tests.e2e.sync_stack import SyncStack

# Every conversation created in a run is fetched again for its parts (one GET each): the
# conversation count drives the first run's length.
SIZE = {"contacts": 1200, "companies": 150, "admins": 12, "conversations": 600}
STREAMS = ("contacts", "companies", "admins", "conversations")
WORKSPACE = ("tags", "teams", "segments", "data_attributes")


def record_counts(run: dict[str, Any], key: str = "written") -> int:
    """The run's count over the record streams (parts and workspace listings aside)."""
    return sum(run["streams"][stream]["counts"][key] for stream in STREAMS)


@pytest.fixture(scope="module")
def stack(identity: IdentityServer, firestore_host: str, log_dir: Path) -> Iterator[SyncStack]:
    stack = SyncStack(identity, firestore_host, log_dir, SIZE).start()
    yield stack
    stack.stop()


@pytest.fixture()
def fresh(stack: SyncStack, clean_firestore: str) -> SyncStack:
    stack.reset_sandbox()
    stack.create_queue()
    stack.connection_id = ""
    stack.connect()
    return stack


def sandbox_ids(stack: SyncStack, stream: str) -> set[str]:
    """Every id the sandbox has, read straight from its list endpoints."""
    ids: set[str] = set()
    with stack.sandbox() as s:
        if stream == "admins":
            return {a["id"] for a in s.get("/admins").json()["admins"]}
        if stream == "tags":
            return {t["id"] for t in s.get("/tags").json()["data"]}
        if stream == "teams":
            return {t["id"] for t in s.get("/teams").json()["teams"]}
        if stream == "segments":
            return {t["id"] for t in s.get("/segments").json()["segments"]}
        if stream == "data_attributes":
            return {f"{a['model']}:{a['full_name']}" for a in s.get("/data_attributes").json()["data"]}
        if stream == "companies":  # the scroll is Intercom's only complete company listing
            params: dict[str, Any] = {}
            while True:
                body = s.get("/companies/scroll", params=params).json()
                if not body["data"]:
                    return ids
                ids |= {c["id"] for c in body["data"]}
                params = {"scroll_param": body["scroll_param"]}
        key = "data" if stream == "contacts" else "conversations"
        params = {"per_page": 150}
        while True:
            body = s.get(f"/{stream}", params=params).json()
            ids |= {r["id"] for r in body[key]}
            nxt = (body.get("pages") or {}).get("next")
            if not nxt:
                return ids
            params["starting_after"] = nxt["starting_after"]


def without_sync(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if not k.startswith("_") and k != "raw"}


def parts_of(stack: SyncStack, conversation_ids: list[str]) -> set[str]:
    """The store keys of these conversations' parts, as GET /conversations/{id} lists them."""
    keys: set[str] = set()
    with stack.sandbox() as s:
        for cid in conversation_ids:
            body = s.get(f"/conversations/{cid}").json()
            keys |= {f"{cid}:{p['id']}" for p in body["conversation_parts"]["conversation_parts"]}
    return keys


def written_by(doc: dict[str, Any]) -> str:
    return doc["_sync"]["source"]["id"]


def test_full_sync_stores_every_record_exactly_once(fresh: SyncStack) -> None:
    run = fresh.sync()
    assert run["status"] == "succeeded", run
    expected = fresh.sandbox_counts()
    assert expected == SIZE
    for stream in STREAMS:
        docs = fresh.stored(stream)
        assert set(docs) == sandbox_ids(fresh, stream), stream
        assert run["streams"][stream]["counts"]["fetched"] == SIZE[stream]
        assert run["streams"][stream]["mode"] == "full"
    assert record_counts(run) == sum(SIZE.values())
    assert run["counts"]["failed"] == 0
    for stream in WORKSPACE:
        assert set(fresh.stored(stream)) == sandbox_ids(fresh, stream), stream

    # Content matches what Intercom serves, record for record (a sample of each kind), and
    # Intercom's whole payload is kept beside the mapped fields.
    contacts, conversations = fresh.stored("contacts"), fresh.stored("conversations")
    with fresh.sandbox() as s:
        for contact_id in sorted(contacts)[:: len(contacts) // 10]:
            raw = s.get(f"/contacts/{contact_id}").json()
            assert without_sync(contacts[contact_id]) == mappers.contact(RawContact.model_validate(raw))
            assert contacts[contact_id]["raw"] == raw
        for conversation_id in sorted(conversations)[:: len(conversations) // 10]:
            raw = s.get(f"/conversations/{conversation_id}").json()
            assert without_sync(conversations[conversation_id]) == mappers.conversation(RawConversation.model_validate(raw))
            listed = {k: v for k, v in raw.items() if k != "conversation_parts"}  # the detail adds the parts
            assert conversations[conversation_id]["raw"] == listed

    # Every conversation's parts, keyed {conversation}:{part}, from one GET per conversation.
    parts = fresh.stored("conversation_parts")
    assert run["streams"]["conversation_parts"]["counts"]["written"] == len(parts) > SIZE["conversations"]
    sample = sorted(conversations)[:: len(conversations) // 20]
    assert {k for k in parts if k.split(":")[0] in sample} == parts_of(fresh, sample)
    with fresh.sandbox() as s:
        requests = s.get("/_sandbox/stats").json()
    # one GET per conversation for the run (the checks above asked for a few more; a batch
    # retried after Firestore contention asks its 20 again)
    asked = requests["requests_by_path"]["GET /conversations/<conversation_id>"] - len(sample) - len(
        sorted(conversations)[:: len(conversations) // 10])
    assert SIZE["conversations"] <= asked <= SIZE["conversations"] + 40


def test_no_change_sync_writes_nothing_and_changes_write_about_n(fresh: SyncStack) -> None:
    first = fresh.sync()
    assert first["status"] == "succeeded"
    before = {k: written_by(v) for k, v in fresh.stored("contacts").items()}

    parts_before = {k: written_by(v) for k, v in fresh.stored("conversation_parts").items()}
    second = fresh.sync()
    assert second["status"] == "succeeded"
    assert second["streams"]["contacts"]["mode"] == "incremental"
    assert second["streams"]["conversations"]["mode"] == "incremental"
    assert second["counts"]["written"] == 0, second["counts"]
    # nothing changed: not one conversation was fetched for its parts
    assert second["streams"]["conversation_parts"]["counts"]["fetched"] == 0
    assert {k: written_by(v) for k, v in fresh.stored("conversation_parts").items()} == parts_before
    assert {k: written_by(v) for k, v in fresh.stored("contacts").items()} == before

    with fresh.sandbox() as s:
        changed = s.post(
            "/_sandbox/mutate", json={"contacts_updated": 7, "contacts_created": 3, "conversations_updated": 5}
        ).json()
    third = fresh.sync()
    assert third["status"] == "succeeded"
    streams = third["streams"]
    assert streams["contacts"]["counts"]["written"] == 10, streams
    assert streams["conversations"]["counts"]["written"] == 5, streams
    assert streams["admins"]["counts"]["written"] == 0
    # Contacts created or updated touch their company (user_count, updated_at): one each at most.
    assert streams["companies"]["counts"]["written"] <= 10
    contacts = fresh.stored("contacts")
    assert len(contacts) == SIZE["contacts"] + 3
    for contact_id in changed["contacts_updated"] + changed["contacts_created"]:
        assert written_by(contacts[contact_id]) == third["run_id"]
    # Incremental asked only for what changed (plus the overlap), not the whole set.
    assert third["streams"]["conversations"]["counts"]["fetched"] < SIZE["conversations"] / 10
    # The parts of the 5 changed conversations, and only theirs, were fetched again.
    parts = fresh.stored("conversation_parts")
    new_parts = set(parts) - set(parts_before)
    assert new_parts and {k.split(":")[0] for k in new_parts} <= set(changed["conversations_updated"])
    assert {k.split(":")[0] for k, v in parts.items() if written_by(v) == third["run_id"]} <= set(
        changed["conversations_updated"])
    assert third["streams"]["conversation_parts"]["counts"]["fetched"] == len(
        parts_of(fresh, changed["conversations_updated"]))


def test_a_second_run_while_one_is_active_is_409(fresh: SyncStack) -> None:
    fresh.reset_sandbox(latency_ms=100)
    run_id = fresh.start_sync()
    with fresh.api() as api:
        response = api.post("/sync-now", json={"connection_id": fresh.connection_id})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "sync_in_progress"
    assert response.json()["error"]["details"]["run_id"] == run_id
    fresh.reset_sandbox()
    assert fresh.wait(run_id)["status"] == "succeeded"


def test_killing_the_worker_mid_run_resumes_with_no_gaps_or_duplicates(fresh: SyncStack) -> None:
    fresh.reset_sandbox(latency_ms=60)
    run_id = fresh.start_sync()
    deadline = time.monotonic() + 60
    while fresh.run(run_id)["counts"]["fetched"] < 600:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    fresh.kill_functions()  # SIGKILL: pages in flight die half done
    time.sleep(1.5)  # the Tasks emulator meets connection errors and backs off
    fresh.start_functions()
    run = fresh.wait(run_id)
    assert run["status"] == "succeeded", run
    for stream in STREAMS:
        docs = fresh.stored(stream)
        assert set(docs) == sandbox_ids(fresh, stream)
    assert record_counts(run) == sum(SIZE.values())


def test_faults_and_the_default_rate_limit_still_store_everything(fresh: SyncStack) -> None:
    with fresh.sandbox() as s:
        s.post("/_sandbox/rate_limit", json={"per_minute": 1000, "window_seconds": 10}).raise_for_status()
    fresh.reset_sandbox(error_rate=0.05, drop_rate=0.02)
    fresh.create_queue(max_dispatches_per_second=round(1000 / 60, 3))
    try:
        run = fresh.sync(timeout_s=180)
    finally:
        with fresh.sandbox() as s:
            s.post("/_sandbox/rate_limit", json={"per_minute": fresh.sandbox_rate_limit, "window_seconds": 10})
    assert run["status"] == "succeeded", run
    with fresh.sandbox() as s:
        stats = s.get("/_sandbox/stats").json()
    assert stats["injected_errors"] + stats["dropped_connections"] > 0
    fresh.set_faults()
    for stream in STREAMS:
        assert set(fresh.stored(stream)) == sandbox_ids(fresh, stream)


def test_scheduler_and_worker_accept_only_their_service_accounts(fresh: SyncStack) -> None:
    import httpx

    mint = fresh.identity.identity
    url = fresh.functions_url
    with httpx.Client(base_url=url, timeout=30) as api:
        def call(function: str, token: str | None, body: dict[str, Any]) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return api.post(f"/{function}", json=body, headers=headers)

        scheduler_token = mint.oidc_token(f"{url}/sync-scheduler", SCHEDULER_SA)
        assert call("sync-scheduler", None, {}).status_code == 401
        wrong_sa = call("sync-scheduler", mint.oidc_token(f"{url}/sync-scheduler", TASKS_SA), {})
        assert wrong_sa.status_code == 403 and wrong_sa.json()["error"]["code"] == "caller_not_allowed"
        wrong_aud = call("sync-scheduler", mint.oidc_token(f"{url}/sync-worker", SCHEDULER_SA), {})
        assert wrong_aud.status_code == 401
        user = call("sync-scheduler", mint.id_token("admin@example.com", role="admin"), {})
        assert user.status_code == 401

        # The new connection is due at once: the tick plans it; the next tick finds it running.
        started = call("sync-scheduler", scheduler_token, {})
        assert started.status_code == 200, started.text
        assert len(started.json()["started"]) == 1
        again = call("sync-scheduler", scheduler_token, {})
        assert again.status_code == 200 and again.json()["started"] == []
        worker_by_scheduler = call("sync-worker", mint.oidc_token(f"{url}/sync-worker", SCHEDULER_SA), {})
        assert worker_by_scheduler.status_code == 403
    assert fresh.wait(started.json()["started"][0])["status"] == "succeeded"


def test_status_reports_last_run_and_cursor_age(fresh: SyncStack) -> None:
    run = fresh.sync()
    with fresh.api("member") as api:
        status = api.get("/sync-status").json()
        history = api.get("/sync-runs", params={"connection_id": fresh.connection_id, "limit": 5}).json()
    intercom = next(c for c in status["connections"] if c["connection_id"] == fresh.connection_id)
    assert intercom["last_run"]["run_id"] == run["run_id"]
    assert intercom["running_run_id"] is None
    assert intercom["counts"]["fetched"] == run["counts"]["fetched"]
    assert record_counts(run, "fetched") == sum(SIZE.values())
    assert set(intercom["cursors"]) >= {"contacts", "companies", "conversations"}
    assert intercom["cursors"]["contacts"]["age_s"] is not None
    assert history["runs"][0]["run_id"] == run["run_id"]


def test_a_task_with_a_request_in_its_body_is_refused_and_fetches_nothing(fresh: SyncStack) -> None:
    """Hole 6d: a task body once carried a full request, and an absolute URL in it sent
    the vendor token to any listener. Tasks now carry only a cursor."""
    import httpx

    url = f"{fresh.functions_url}/sync-worker"
    token = fresh.identity.identity.oidc_token(url, TASKS_SA)
    body = {"connection_id": fresh.connection_id, "run_id": "r1", "stream": "contacts", "page": 0,
            "request": {"method": "GET", "path": "http://127.0.0.1:9/steal"}}
    response = httpx.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_failed"


def test_a_sweep_removes_contacts_deleted_at_the_sandbox(fresh: SyncStack) -> None:
    assert fresh.sync()["status"] == "succeeded"
    with fresh.sandbox() as s:
        deleted = s.post("/_sandbox/mutate", json={"contacts_deleted": 4}).json()["contacts_deleted"]
    run = fresh.sync(mode="full")
    assert run["status"] == "succeeded", run
    contacts = fresh.stored("contacts")
    assert not set(deleted) & set(contacts)
    assert set(contacts) == sandbox_ids(fresh, "contacts")
    tombstones = fresh.stored("contacts", include_deleted=True)
    assert all(tombstones[c]["_deleted"] for c in deleted)


def test_five_concurrent_sync_now_calls_one_starts_the_rest_conflict(fresh: SyncStack) -> None:
    """Hole 6i: the losers got 500 after 20 s of transaction exhaustion."""
    from concurrent.futures import ThreadPoolExecutor

    def start(_: int) -> int:
        with fresh.api() as api:
            return api.post("/sync-now", json={"connection_id": fresh.connection_id}).status_code

    with ThreadPoolExecutor(5) as pool:
        codes = sorted(pool.map(start, range(5)))
    assert codes == [202, 409, 409, 409, 409]
    fresh.wait(fresh.run_ids()[0])


def test_a_run_whose_tasks_were_lost_is_recovered_by_the_scheduler(fresh: SyncStack) -> None:
    """Hole 6h: with the Tasks emulator killed mid-run (every queued task lost), the run
    stayed running and Sync Now answered 409 for 15 minutes."""
    fresh.reset_sandbox(latency_ms=80)
    run_id = fresh.start_sync()
    deadline = time.monotonic() + 60
    while fresh.run(run_id)["counts"]["fetched"] < 300:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    fresh.kill_tasks()
    time.sleep(4)  # longer than SYNC_STALL_AFTER_S in the stack: the chains have stalled
    fresh.start_tasks()
    fresh.create_queue()
    fresh.reset_sandbox()
    # Cloud Scheduler ticks every few minutes; here every 2 s until the run ends (a chain
    # worked on just before the kill is only stalled once SYNC_STALL_AFTER_S has passed).
    actions: list[str] = []
    deadline = time.monotonic() + 150
    while fresh.run(run_id)["status"] == "running":
        assert time.monotonic() < deadline, (actions, fresh.run(run_id))
        actions.append(fresh.tick()["recovered"].get(fresh.connection_id, "none"))
        time.sleep(2)
    assert "resumed" in actions, actions
    run = fresh.wait(run_id)
    assert run["status"] == "succeeded", run
    for stream in STREAMS:
        assert set(fresh.stored(stream)) == sandbox_ids(fresh, stream)


def test_two_workspaces_sync_at_once_into_separate_data(fresh: SyncStack) -> None:
    from devtools.processes import free_port

    port = free_port()
    other_size = {"contacts": 300, "companies": 40, "admins": 5, "conversations": 200}
    fresh.start_sandbox("sandbox-2", port, "second-token", other_size, seed=99)
    try:
        second = fresh.connect(token="second-token", base_url=f"http://127.0.0.1:{port}", name="Second workspace")
        first_run = fresh.start_sync()
        second_run = fresh.start_sync(connection_id=second)
        assert fresh.wait(first_run)["status"] == "succeeded"
        assert fresh.wait(second_run, connection_id=second)["status"] == "succeeded"
        assert len(fresh.stored("contacts")) == SIZE["contacts"]
        assert len(fresh.stored("contacts", connection_id=second)) == other_size["contacts"]
        assert not set(fresh.stored("contacts")) & set(fresh.stored("contacts", connection_id=second))
        # a wrong token for the second workspace is refused by it: its run fails, the first is untouched
        with fresh.api() as api:
            api.patch(f"/connections/{second}", json={"credentials": {"access_token": "sandbox-token"}}).raise_for_status()
        failed = fresh.wait(fresh.start_sync(connection_id=second), connection_id=second)
        assert failed["status"] == "failed"
        assert {e["code"] for e in failed["errors"]} == {"vendor_auth_failed"}
    finally:
        fresh.processes.pop("sandbox-2").stop()
