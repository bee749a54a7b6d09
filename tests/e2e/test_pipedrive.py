"""Pipedrive end to end on the real Firestore emulator and the sandbox over HTTP: per-user
connections syncing at once within their own token's limits, custom fields by name,
warmness and My 500, incremental sync and deletes, and credentials never in the clear."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.sandboxes.kit.server import BackgroundWSGI
from devtools.sandboxes.pipedrive.app import Limits, PipedriveSandbox
from devtools.sandboxes.pipedrive.data import field_key
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
def sandbox() -> Iterator[tuple[PipedriveSandbox, str]]:
    app = PipedriveSandbox(Limits(burst=20, block_after=3))
    app.add_account(ALICE, persons=400, company="acme")
    app.add_account(BOB, persons=300, company="acme")
    with BackgroundWSGI(app) as served:
        yield app, served.base_url


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
    assert app.stats.refused == {} and app.stats.blocked == {}
    assert max(app.stats.peak_window.values()) <= 20
    assert app.stats.requests[ALICE] > 30 and app.stats.requests[BOB] > 25  # enough to matter
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
    before = app.stats.requests[ALICE]
    run = alice.sync("incremental")
    assert run.status == "succeeded"
    assert alice.docs("persons")[str(pid)]["name"] == "Renamed Person"
    assert app.stats.requests[ALICE] - before <= 10  # one small page per stream, not a re-import
    gone = list(app.accounts[ALICE].persons)[5]
    app.delete(ALICE, "persons", gone)
    alice.sync("full")
    assert str(gone) not in alice.docs("persons")
    assert alice.docs("persons", include_deleted=True)[str(gone)]["_deleted"]
