"""Sync events on the real Firestore emulator: a run's end writes one (counts, or the
reason); a connection that keeps failing folds its failures into one event's `repeats`
until it recovers; listing is oldest first with a cursor, and members see only what
they may see."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.api.policies import Principal
from shared.sync.events import EventQuery, list_events
from tests.conftest import PROJECT
from tests.e2e.engine_world import World
from tests.e2e.test_engine import THINGS, connector, item

ADMIN = Principal(kind="user", subject="a1", role="admin")
MEMBER = Principal(kind="user", subject="m1", role="member")


@pytest.fixture()
def db(clean_firestore: str) -> Any:
    from google.cloud import firestore

    return firestore.Client(project=PROJECT)


class Vendor:
    def __init__(self) -> None:
        self.down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            return httpx.Response(400, json={"error": "bad request"})
        return httpx.Response(200, json={"data": [item(1), item(2)]})


def world_with_owner(db: Any, vendor: Vendor, connection_id: str, owner: dict[str, Any]) -> World:
    db.collection("connections").document(connection_id).set({"vendor": "testvendor", "name": connection_id, "owner": owner})
    return World(db=db, connector=connector(THINGS), handler=vendor, connection_id=connection_id)


def test_failures_fold_into_one_event_until_the_connection_recovers(db: Any) -> None:
    vendor = Vendor()
    w = world_with_owner(db, vendor, "conn-1", {"kind": "org"})
    assert w.sync().status.value == "succeeded"
    vendor.down = True
    for _ in range(3):
        assert w.sync().status.value == "failed"
    vendor.down = False
    assert w.sync().status.value == "succeeded"
    vendor.down = True
    assert w.sync().status.value == "failed"
    events = list_events(db, ADMIN, EventQuery()).events
    assert [e.kind for e in events] == ["run_succeeded", "run_failed", "run_succeeded", "run_failed"]
    assert [e.repeats for e in events] == [0, 2, 0, 0]
    assert events[0].counts is not None and events[0].counts.fetched == 2
    assert events[1].reason is not None and events[1].reason.code == "vendor_rejected"
    assert events[1].last_at > events[1].at


def test_events_page_with_a_cursor_and_members_see_only_their_connections(db: Any) -> None:
    vendor = Vendor()
    org = world_with_owner(db, vendor, "conn-org", {"kind": "org"})
    mine = world_with_owner(db, vendor, "conn-mine", {"kind": "user", "uid": "m1"})
    theirs = world_with_owner(db, vendor, "conn-theirs", {"kind": "user", "uid": "x9"})
    for w in (theirs, org, theirs, mine, theirs):
        w.sync()
    everything = list_events(db, ADMIN, EventQuery(limit=200)).events
    assert len(everything) == 5
    seen, cursor = [], None
    while True:
        page = list_events(db, MEMBER, EventQuery(limit=1, cursor=cursor))
        seen += [e.connection_id for e in page.events]
        cursor = page.next_cursor
        if not page.more:
            break
    assert seen == ["conn-org", "conn-mine"]
    # polling with the last cursor finds nothing new until something happens
    assert list_events(db, MEMBER, EventQuery(cursor=cursor)).events == []
    org.sync()
    assert [e.connection_id for e in list_events(db, MEMBER, EventQuery(cursor=cursor)).events] == ["conn-org"]
    since = everything[-1].at
    assert [e.connection_id for e in list_events(db, ADMIN, EventQuery(since=since)).events][0] == "conn-theirs"


def test_events_list_newest_first_and_the_cursor_pages_back_in_time(db: Any) -> None:
    vendor = Vendor()
    org = world_with_owner(db, vendor, "conn-org", {"kind": "org"})
    theirs = world_with_owner(db, vendor, "conn-theirs", {"kind": "user", "uid": "x9"})
    for w in (org, theirs, org, theirs, org):
        w.sync()
    oldest_first = list_events(db, ADMIN, EventQuery(limit=200)).events
    newest_first = list_events(db, ADMIN, EventQuery(limit=200, order="desc")).events
    assert [e.id for e in newest_first] == [e.id for e in reversed(oldest_first)]
    seen, cursor = [], None
    while True:
        page = list_events(db, MEMBER, EventQuery(limit=2, cursor=cursor, order="desc"))
        seen += [e.id for e in page.events]
        cursor = page.next_cursor
        if not page.more:
            break
    assert seen == [e.id for e in reversed(oldest_first) if e.connection_id == "conn-org"]
    one = list_events(db, ADMIN, EventQuery(connection_id="conn-org", order="desc")).events
    assert [e.at for e in one] == sorted((e.at for e in one), reverse=True) and len(one) == 3
