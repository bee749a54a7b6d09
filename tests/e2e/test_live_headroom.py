"""A queue at its full share of the vendor's budget leaves no standing headroom for live
calls (proxy, actions, live reads): they book the connection's live budget in the store and
the sync gives way to what they booked, only when they happen (#16)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from shared.sync.budgets import StoreGate, gate_for
from shared.sync.worker import WorkerDeps, run_chunk
from shared.vendors.connector import Connector, Schedule
from shared.vendors.pagination import PageRequest
from shared.vendors.ratelimit import RateLimit
from tests.conftest import PROJECT
from tests.e2e.engine_world import World
from tests.e2e.test_engine import THINGS, PagedThings, item


@pytest.fixture()
def db(clean_firestore: str) -> Any:
    from google.cloud import firestore

    return firestore.Client(project=PROJECT)


def world_at(db: Any, share: float) -> World:
    connector = Connector(vendor="testvendor", title="Test vendor", docs_url="", streams=(THINGS,),
                          rate_limit=RateLimit(60, 60, queue_share=share), schedule=Schedule("0 5 * * *"))
    return World(db=db, connector=connector, handler=PagedThings([item(1)]))


def first_page_sleeps(w: World) -> list[float]:
    slept: list[float] = []
    w.plan()
    deps = replace(w.deps, sleep=slept.append)
    assert isinstance(deps, WorkerDeps)
    run_chunk(w.enqueued.pop(0), deps, last_attempt=False)
    return slept


def test_at_full_share_the_sync_yields_the_slots_live_calls_booked(db: Any) -> None:
    w = world_at(db, 1.0)
    gate = gate_for(db, w.connector, w.connection_id, live=True)
    assert isinstance(gate, StoreGate)
    for _ in range(5):  # five live calls at a request a second: booked 5 s ahead
        gate.book(PageRequest(path="/things/1"))
    slept = first_page_sleeps(w)
    assert len(slept) == 1 and 2 < slept[0] <= 5


def test_without_live_calls_the_sync_never_waits(db: Any) -> None:
    assert first_page_sleeps(world_at(db, 1.0)) == []


def test_a_queue_with_standing_headroom_books_nothing_for_live_calls(db: Any) -> None:
    w = world_at(db, 0.9)
    assert gate_for(db, w.connector, w.connection_id, live=True) is None
    assert first_page_sleeps(w) == []


def test_a_child_task_yields_too_before_its_batch(db: Any) -> None:
    """A child task reads a batch of parents (#16: 20 conversations a task): it gives way to
    the slots live calls booked before its first request, as a listing page does."""
    from tests.e2e.test_engine import NOTES

    things = PagedThings([item(1), item(2)])
    things.notes = {"1": [item("n1")], "2": [item("n2")]}
    connector = Connector(vendor="testvendor", title="Test vendor", docs_url="", streams=(THINGS, NOTES),
                          rate_limit=RateLimit(60, 60, queue_share=1.0), schedule=Schedule("0 5 * * *"))
    w = World(db=db, connector=connector, handler=things)
    w.plan()
    w.run(w.enqueued.pop(0))  # the parents' page queues their children's task
    child = next(t for t in w.enqueued if t.stream == "notes")
    gate = gate_for(db, w.connector, w.connection_id, live=True)
    assert isinstance(gate, StoreGate)
    for _ in range(5):
        gate.book(PageRequest(path="/things/1"))
    slept: list[float] = []
    deps = replace(w.deps, sleep=slept.append)
    assert run_chunk(child, deps, last_attempt=False).status == "done"
    assert len(slept) == 1 and 2 < slept[0] <= 5
