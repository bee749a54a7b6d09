"""Pipedrive end to end on the real Firestore emulator and the sandbox over HTTP: per-user
connections syncing at once within their own token's limits, custom fields by name,
warmness and My 500, incremental sync and deletes, and credentials never in the clear."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.sandboxes.kit.cli import ServerSettings
from devtools.sandboxes.kit.server import BackgroundWSGI
from devtools.sandboxes.pipedrive.app import CEILING, create_app
from devtools.sandboxes.pipedrive.limits import Limits
from devtools.sandboxes.pipedrive.records import Sizes, Store, field_key
from shared.sync import ingest
from tests.conftest import PROJECT
from tests.e2e.pipedrive_world import UserWorld, small_pages, user_world

ALICE, BOB = "pd-token-alice-0123456789", "pd-token-bob-9876543210"


@pytest.fixture()
def db(clean_firestore: str) -> Any:
    from google.cloud import firestore

    ingest.forget_contexts()
    return firestore.Client(project=PROJECT)


@pytest.fixture()
def sandbox() -> Iterator[tuple[Store, str]]:
    app = create_app(Sizes(persons=0, users=1), ServerSettings(token=ALICE, rate_limit=CEILING),
                     Limits(burst=20, block_after=3))
    app.store.add_account(ALICE, persons=400, company="acme")
    app.store.add_account(BOB, persons=300, company="acme")
    with BackgroundWSGI(app) as served:
        yield app.store, served.base_url


def both(db: Any, base_url: str, page_size: int = 20) -> tuple[UserWorld, UserWorld]:
    connector = small_pages(page_size)
    return (user_world(db, connector, base_url, ALICE, "uid-alice", "pipedrive-aaaaaaaaaaaa"),
            user_world(db, connector, base_url, BOB, "uid-bob", "pipedrive-bbbbbbbbbbbb"))


def test_two_users_sync_at_once_within_their_token_limits_and_see_only_their_data(db: Any, sandbox: Any) -> None:
    app, base_url = sandbox
    alice, bob = both(db, base_url)
    runs: dict[str, Any] = {}
    threads = [threading.Thread(target=lambda w=w: runs.__setitem__(w.uid, w.sync("full"))) for w in (alice, bob)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert runs["uid-alice"].status == "succeeded" and runs["uid-bob"].status == "succeeded", runs
    # every request answered, none refused: each token stayed under its 2-second burst
    assert app.meter.stats.refused == {} and app.meter.stats.blocked == {}
    assert max(app.meter.stats.peak_window.values()) <= 20
    assert app.meter.stats.requests[ALICE] > 30 and app.meter.stats.requests[BOB] > 25  # enough to matter
    a_people, b_people = alice.docs("persons"), bob.docs("persons")
    assert {int(k) for k in a_people} == set(app.accounts[ALICE].persons)
    assert {int(k) for k in b_people} == set(app.accounts[BOB].persons)
    assert not set(a_people) & set(b_people)


def test_custom_fields_are_stored_by_name_and_contacts_carry_warmness(db: Any, sandbox: Any) -> None:
    app, base_url = sandbox
    alice, _ = both(db, base_url, page_size=500)
    alice.sync("full")
    person = app.accounts[ALICE].persons
    pid, raw = next((k, v) for k, v in person.items() if v["custom_fields"][field_key("acme", "Added to campaign")] == 100)
    doc = alice.docs("persons")[str(pid)]
    assert doc["custom_fields"]["Added to campaign"] == "Yes" and doc["added_to_campaign"] is True
    assert not any(len(k) == 40 for k in doc["custom_fields"])
    assert doc["pipedrive_id"] == pid and doc["owner_id"] == app.accounts[ALICE].user_id
    assert "priority_at" in doc and "last_contacted_at" in doc
    fields = alice.docs("person_fields")
    assert fields[field_key("acme", "Lead source")]["name"] == "Lead source"


def test_the_raw_connection_documents_never_hold_the_token(db: Any, sandbox: Any) -> None:
    _, base_url = sandbox
    alice, _ = both(db, base_url)
    ref = db.collection("connections").document(alice.connection_id)
    dumped = json.dumps(ref.get().to_dict(), default=str)
    for sub in ref.collections():
        for snap in sub.stream():
            dumped += json.dumps(snap.to_dict(), default=str)
    assert ALICE not in dumped and "pd-token" not in dumped
    assert "api_token" not in json.dumps(ref.get().to_dict(), default=str)


def test_later_syncs_fetch_changes_through_updated_since_and_deletes_are_swept(db: Any, sandbox: Any) -> None:
    app, base_url = sandbox
    alice, _ = both(db, base_url, page_size=500)
    alice.sync("full")
    pid = next(iter(app.accounts[ALICE].persons))
    app.touch(ALICE, "persons", pid, name="Renamed Person")
    before = app.meter.stats.requests[ALICE]
    run = alice.sync("incremental")
    assert run.status == "succeeded"
    assert alice.docs("persons")[str(pid)]["name"] == "Renamed Person"
    assert app.meter.stats.requests[ALICE] - before <= 10  # one small page per stream, not a re-import
    gone = list(app.accounts[ALICE].persons)[5]
    app.delete(ALICE, "persons", gone)
    alice.sync("full")
    assert str(gone) not in alice.docs("persons")
    assert alice.docs("persons", include_deleted=True)[str(gone)]["_deleted"]


# -- activities through the outbox ------------------------------------------------------------


def _warm_contact(app: Store, alice: UserWorld) -> int:
    from datetime import datetime, timezone

    from devtools.sandboxes.pipedrive.records import iso

    pid = next(iter(app.accounts[ALICE].persons))
    app.touch(ALICE, "persons", pid, last_outgoing_mail_time=iso(datetime.now(timezone.utc)))
    alice.sync("incremental")
    return pid


def _client(alice: UserWorld, timeout_s: float = 1.0) -> Any:
    from shared.serving.outbox import no_inline_retries
    from shared.vendors.auth import StaticAuth, WireAuth
    from shared.vendors.http import VendorClient
    from shared.vendors.pipedrive.connector import PipedriveConfig

    config = PipedriveConfig(base_url=alice.base_url, timeout_s=timeout_s)
    return lambda: VendorClient(no_inline_retries(alice.connector), config,
                                auth=StaticAuth(WireAuth(headers={"x-api-token": alice.token})))


def test_an_activity_on_a_warm_contact_reaches_pipedrive_exactly_once_through_failures_and_timeouts(
    db: Any, sandbox: Any
) -> None:
    from devtools.sandboxes.pipedrive.limits import Fault
    from shared.serving import outbox
    from shared.vendors.pipedrive.activities import LogActivity

    app, base_url = sandbox
    alice, _ = both(db, base_url, page_size=500)
    alice.sync("full")
    pid = _warm_contact(app, alice)
    app.faults.add(Fault("POST", "/api/v2/activities", times=1, status=500))
    app.faults.add(Fault("POST", "/api/v2/activities", times=1, status="timeout", delay_s=2.5))
    queued: list[str] = []
    change = LogActivity(kind="call", subject="Follow-up call", note="Talked pricing")
    doc, replayed = outbox.submit(db, alice.connection_id, alice.connector.create("log-activity"), str(pid), change,
                                  uid="uid-alice", idem_key="idem-1", enqueue=queued.append)
    assert doc["state"] == "pending" and not replayed and queued == [doc["id"]]
    # the logged activity is a record at once (through ingest), marked pending its push
    pending = alice.docs("activities")[doc["record_key"]]
    assert pending["push_state"] == "pending" and pending["pipedrive_id"] is None and pending["person_id"] == str(pid)
    assert pending["_sync"]["source"]["kind"] == "write_back"
    # the same key again: the stored item, nothing new (here or in Pipedrive)
    again, replayed = outbox.submit(db, alice.connection_id, alice.connector.create("log-activity"), str(pid), change,
                                    uid="uid-alice", idem_key="idem-1", enqueue=queued.append)
    assert replayed and again["id"] == doc["id"]
    failures = 0
    for _ in range(5):  # Cloud Tasks' retries
        try:
            result = outbox.deliver(db, alice.connection_id, alice.connector, doc["id"], _client(alice))
        except Exception:  # noqa: BLE001 - the task fails; Cloud Tasks retries it
            failures += 1
            continue
        if result["state"] == "delivered":
            break
    assert failures == 2 and result["adopted"] is True
    marked = [a for a in app.accounts[ALICE].activities.values() if doc["marker"] in (a.get("note") or "")]
    assert len(marked) == 1 and app.meter.stats.created[ALICE] == 1
    assert result["vendor_id"] == str(marked[0]["id"])
    stored = alice.docs("activities")[doc["record_key"]]  # the same document, now with Pipedrive's id
    assert stored["person_id"] == str(pid) and stored["subject"] == "Follow-up call"
    assert stored["pipedrive_id"] == marked[0]["id"] and stored["push_state"] == "in_pipedrive"
    alice.sync("full")  # a later sync of that activity lands on it too: no second record
    logged = [d for d in alice.docs("activities").values() if d["subject"] == "Follow-up call"]
    assert [d["id"] for d in logged] == [doc["record_key"]] and str(marked[0]["id"]) not in alice.docs("activities")
    # delivering again (a duplicate task) changes nothing
    outbox.deliver(db, alice.connection_id, alice.connector, doc["id"], _client(alice))
    assert app.meter.stats.created[ALICE] == 1


def test_an_activity_on_a_cold_contact_is_stored_only(db: Any, sandbox: Any) -> None:
    from shared.serving import outbox
    from shared.vendors.pipedrive.activities import LogActivity

    app, base_url = sandbox
    alice, _ = both(db, base_url, page_size=500)
    alice.sync("full")
    cold = next(k for k, v in app.accounts[ALICE].persons.items()
                if not v["last_outgoing_mail_time"] and not v["last_activity_date"])
    queued: list[str] = []
    doc, _ = outbox.submit(db, alice.connection_id, alice.connector.create("log-activity"), str(cold),
                           LogActivity(kind="note", subject="Met at expo"), uid="uid-alice", idem_key="k",
                           enqueue=queued.append)
    assert doc["state"] == "skipped" and queued == [] and app.meter.stats.created[ALICE] == 0
    assert alice.docs("activities")[doc["record_key"]]["push_state"] == "skipped"  # stored here, visible


# -- ownership and My 500 ---------------------------------------------------------------------


def test_a_user_cannot_read_or_write_another_users_contacts_an_admin_can_read(db: Any, sandbox: Any) -> None:
    from shared.api.policies import Principal
    from shared.connections.access import manageable, readable
    from shared.errors import NotFound

    _, base_url = sandbox
    alice, bob = both(db, base_url)
    as_bob = Principal(kind="user", subject="uid-bob", email="bob@example.com", role="member")
    as_admin = Principal(kind="user", subject="uid-admin", email="admin@example.com", role="admin")
    with pytest.raises(NotFound):
        readable(db, as_bob, alice.connection_id)  # records, views: 404
    with pytest.raises(NotFound):
        manageable(db, as_bob, alice.connection_id)  # activities, sync-now: 404
    assert readable(db, as_bob, bob.connection_id).owner.uid == "uid-bob"
    assert readable(db, as_admin, alice.connection_id).id == alice.connection_id


def test_my_500_is_the_warmest_first_with_search_filters_and_pages(db: Any, sandbox: Any) -> None:
    from shared.vendors.pipedrive.my500 import My500Query, compute

    app, base_url = sandbox
    alice, _ = both(db, base_url, page_size=500)
    alice.sync("full")
    first = compute(db, alice.connection_id, My500Query(limit=50))
    assert first.total == 400 and len(first.items) == 50 and first.next_offset == 50
    scores = [p.warmness for p in first.items]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    second = compute(db, alice.connection_id, My500Query(limit=50, offset=50))
    assert not {p.id for p in first.items} & {p.id for p in second.items}
    campaign = compute(db, alice.connection_id, My500Query(added_to_campaign=True, limit=200))
    assert campaign.items and all(p.added_to_campaign for p in campaign.items)
    name = first.items[0].name or ""
    found = compute(db, alice.connection_id, My500Query(q=name.split()[0].lower(), sort="name", order="asc"))
    assert found.items and all(name.split()[0].lower() in (p.name or "").lower() for p in found.items)


def test_my_500_is_the_callers_own_when_the_token_sees_the_whole_company(db: Any, sandbox: Any) -> None:
    """Alice's token sees every record of the company (her visibility), yet her connection
    stores only hers: the user id learned from /users/me filters the lists (owner_id) and
    ingest leaves out anything else that reaches it (a webhook about a colleague's person)."""
    from shared.connections import identity
    from shared.connections.store import get_connection
    from shared.store.records import Provenance
    from shared.vendors.pagination import PageRequest
    from shared.vendors.pipedrive.my500 import My500Query, compute

    app, base_url = sandbox
    app.accounts[ALICE].sees_company = True
    alice, _ = both(db, base_url, page_size=500)
    learned = identity.learn(None, db, alice.connector, get_connection(db, alice.connection_id),  # type: ignore[arg-type]
                             open_client=lambda _c: _client(alice)())
    assert learned["user_id"] == app.accounts[ALICE].user_id
    assert get_connection(db, alice.connection_id).config["user_id"] == app.accounts[ALICE].user_id
    run = alice.sync("full")
    assert run.status == "succeeded"
    assert {int(k) for k in alice.docs("persons")} == set(app.accounts[ALICE].persons)
    assert compute(db, alice.connection_id, My500Query(limit=200)).total == 400
    # the token really does see Bob's: without the filter it would have stored them
    seen = _client(alice)().fetch(PageRequest(path="/api/v2/persons", params={"limit": 500}))
    assert any(p["owner_id"] == app.accounts[BOB].user_id for p in seen["data"])
    bobs = next(iter(app.accounts[BOB].persons.values()))
    kept = ingest.ingest(db, alice.connection_id, alice.connector.stream("persons"), [bobs],
                         Provenance("webhook", "d-1", "change.person"))
    assert kept.counts.written == 0 and str(bobs["id"]) not in alice.docs("persons")


def test_a_run_stops_at_the_daily_reserve_without_a_429_and_resumes_after_the_reset(db: Any, sandbox: Any) -> None:
    """The company's daily token budget is smaller than the import: the run books each
    call's tokens ahead, stops before the reserve (no 429), its chunks wait for midnight
    with no cursor moved; the sandbox clock crosses midnight and the run completes."""
    from shared.sync import state
    from shared.sync.budgets import StoreGate
    from shared.vendors.errors import AllowanceSpent
    from shared.vendors.pagination import PageRequest

    app, base_url = sandbox
    app.meter.limits = Limits(burst=20, block_after=3, daily_tokens=500)
    alice, _ = both(db, base_url)
    alice.clock = app.now
    first = alice.sync("full")
    assert first.status == "running" and alice.deferred  # waiting, not failed
    assert app.meter.stats.refused == {} and app.meter.stats.blocked == {}  # 0 429s
    spent = app.meter.stats.spent[ALICE]
    assert 400 <= spent <= 500 - 25  # up to the reserve (5%), never past it
    assert all(at.timestamp() == (app.now() // 86_400 + 1) * 86_400 for _, at in alice.deferred)
    assert not state.cursors(db, alice.connection_id).get("persons", {}).get("hwm")  # no cursor moved
    lease = db.collection("connections").document(alice.connection_id).get().to_dict()["lease"]
    assert lease["run_id"] == first.run_id and lease["expires_at"].timestamp() > (app.now() // 86_400 + 1) * 86_400
    # the reserve is for live calls: a push may spend it, a sync call may not
    gate = StoreGate(db, alice.connector, alice.connection_id, clock=app.now)
    with pytest.raises(AllowanceSpent):
        gate.book(PageRequest(path="/api/v2/persons"))
    live = StoreGate(db, alice.connector, alice.connection_id, live=True, clock=app.now)
    assert live.book(PageRequest(method="POST", path="/api/v2/activities")) is not None

    app.skew_s += 86_400  # midnight UTC has passed on the sandbox's clock (and ours)
    alice.release_deferred()
    alice.drain()
    done = state.get_run(db, alice.connection_id, first.run_id)
    assert done.status == "succeeded", done.errors
    assert app.meter.stats.refused == {}
    assert {int(k) for k in alice.docs("persons")} == set(app.accounts[ALICE].persons)
