"""The engine's guarantees on the real Firestore emulator, with connectors declared here and
a scripted vendor: checkpoints, replays, leases, windows, child streams, newer-wins,
deletes, and the holes an outside review found (6a-6j of the engine issue)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from shared.errors import Conflict
from shared.store.records import Provenance, get_record
from shared.sync import ingest, planner, state
from shared.sync.models import ChunkTask, Counts
from shared.vendors.connector import Connector, RequestSpec, Schedule, Slice, Stream, Sweep, Windows
from shared.vendors.pagination import NextUrl, PageRequest, QueryCursor
from shared.vendors.ratelimit import RateLimit
from tests.conftest import PROJECT
from tests.e2e.engine_world import RawItem, World, json_page, map_item

CURSOR = QueryCursor("after", "next", "limit")


def _things(window: Slice) -> PageRequest:
    return PageRequest(path="/things", params={"since": int(window.since)} if window.since else {})


def _events(window: Slice) -> PageRequest:
    return PageRequest(path="/events", params={"start": int(window.since or 0), "end": int(window.until or 0)})


def _notes(window: Slice) -> PageRequest:
    return PageRequest(path=f"/things/{window.parent_id}/notes")


THINGS = Stream(name="things", full=RequestSpec(_things, CURSOR, "data"), incremental=RequestSpec(_things, CURSOR, "data"),
                raw_model=RawItem, mapper=map_item, page_size=2, lookback_s=10, deletes=Sweep())
NOTES = Stream(name="notes", full=RequestSpec(_notes, CURSOR, "data"), raw_model=RawItem, mapper=map_item, parent="things",
               child_batch=2)
DAY = 86_400.0
EVENTS = Stream(name="events", full=RequestSpec(_events, CURSOR, "data"), raw_model=RawItem, mapper=map_item,
                windows=Windows(backfill_s=40 * DAY, max_span_s=10 * DAY, result_cap=5, total_path="total",
                                min_span_s=DAY))
LINKS = Stream(name="links", full=RequestSpec(lambda _: PageRequest(path="/links"), NextUrl("next_url"), "data"),
               raw_model=RawItem, mapper=map_item, cursor_field=None)


def connector(*streams: Stream[Any]) -> Connector:
    return Connector(vendor="testvendor", title="Test vendor", docs_url="", rate_limit=RateLimit(600, 60),
                     streams=streams, schedule=Schedule("0 5 * * *"))


def item(i: int | str, updated: int = 1_700_000_000, **extra: Any) -> dict[str, Any]:
    return {"id": str(i), "updated_at": updated, **extra}


class PagedThings:
    """/things served from a mutable list, `limit` per page, cursor = index."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.notes: dict[str, list[dict[str, Any]]] = {}
        self.fail_paths: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        query = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        if request.url.path in self.fail_paths:
            return httpx.Response(400, json={"error": "no"})
        if request.url.path.endswith("/notes"):
            return json_page(self.notes.get(request.url.path.split("/")[2], []))
        since = int(query.get("since", 0))
        rows = [r for r in self.items if not isinstance(r.get("updated_at"), int) or r["updated_at"] > since]
        start, limit = int(query.get("after", 0)), int(query.get("limit", 100))
        nxt = str(start + limit) if start + limit < len(rows) else None
        return json_page(rows[start:start + limit], nxt)


@pytest.fixture()
def db(clean_firestore: str) -> Any:
    from google.cloud import firestore

    return firestore.Client(project=PROJECT)


def world(db: Any, handler: Any, *streams: Stream[Any]) -> World:
    return World(db=db, connector=connector(*(streams or (THINGS,))), handler=handler)


# -- checkpoints and replays ------------------------------------------------------------------


def test_a_full_sync_stores_every_record_once_and_moves_the_cursor(db: Any) -> None:
    vendor = PagedThings([item(i, 1_700_000_000 + i) for i in range(5)])
    w = world(db, vendor)
    run = w.sync()
    assert run.status.value == "succeeded"
    assert sorted(w.docs("things")) == ["0", "1", "2", "3", "4"]
    assert run.counts == Counts(fetched=5, written=5)
    assert state.hwms(db, w.connection_id)["things"] == 1_700_000_004
    assert state.connection_state(db, w.connection_id)["lease"] is None


def test_replayed_page_changes_nothing_and_reenqueues_its_continuation(db: Any) -> None:
    vendor = PagedThings([item(i) for i in range(3)])
    w = world(db, vendor)
    w.plan()
    first = w.enqueued.pop(0)
    assert w.run(first).status == "done"
    second = w.enqueued.pop(0)  # as if the continuation was lost in a crash after the commit
    assert w.run(first).status == "replay"
    assert len(w.requests) == 1  # the page was not fetched again
    assert w.enqueued == [second]
    w.drain()
    assert len(w.docs("things")) == 3


def test_invalid_records_go_to_dead_letters_and_are_counted(db: Any) -> None:
    w = world(db, PagedThings([item(1), {"id": "bad", "updated_at": "not a time"}, {"updated_at": 1}]))
    run = w.sync()
    assert run.counts.fetched == 3 and run.counts.written == 1 and run.counts.failed == 2
    letters = [d.to_dict() for d in db.collection("connections").document(w.connection_id).collection("dead_letters").stream()]
    assert len(letters) == 2
    assert any("updated_at" in r["reason"] for r in letters) and any("primary key" in r["reason"] for r in letters)
    assert run.status.value == "partial"


def test_an_expired_lease_lets_the_next_run_start_and_fails_the_dead_one(db: Any) -> None:
    w = world(db, PagedThings([item(1)]))
    dead = w.plan()
    with pytest.raises(Conflict):
        w.plan()
    later = state.utcnow() + timedelta(seconds=planner.LEASE_TTL_S + 1)
    fresh = w.plan(now=later)
    assert state.get_run(db, w.connection_id, dead.run_id).status.value == "failed"
    stale = next(t for t in w.enqueued if t.run_id == dead.run_id)
    assert w.run(stale).status == "stale"
    assert fresh.run_id != dead.run_id


def test_a_run_whose_first_pages_cannot_be_queued_ends_and_frees_its_lease(db: Any) -> None:
    from google.api_core.exceptions import ServiceUnavailable as TasksDown

    from shared.errors import ServiceUnavailable

    w = world(db, PagedThings([item(1)]))

    def broken(task: ChunkTask) -> bool:
        raise TasksDown("queue unreachable")

    with pytest.raises(ServiceUnavailable) as info:
        planner.plan_run(db, w.connector, broken, connection_id=w.connection_id, trigger="test")
    run = state.get_run(db, w.connection_id, info.value.details["run_id"])
    assert run.status.value == "failed" and {e.code for e in run.errors} == {"enqueue_failed"}
    assert state.connection_state(db, w.connection_id)["lease"] is None
    w.plan()  # not blocked


# -- holes found in review ----------------------------------------------------------------------


def test_6a_a_run_that_lost_its_lease_cannot_finish_late_or_free_its_successors_lease(db: Any) -> None:
    w = world(db, PagedThings([item(1)]))
    old = w.plan()
    old_task = w.enqueued.pop(0)
    later = state.utcnow() + timedelta(seconds=planner.LEASE_TTL_S + 1)
    new = w.plan(now=later)
    # The old run's worker wakes up late and tries to end its chain.
    assert state.fail_chain(db, old_task, "late", "late") is False
    assert w.run(old_task).status == "stale"
    assert state.get_run(db, w.connection_id, old.run_id).status.value == "failed"
    assert state.lease_of(state.connection_state(db, w.connection_id))["run_id"] == new.run_id
    with pytest.raises(Conflict):
        w.plan(now=later)  # a third run cannot start beside the second


def test_6a_the_lease_outlives_the_task_retry_horizon() -> None:
    from shared.sync.queues import MAX_ATTEMPTS, queue_spec

    spec = queue_spec(connector(THINGS))
    horizon, wait = 0.0, spec.min_backoff_seconds
    for _ in range(MAX_ATTEMPTS - 1):
        horizon += min(wait, spec.max_backoff_seconds)
        wait *= 2
    assert planner.LEASE_TTL_S > horizon + 300  # plus one attempt's run time


def test_6b_a_chain_is_complete_only_when_pages_0_to_last_are_all_committed(db: Any) -> None:
    w = world(db, PagedThings([]))
    run = w.plan()
    task = w.enqueued.pop(0)
    created = state.run_ref(db, w.connection_id, run.run_id).get().get("created_at")

    def commit(page: int, end: bool, cursor: float) -> None:
        t = task.model_copy(update={"page": page})
        assert state.commit_page(db, t, state.PageResult(Counts(fetched=1), None if end else {"after": "x"}, cursor))
        state.close_chain_if_complete(db, t, lookback_s=0, run_created=created)

    commit(0, False, 10.0)
    commit(3, False, 40.0)
    commit(4, True, 50.0)  # one pipelined branch ended at 4
    commit(2, True, 30.0)  # a retry of page 2 saw an earlier end: last becomes 2, set once
    chain = state.chain_ref(db, w.connection_id, run.run_id, task.chain_id).get().to_dict()
    assert chain["last_page"] == 2 and not chain["done"]  # page 1 is missing: not complete
    assert "things" not in state.hwms(db, w.connection_id)
    commit(1, False, 20.0)
    chain = state.chain_ref(db, w.connection_id, run.run_id, task.chain_id).get().to_dict()
    assert chain["done"]
    assert state.hwms(db, w.connection_id)["things"] == 30.0  # pages after last do not move the cursor


def test_6c_a_record_the_mapper_cannot_map_is_dead_lettered_not_a_stalled_stream(db: Any) -> None:
    def exploding(raw: RawItem) -> dict[str, Any]:
        if raw.id == "boom":
            raise ValueError("year 55000 is out of range")
        if raw.id == "3":
            return {**map_item(raw), "tags": {"a", "b"}}  # a set: cannot be hashed or stored
        return map_item(raw)

    stream = Stream(name="things", full=RequestSpec(_things, CURSOR, "data"), raw_model=RawItem, mapper=exploding)
    w = world(db, PagedThings([item(1), item("boom"), item(3)]), stream)
    run = w.sync()
    assert run.status.value == "partial"
    assert run.counts == Counts(fetched=3, written=1, failed=2)
    reasons = sorted(d.get("reason") for d in db.collection("connections").document(w.connection_id)
                     .collection("dead_letters").stream())
    assert any("out of range" in r for r in reasons)
    assert state.hwms(db, w.connection_id)["things"] == 1_700_000_000  # the cursor moved past the bad records


def test_6c_the_last_attempt_fails_the_chain_for_any_error_and_the_run_ends(db: Any, monkeypatch: Any) -> None:
    w = world(db, PagedThings([item(1)]))
    run = w.plan()
    task = w.enqueued.pop(0)

    def broken_store(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the store is broken in a way nobody foresaw")

    monkeypatch.setattr("shared.sync.worker.ingest", broken_store)
    with pytest.raises(RuntimeError):
        w.run(task, last_attempt=False)  # not the last attempt: Cloud Tasks retries it
    assert w.run(task, last_attempt=True).status == "failed"
    final = state.get_run(db, w.connection_id, run.run_id)
    assert final.status.value == "failed" and final.errors[0].code == "internal"
    assert state.connection_state(db, w.connection_id)["lease"] is None


def test_6c_dead_letters_can_be_redriven_after_a_fix(db: Any) -> None:
    from shared.sync.redrive import redrive

    broken = {"fixed": False}

    def sometimes(raw: RawItem) -> dict[str, Any]:
        if raw.id == "2" and not broken["fixed"]:
            raise KeyError("name")
        return map_item(raw)

    stream = Stream(name="things", full=RequestSpec(_things, CURSOR, "data"), raw_model=RawItem, mapper=sometimes)
    w = world(db, PagedThings([item(1), item(2)]), stream)
    w.sync()
    assert sorted(w.docs("things")) == ["1"]
    broken["fixed"] = True
    result = redrive(db, w.connector, w.connection_id, request_id="req-1")
    assert (result.attempted, result.stored, result.still_failing) == (1, 1, 0)
    assert sorted(w.docs("things")) == ["1", "2"]
    assert w.docs("things")["2"]["_sync"]["source"]["kind"] == "redrive"
    assert list(db.collection("connections").document(w.connection_id).collection("dead_letters").stream()) == []


def test_6d_a_task_cannot_carry_a_host_or_an_absolute_url(db: Any) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):  # the old task shape with a request is refused
        ChunkTask.model_validate({"connection_id": "c", "run_id": "r", "stream": "things", "page": 0,
                                  "request": {"path": "http://127.0.0.1:9999/steal"}})

    def vendor(request: httpx.Request) -> httpx.Response:
        return json_page([item(1)], next_url="/links?page=2") if request.url.params.get("page") is None else json_page([])

    w = world(db, vendor, LINKS)
    run = w.plan()
    task = w.enqueued.pop(0)
    evil = task.model_copy(update={"page": 1, "cursor": {"path": "http://127.0.0.1:9999/steal", "params": {}}})
    assert w.run(evil, last_attempt=False).status == "failed"
    assert all(r.url.host == "vendor.test" for r in w.requests)
    assert {e.code for e in state.get_run(db, w.connection_id, run.run_id).errors} == {"invalid_task"}


def test_6e_contention_is_recognised_by_type_not_message() -> None:
    from google.api_core.exceptions import Aborted

    from shared.store.txn import Contention, is_contention

    exhausted = ValueError("anything at all")
    exhausted.__cause__ = Aborted("lost")
    assert is_contention(exhausted)
    assert is_contention(Contention())
    assert not is_contention(ValueError("Failed to commit transaction in 10 attempts."))


def test_6f_a_record_seen_on_two_pages_is_written_once(db: Any) -> None:
    pages = [json_page([item(1), item(2)], "p2"), json_page([item(2), item(3)])]

    def vendor(request: httpx.Request) -> httpx.Response:
        return pages[1] if request.url.params.get("after") == "p2" else pages[0]

    w = world(db, vendor)
    run = w.sync()
    c = run.counts
    assert c.fetched == 4 and c.written == 3 and c.unchanged == 1
    assert c.fetched == c.written + c.unchanged + c.failed


def test_6i_concurrent_starts_one_wins_the_others_conflict(db: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    w = world(db, PagedThings([item(1)]))

    def start(_: int) -> str:
        try:
            w.plan()
            return "started"
        except Conflict:
            return "conflict"

    with ThreadPoolExecutor(5) as pool:
        outcomes = sorted(pool.map(start, range(5)))
    assert outcomes == ["conflict"] * 4 + ["started"]


def test_6h_a_run_whose_tasks_were_lost_is_resumed_and_finishes(db: Any) -> None:
    w = world(db, PagedThings([item(i) for i in range(5)]))
    run = w.plan()
    w.run(w.enqueued.pop(0))
    w.enqueued.clear()  # Cloud Tasks lost every task of the run
    report = planner.recover(db, w.connector, w.enqueue, w.connection_id, stall_after_s=0)
    assert report.action == "resumed" and report.chains == 1
    w.drain()
    final = state.get_run(db, w.connection_id, run.run_id)
    assert final.status.value == "succeeded" and final.counts.written == 5


def test_6h_an_expired_lease_is_failed_by_the_doctor_without_a_new_run(db: Any) -> None:
    w = world(db, PagedThings([item(1)]))
    run = w.plan()
    later = state.utcnow() + timedelta(seconds=planner.LEASE_TTL_S + 1)
    assert planner.recover(db, w.connector, w.enqueue, w.connection_id, now=later).action == "failed_expired"
    assert state.get_run(db, w.connection_id, run.run_id).status.value == "failed"
    assert state.connection_state(db, w.connection_id)["lease"] is None


# -- incremental, newer wins, deletes --------------------------------------------------------------


def test_an_incremental_run_reads_only_changes_and_writes_nothing_unchanged(db: Any) -> None:
    vendor = PagedThings([item(i, 1_700_000_000 + i) for i in range(4)])
    w = world(db, vendor)
    w.sync()
    vendor.items[1] = item(1, 1_700_000_100, name="changed")
    run = w.sync()
    assert run.streams["things"].mode == "incremental"
    assert run.counts.written == 1
    assert w.docs("things")["1"]["name"] == "changed"
    noop = w.sync()
    assert noop.counts.written == 0


def test_a_stale_write_never_replaces_a_newer_version(db: Any) -> None:
    w = world(db, PagedThings([item(1, 1_700_000_000, name="old")]))
    webhook = Provenance("webhook", "delivery-1")
    ingest.ingest(db, w.connection_id, THINGS, [item(1, 1_700_000_500, name="newer")], webhook)
    w.sync()  # the sync page carries the older version
    doc = w.docs("things")["1"]
    assert doc["name"] == "newer" and doc["_sync"]["source"]["kind"] == "webhook"
    ingest.ingest(db, w.connection_id, THINGS, [item(1, 1_700_000_400, name="late event")], Provenance("webhook", "d2"))
    assert w.docs("things")["1"]["name"] == "newer"


def test_a_sweep_after_a_complete_full_pass_tombstones_what_the_vendor_deleted(db: Any) -> None:
    vendor = PagedThings([item(i) for i in range(5)])
    w = world(db, vendor)
    w.sync()
    del vendor.items[2]
    run = w.sync(mode="full")
    assert run.status.value == "succeeded"
    assert sorted(w.docs("things")) == ["0", "1", "3", "4"]
    tomb = w.docs("things", include_deleted=True)["2"]
    assert tomb["_deleted"] is True and tomb["_expires_at"] is not None
    assert get_record(db, w.connection_id, "things", "2") is None
    assert get_record(db, w.connection_id, "things", "2", include_deleted=True) is not None


def _sweep_keys(db: Any, w: World, run_id: str) -> list[str]:
    from shared.sync import state

    chains = state.run_ref(db, w.connection_id, run_id).collection("chains").stream()
    return sorted(k for chain in chains for page in chain.reference.collection("pages").stream()
                  for k in page.get("keys") or [])


def test_a_first_import_holds_no_keys_for_the_sweep_and_a_no_change_pass_spares_everything(db: Any) -> None:
    """Pages keep only the keys a full pass saw without writing (the sweep recognises what the
    run wrote by its provenance): a first import keeps none; a no-change pass keeps them all."""
    vendor = PagedThings([item(i) for i in range(5)])
    w = world(db, vendor)
    first = w.sync(mode="full")
    assert _sweep_keys(db, w, first.run_id) == []
    again = w.sync(mode="full")
    assert again.status.value == "succeeded"
    assert _sweep_keys(db, w, again.run_id) == ["0", "1", "2", "3", "4"]
    assert sorted(w.docs("things")) == ["0", "1", "2", "3", "4"]


def test_the_sweep_spares_what_its_own_run_wrote_whatever_the_clocks_say(db: Any) -> None:
    """A record this pass wrote is not a sweep candidate even if the writer's clock ran behind
    the run's creation (its `synced_at` earlier than the pass's start)."""
    from datetime import timedelta

    from shared.store.records import Incoming, Provenance, upsert
    from shared.sync.finish import sweep

    vendor = PagedThings([item(i) for i in range(3)])
    w = world(db, vendor)
    run = w.sync(mode="full")
    from shared.sync import state

    created = state.run_ref(db, w.connection_id, run.run_id).get().to_dict()["created_at"]
    behind = Provenance("sync", run.run_id, unit="late/0", at=created - timedelta(minutes=5))
    upsert(db, w.connection_id, "things", [Incoming("9", {"id": "9", "name": "late"}, version=2e9)], behind)
    assert sweep(db, w.connector, w.connection_id, run.run_id, "things", created) == 0
    assert sorted(w.docs("things")) == ["0", "1", "2", "9"]


def test_a_failed_full_pass_sweeps_nothing(db: Any) -> None:
    vendor = PagedThings([item(i) for i in range(5)])
    w = world(db, vendor)
    w.sync()
    vendor.items = vendor.items[:2]
    vendor.fail_paths.add("/things")
    w.sync(mode="full")
    assert len(w.docs("things")) == 5


# -- windows -------------------------------------------------------------------------------------------


class Events:
    def __init__(self, count_per_window: int = 2, failing_window: int | None = None, total: int | None = None) -> None:
        self.count = count_per_window
        self.failing = failing_window
        self.total = total
        self.windows: list[tuple[int, int]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        start, end = int(request.url.params["start"]), int(request.url.params["end"])
        self.windows.append((start, end))
        index = len(sorted(set(self.windows)))
        if self.failing is not None and sorted(set(self.windows)).index((start, end)) == self.failing:
            return httpx.Response(422, json={"error": "window refused"})
        rows = [item(f"{start}-{i}", start + i) for i in range(self.count)]
        total = self.total if self.total is not None and end - start > 5 * DAY else len(rows)
        return json_page(rows, total=total, index=index)


def test_a_windowed_backfill_fans_out_as_parallel_chains(db: Any) -> None:
    vendor = Events()
    w = world(db, vendor, EVENTS)
    run = w.plan()
    assert len(w.enqueued) == 4  # 40 days of backfill in 10-day windows, all queued at once
    w.drain()
    final = state.get_run(db, w.connection_id, run.run_id)
    assert final.status.value == "succeeded" and len(w.docs("events")) == 8
    assert max(end - start for start, end in vendor.windows) <= 10 * DAY
    # the end of the windows, capped by the newest updated_at they saw (the vendor's clock)
    assert state.hwms(db, w.connection_id)["events"] == max(start for start, _ in vendor.windows) + 1


def test_a_windowed_cursor_stops_before_a_window_that_failed(db: Any) -> None:
    w = world(db, Events(), EVENTS)
    w.plan()
    first_three = sorted(w.enqueued, key=lambda t: t.partition)
    w.enqueued.clear()
    # Windows 0 and 2 succeed, window 1 fails for good, window 3 succeeds.
    for n, task in enumerate(first_three):
        if n == 1:
            state.fail_chain(db, task, "vendor_rejected", "no")
        else:
            w.run(task)
    chains = {c.id: c.to_dict() for c in state.run_ref(db, w.connection_id, first_three[0].run_id).collection("chains").stream()}
    first = chains[first_three[0].chain_id]
    # not past the first window (nor past the newest record it saw, 1 s after its start)
    assert state.hwms(db, w.connection_id)["events"] == min(first["until"], int(first["since"]) + 1)


def test_a_window_that_reaches_the_result_cap_splits_mid_run(db: Any) -> None:
    vendor = Events(total=5)  # windows wider than 5 days report 5 results: the cap
    w = world(db, vendor, EVENTS)
    run = w.plan()
    w.drain()
    final = state.get_run(db, w.connection_id, run.run_id)
    assert final.status.value == "succeeded"
    assert final.chains_total > 4  # halves were added to the running run
    assert all(end - start <= 5 * DAY + 1 for start, end in vendor.windows[-4:])


# -- child streams ------------------------------------------------------------------------------------


def test_a_child_stream_is_fetched_only_for_changed_parents_in_batches(db: Any) -> None:
    vendor = PagedThings([item(i, 1_700_000_000 + i) for i in range(3)])
    vendor.notes = {str(i): [item(f"n{i}", 1_700_000_000)] for i in range(3)}
    w = world(db, vendor, THINGS, NOTES)
    w.sync()
    assert sorted(w.docs("notes")) == ["0:n0", "1:n1", "2:n2"]  # composite keys
    note_calls = [r for r in w.requests if r.url.path.endswith("/notes")]
    assert len(note_calls) == 3
    w.requests.clear()
    vendor.items[1] = item(1, 1_700_000_500, name="changed")
    vendor.notes["1"].append(item("n1b", 1_700_000_500))
    w.sync()
    assert [r.url.path for r in w.requests if r.url.path.endswith("/notes")] == ["/things/1/notes"]
    assert "1:n1b" in w.docs("notes")
    w.requests.clear()
    w.sync()
    assert not [r for r in w.requests if r.url.path.endswith("/notes")]  # nothing changed: no child fetch


def test_children_are_queued_while_their_parents_page_is_stored_not_after(db: Any) -> None:
    """#16: a vendor-bound run's budget idled for its first seconds while the first parent
    pages were stored, because their children were queued only after. The parents this page
    creates or changes are announced once decided, before their commit."""
    vendor = PagedThings([item(i, 1_700_000_000 + i, name=f"thing-{i}") for i in range(3)])
    vendor.notes = {str(i): [item(f"n{i}", 1_700_000_000)] for i in range(3)}
    w = world(db, vendor, THINGS, NOTES)
    queue = w.enqueue
    stored_when_queued: list[Any] = []

    def enqueue(task: ChunkTask) -> bool:
        if task.stream == "notes":
            chain = state.chain_ref(db, w.connection_id, task.run_id, task.chain_id).get().to_dict() or {}
            things = w.docs("things")
            stored_when_queued.extend((things.get(p) or {}).get("name") for p in chain["parent_ids"])
        return queue(task)

    w.enqueue = enqueue  # type: ignore[method-assign]
    run = w.sync()
    assert run.status.value == "succeeded" and sorted(w.docs("notes")) == ["0:n0", "1:n1", "2:n2"]
    assert stored_when_queued == [None, None, None]  # not stored yet when their children were queued
    stored_when_queued.clear()
    vendor.items[1] = item(1, 1_700_000_500, name="changed")
    w.sync()
    assert stored_when_queued == ["thing-1"]  # its old version was still the stored one
    assert w.docs("things")["1"]["name"] == "changed"


def test_a_replay_whose_page_changed_still_reads_the_children_of_every_parent(db: Any, monkeypatch: Any) -> None:
    """A page that died after queueing its children and before its checkpoint is fetched
    again, and the vendor's listing may have moved meanwhile. Child chains were named by
    their place on the page, so the replay's new parent took the name of one queued before
    and its children were never read; a chain is now named by its parents (one parent a
    task here, so that each parent's chain can be counted)."""
    vendor = PagedThings([item(i, 1_700_000_000 + i) for i in range(2)])
    vendor.notes = {str(i): [item(f"n{i}", 1_700_000_000)] for i in range(3)}
    w = world(db, vendor, THINGS, replace(NOTES, child_batch=1))
    run = w.plan()
    first = w.enqueued.pop(0)
    died: list[bool] = []

    def die_once(real: Any) -> Any:
        def commit(*args: Any, **kwargs: Any) -> Any:
            if not died:
                died.append(True)
                raise RuntimeError("the worker died before the checkpoint")
            return real(*args, **kwargs)
        return commit

    # a one-page chain commits its checkpoint and its close at once (commit_only_page)
    for name in ("commit_page", "commit_only_page"):
        monkeypatch.setattr(state, name, die_once(getattr(state, name)))
    with pytest.raises(RuntimeError):
        w.run(first)
    vendor.items = [item(2, 1_700_000_002), *vendor.items]  # a new thing tops the listing
    w.run(first)  # Cloud Tasks' retry
    w.drain()
    final = state.get_run(db, w.connection_id, run.run_id)
    assert final.status.value == "succeeded"
    assert sorted(w.docs("notes")) == ["0:n0", "1:n1", "2:n2"]
    assert final.streams["notes"].chains_total == 3  # one per parent: none twice


def test_a_run_whose_parents_all_failed_is_failed_not_partial_for_an_idle_child(db: Any) -> None:
    vendor = PagedThings([item(i) for i in range(3)])
    vendor.fail_paths = {"/things"}
    run = world(db, vendor, THINGS, NOTES).sync()
    assert run.streams["things"].status == "failed" and run.streams["notes"].chains_total == 0
    assert run.status.value == "failed"


def test_planning_hundreds_of_windows_stays_under_the_commit_limit(db: Any) -> None:
    many = Stream(name="events", full=RequestSpec(_events, CURSOR, "data"), raw_model=RawItem, mapper=map_item,
                  windows=Windows(backfill_s=600 * DAY, max_span_s=DAY))
    w = world(db, Events(), many)
    run = w.plan()
    assert len(w.enqueued) == 600
    chains = state.run_ref(db, w.connection_id, run.run_id).collection("chains").count().get()[0][0].value
    assert chains == 600
    assert state.run_ref(db, w.connection_id, run.run_id).get().get("chains_total") == 600


class Scroll:
    """An Intercom-like scroll: one open at a time, the position is the vendor's (reading a
    page moves it; the param stays the same), it may expire mid-way (404), and the page
    after the last ends it. Opening a second one while one is open is refused, and the open
    one then expires, as a minute passes before the retry comes back."""

    def __init__(self, items: list[dict[str, Any]], expire_at_page: int | None = None, busy_first: int = 0) -> None:
        self.items, self.expire_at, self.busy = items, expire_at_page, busy_first
        self.opened = 0
        self.param: str | None = None  # the open scroll's
        self.position = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        busy = httpx.Response(400, json={"errors": [{"code": "bad_request", "message": "scroll already exists"}]})
        if self.busy:
            self.busy -= 1
            return busy
        param = request.url.params.get("scroll_param")
        if param is None:
            if self.param is not None:
                self.param = None
                return busy
            self.opened += 1
            self.param, self.position = f"s{self.opened}", 0
        elif param != self.param or (self.expire_at is not None and self.position // 2 == self.expire_at):
            self.expire_at = self.param = None
            return httpx.Response(404, json={"errors": [{"code": "not_found", "message": "scroll expired"}]})
        rows = self.items[self.position:self.position + 2]
        self.position += len(rows)
        answer = json_page(rows, scroll_param=self.param)
        if not rows:
            self.param = None  # the end of the scroll
        return answer


def _scroll_stream() -> Stream[Any]:
    spec = RequestSpec(lambda _: PageRequest(path="/scroll"), QueryCursor("scroll_param", "scroll_param"), "data",
                       restart_statuses=frozenset({404}), busy=lambda status, text: status == 400 and "already" in text,
                       scroll_idle_s=60.0)
    return Stream(name="things", full=spec, raw_model=RawItem, mapper=map_item, deletes=Sweep())


def test_an_expired_scroll_restarts_the_listing_and_loses_nothing(db: Any) -> None:
    vendor = Scroll([item(i) for i in range(7)], expire_at_page=2)
    w = world(db, vendor, _scroll_stream())
    run = w.sync()
    assert run.status.value == "succeeded"
    assert sorted(w.docs("things")) == [str(i) for i in range(7)]
    assert vendor.opened == 2  # the second scroll started from the top
    assert run.counts.written == 7 and run.counts.fetched == run.counts.written + run.counts.unchanged


def test_a_scroll_is_read_page_after_page_by_one_task(db: Any) -> None:
    """A scroll expires after a minute unused: its next page must not wait in the queue,
    where a run's child tasks queued before it outlived the scroll (the console's sync
    fetched 110 of 60 companies)."""
    vendor = Scroll([item(i) for i in range(7)])
    w = world(db, vendor, _scroll_stream())
    w.plan("full")
    outcome = w.run(w.enqueued.pop(0))
    assert outcome.status == "done" and outcome.counts.fetched == 7
    assert [t.page for t in w.enqueued if t.page > 0] == []  # no continuation queued (the sweep is page 0)
    assert sorted(w.docs("things")) == [str(i) for i in range(7)] and vendor.opened == 1


def test_a_scroll_page_read_by_a_task_that_died_is_listed_again_not_skipped(db: Any, monkeypatch: Any) -> None:
    """The scroll moved past the page the dead attempt read: sending its param again would
    return the next page and lose that one, so the retry lists again from the top."""
    from shared.sync.worker import RetryLater

    vendor = Scroll([item(i) for i in range(7)])
    w = world(db, vendor, _scroll_stream())
    real = state.commit_page
    died: list[int] = []

    def commit_page(db: Any, task: ChunkTask, *args: Any, **kwargs: Any) -> Any:
        if task.page == 1 and not died:
            died.append(task.page)
            raise RuntimeError("the worker died after reading page 1")
        return real(db, task, *args, **kwargs)

    monkeypatch.setattr(state, "commit_page", commit_page)
    run = w.plan("full")
    while w.enqueued:  # as Cloud Tasks delivers: a task that fails is retried, counted
        task = w.enqueued.pop(0)
        for attempt in range(5):
            try:
                w.run(task, retried=attempt > 0)
                break
            except (RetryLater, RuntimeError):
                continue
    assert died == [1]
    final = state.get_run(db, w.connection_id, run.run_id)
    assert final.status.value == "succeeded"
    assert sorted(w.docs("things")) == [str(i) for i in range(7)]
    assert vendor.opened == 2
    # what the dead page stored counts as written once, when the listing reaches it again
    assert final.counts.written == 7, final.counts


def test_a_scroll_already_open_elsewhere_is_retried_not_failed(db: Any) -> None:
    w = world(db, Scroll([item(i) for i in range(3)], busy_first=1), _scroll_stream())
    run = w.sync()
    assert run.status.value == "succeeded" and len(w.docs("things")) == 3


# -- the circuit breaker ------------------------------------------------------------------------


def test_a_probe_the_vendor_answers_with_a_refusal_closes_the_breaker(db: Any) -> None:
    """A probe whose call the vendor answered (a 404 here; a 429 the client's retries did
    not outlast) shows the vendor is up. It held the breaker half-open for the probe's
    240-s lease, every other chunk of the connection waiting on it."""
    from shared.connections import breaker

    w = world(db, lambda request: httpx.Response(404, json={"error": "not found"}))
    w.plan("full")
    now = breaker.utcnow()
    cooled = breaker.BreakerState(state="open", failures=5, trips=1, opened_at=now - timedelta(seconds=60),
                                  until=now - timedelta(seconds=1), last_failure="vendor_unavailable: 503")
    ref = db.collection("connections").document(w.connection_id)
    ref.update({"breaker": cooled.model_dump(mode="python")})
    assert w.run(w.enqueued.pop(0)).status == "failed"  # the refusal ends the chain
    assert breaker.of(ref.get().to_dict()).state == "closed"


def test_a_chunk_the_breaker_defers_on_its_last_attempt_fails_its_chain_instead_of_vanishing(db: Any) -> None:
    """When a chunk cannot be deferred by a new task (no schedule time, or the chain's
    generations are spent) it is handed back to Cloud Tasks' retry; on the last attempt that
    must end the chain (recorded, the run finishes), not escape as a retry Cloud Tasks then
    drops, leaving the run running until its lease expires."""
    from dataclasses import replace

    from shared.connections.breaker import BreakerPolicy
    from shared.sync.worker import run_chunk

    w = world(db, lambda request: httpx.Response(503, json={"error": "down"}))
    run = w.plan("full")
    deps = replace(w.deps, breaker_policy=BreakerPolicy(threshold=1))
    outcome = run_chunk(w.enqueued.pop(0), deps, last_attempt=True)
    assert outcome.status == "failed"
    ended = state.get_run(db, w.connection_id, run.run_id)
    assert ended.status.value == "failed", ended
