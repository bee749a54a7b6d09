"""HubSpot through the engine on the real Firestore emulator against the sandbox HubSpot,
with real OAuth refreshes: the full import lists every object (custom properties and
associations kept), incremental runs search on the last-modified property, a window with
more than 10,000 changes splits until every record arrives, a token that expires mid-run
is refreshed without failing it, and a revoked grant marks the connection needs_reauth."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.sandboxes.hubspot.records import Sizes
from shared.connections.store import get_connection
from tests.conftest import PROJECT
from tests.e2e.hubspot_world import hubspot_world

SIZES = Sizes(contacts=60, companies=8, deals=12, seed=3)
PROPS = {"contact_properties": ["email", "firstname", "lastname", "favorite_color"]}


@pytest.fixture()
def db(clean_firestore: str) -> Any:
    from google.cloud import firestore

    return firestore.Client(project=PROJECT)


def test_full_import_lists_everything_then_incremental_runs_search(db: Any) -> None:
    w = hubspot_world(db, SIZES, **PROPS)
    run = w.sync()
    assert run.status.value == "succeeded", run.errors
    store = w.sandbox.store
    for kind in ("contacts", "companies", "deals"):
        assert sorted(w.docs(kind)) == sorted(store.objects[kind]), kind
    contact = w.docs("contacts")[next(iter(store.objects["contacts"]))]
    assert contact["properties"]["favorite_color"] in ("red", "green", "blue")  # a custom property, kept
    assert contact["email"].endswith("@example.com") and contact["name"]
    links = sum(len(v.get("companies", [])) for (kind, _), v in store.links.items() if kind == "contacts")
    assert len(w.docs("contact_companies")) == links == SIZES.contacts
    assert len(w.docs("deal_contacts")) == SIZES.deals and len(w.docs("deal_companies")) == SIZES.deals
    assert not [r for r in w.requests if r.url.path.endswith("/search")]  # the full import is the list
    # associations: one batch read per page of parents and type, never one request per object
    batches = [r for r in w.requests if r.url.path.endswith("/batch/read")]
    assert len(batches) == 3 and not [r for r in w.requests if "/crm/v4/objects/" in r.url.path]
    assert w.sandbox.stats.snapshot()["rate_limited"] == 0

    touched = store.touch("contacts", 5)
    made = store.create("deals", 2)
    w.requests.clear()
    run = w.sync()
    assert run.status.value == "succeeded", run.errors
    api = [r for r in w.requests if r.url.path.startswith("/crm/v3") and r.url.params.get("archived") != "true"]
    assert api and all(r.method == "POST" and r.url.path.endswith("/search") for r in api)
    for rec in touched:
        assert w.docs("contacts")[rec.id]["properties"]["favorite_color"] == rec.properties["favorite_color"]
    assert {r.id for r in made} <= set(w.docs("deals"))
    # a quiet run writes nothing and asks only the three searches and the three recycle bins
    w.requests.clear()
    run = w.sync()
    assert run.status.value == "succeeded" and run.counts.written == 0
    api = [r for r in w.requests if r.url.path.startswith("/crm")]
    assert len([r for r in api if r.url.path.endswith("/search")]) == 3
    assert len([r for r in api if r.url.params.get("archived") == "true"]) == 3 and len(api) == 6


def test_archived_records_become_tombstones_on_the_next_incremental_run(db: Any) -> None:
    w = hubspot_world(db, SIZES, **PROPS)
    assert w.sync().status.value == "succeeded"
    store = w.sandbox.store
    contacts, deals = sorted(store.objects["contacts"])[:2], sorted(store.objects["deals"])[:1]
    store.archive("contacts", contacts)
    store.archive("deals", deals)
    run = w.sync()
    assert run.status.value == "succeeded", run.errors
    assert run.streams["contacts"].mode == "incremental"  # not the weekly full pass's sweep
    stored = w.docs("contacts", include_deleted=True)
    assert all(stored[c]["_deleted"] for c in contacts)
    assert w.docs("deals", include_deleted=True)[deals[0]]["_deleted"]
    assert set(w.docs("contacts")) == set(store.objects["contacts"]) - set(contacts)
    assert run.streams["contacts_archived"].counts.written == 2
    # the bin is read again on every run; what it holds is tombstoned already: nothing written
    run = w.sync()
    assert run.counts.written == 0 and run.streams["contacts_archived"].counts.unchanged == 2


def test_associations_are_read_in_batches_paged_per_parent_and_removed_ones_are_deleted(db: Any) -> None:
    w = hubspot_world(db, SIZES, **PROPS)
    store = w.sandbox.store
    store.association_page = 2  # type: ignore[attr-defined]
    first, second = sorted(store.objects["contacts"])[:2]
    companies = sorted(store.objects["companies"])
    for company in companies[:5]:  # five companies: three rounds of two for this contact
        store.link("contacts", first, "companies", company)
    assert w.sync().status.value == "succeeded"
    linked = {k.split(":")[1] for k, v in w.docs("contact_companies").items() if v["parent_id"] == first}
    assert linked == set(store.links[("contacts", first)]["companies"]) and len(linked) >= 5
    batches = [r for r in w.requests if r.url.path == "/crm/v4/associations/contacts/companies/batch/read"]
    assert len(batches) == 3  # 60 parents in one request; rounds 2 and 3 only for the one with more

    # removed associations: a re-read of the parent is its whole set
    removed = sorted(linked)[:2]
    for company in removed:
        assert store.unlink("contacts", first, "companies", company)
    for company in list(store.links[("contacts", second)]["companies"]):
        store.unlink("contacts", second, "companies", company)  # none left: NO_ASSOCIATIONS_FOUND
    for rec in (store.objects["contacts"][first], store.objects["contacts"][second]):
        rec.updated = store.clock.advance(1)
    run = w.sync()
    assert run.status.value == "succeeded", run.errors
    live = w.docs("contact_companies")
    assert {k.split(":")[1] for k, v in live.items() if v["parent_id"] == first} == linked - set(removed)
    assert not [k for k, v in live.items() if v["parent_id"] == second]
    gone = w.docs("contact_companies", include_deleted=True)
    assert all(gone[f"{first}:{c}"]["_deleted"] for c in removed)


def test_a_window_with_more_than_ten_thousand_changes_splits_and_every_record_arrives(db: Any) -> None:
    w = hubspot_world(db, Sizes(contacts=10, companies=0, deals=0, seed=5), factor=20.0)
    w.selected = lambda stream: stream == "contacts"
    assert w.sync().status.value == "succeeded"
    made = w.sandbox.store.create("contacts", 10_400)  # a bulk import: 10,400 changes, one a second
    w.requests.clear()
    run = w.sync()
    assert run.status.value == "succeeded", run.errors
    assert set(w.docs("contacts")) >= {r.id for r in made}
    searches = [r for r in w.requests if r.url.path.endswith("/search")]
    assert "400" not in w.sandbox.stats.snapshot()["responses_by_status"]  # never paged past 10,000
    assert len(searches) >= 2 * (10_400 // 100 // 2)
    doc = db.collection("connections").document(w.connection_id).collection("runs").document(run.run_id) \
        .collection("streams").document("contacts").get().to_dict()
    assert any(window.get("status") == "split" for window in doc["windows"].values())


def test_an_access_token_expiring_mid_run_is_refreshed_without_failing_it(db: Any) -> None:
    w = hubspot_world(db, SIZES, **PROPS)
    w.plan("full")
    w.run(w.enqueued.pop(0))
    assert w.token_calls() == 1  # the stored token had expired: refreshed before the first request
    w.sandbox.oauth.offset_s += 1801  # 30 minutes later the sandbox refuses that token
    w.drain()
    runs = list(db.collection("connections").document(w.connection_id).collection("runs").stream())
    assert [r.to_dict()["status"] for r in runs] == ["succeeded"]
    assert w.token_calls() >= 2
    assert any(r.url.path.startswith("/crm") for r in w.requests)
    assert len(w.docs("contacts")) == SIZES.contacts


def test_a_revoked_grant_marks_the_connection_needs_reauth(db: Any) -> None:
    w = hubspot_world(db, SIZES, **PROPS)
    w.sandbox.oauth.revoke_all()
    run = w.sync()
    assert run.status.value in ("failed", "partial")
    assert get_connection(db, w.connection_id).status.value == "needs_reauth"
    assert not w.docs("contacts")
