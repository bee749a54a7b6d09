"""Chains closing together, and sweeps, on the real Firestore emulator (#16: no-op runs
without a tail). Closing a chain took a transaction that read the connection (and, for a
window, its stream) and wrote the run: chains closing at once queued on those locks, gave
up after their retries and were handed back to Cloud Tasks with backoff (runs of 24-27 s
instead of 2). And every sweep ran one after another after the last chain closed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from shared.sync import state
from shared.vendors.connector import RequestSpec, Stream, Windows
from tests.conftest import PROJECT
from tests.e2e.engine_world import RawItem, map_item
from tests.e2e.test_engine import CURSOR, DAY, THINGS, Events, PagedThings, _events, _things, item, world

MANY_WINDOWS = Stream(name="events", full=RequestSpec(_events, CURSOR, "data"), raw_model=RawItem, mapper=map_item,
                      windows=Windows(backfill_s=24 * DAY, max_span_s=DAY))
OTHERS = Stream(name="others", full=RequestSpec(_things, CURSOR, "data"), raw_model=RawItem, mapper=map_item, page_size=2)


@pytest.fixture()
def db(clean_firestore: str) -> Any:
    from google.cloud import firestore

    return firestore.Client(project=PROJECT)


def test_windows_closing_at_once_all_close_on_their_first_attempt(db: Any) -> None:
    w = world(db, Events(), MANY_WINDOWS)
    run = w.plan()
    tasks, w.enqueued = list(w.enqueued), []
    assert len(tasks) == 24
    with ThreadPoolExecutor(12) as pool:  # no RetryLater ("Firestore is busy") may escape
        outcomes = list(pool.map(lambda t: w.run(t, last_attempt=False), tasks))
    assert {o.status for o in outcomes} == {"done"}
    final = state.get_run(db, w.connection_id, run.run_id)
    assert final.status.value == "succeeded" and final.streams["events"].chains_closed == 24
    assert final.counts.written == 48
    starts = [c.get("since") for c in state.run_ref(db, w.connection_id, run.run_id).collection("chains").stream()]
    # every window done: the newest updated_at seen (the last window's start + 1), never moved back
    assert state.hwms(db, w.connection_id)["events"] == int(max(s for s in starts if s is not None)) + 1


def test_a_stream_sweeps_as_soon_as_its_own_chains_close(db: Any) -> None:
    vendor = PagedThings([item(i) for i in range(3)])
    w = world(db, vendor, THINGS, OTHERS)
    w.sync()
    del vendor.items[2]
    run = w.plan(mode="full")
    others = [t for t in w.enqueued if t.stream == "others"]
    w.enqueued = [t for t in w.enqueued if t.stream == "things"]
    w.drain()  # every page of things, then its sweep: the other stream has not started
    assert state.get_run(db, w.connection_id, run.run_id).status.value == "running"
    assert sorted(w.docs("things")) == ["0", "1"]  # "2" is gone already
    w.enqueued = others
    w.drain()
    final = state.get_run(db, w.connection_id, run.run_id)
    assert final.status.value == "succeeded" and final.streams["things"].status == "succeeded"
    assert state.cursors(db, w.connection_id)["things"]["last_full_run"] == run.run_id
