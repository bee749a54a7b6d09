"""The worker's guarantees on the real Firestore emulator, with a scripted vendor
(httpx MockTransport) and enqueued continuations collected in a list: the honest unit
is 'one chunk against real storage'."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.sync import planner, state
from shared.sync.models import ChunkTask
from shared.sync.worker import RetryLater, WorkerDeps, run_chunk
from shared.vendors.http import VendorClient
from shared.vendors.intercom.connector import CONNECTOR, IntercomSettings
from tests.conftest import PROJECT


def contact(i: int, updated: int = 1_700_000_000) -> dict[str, Any]:
    return {"type": "contact", "id": f"c{i}", "role": "user", "email": f"u{i}@x.com", "name": f"U {i}",
            "created_at": updated - 100, "updated_at": updated + i, "custom_attributes": {}}


class ScriptedIntercom:
    """Answers /contacts pages from a list; counts calls."""

    def __init__(self, pages: list[Any]) -> None:
        self.pages = pages
        self.calls = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/contacts":
            return httpx.Response(200, json={"type": "list", "data": [], "pages": {}})
        item = self.pages[min(self.calls, len(self.pages) - 1)]
        self.calls += 1
        return item if isinstance(item, httpx.Response) else httpx.Response(200, json=item)


def page(records: list[dict[str, Any]], next_cursor: str | None) -> dict[str, Any]:
    pages: dict[str, Any] = {"type": "pages"}
    if next_cursor:
        pages["next"] = {"starting_after": next_cursor}
    return {"type": "list", "data": records, "pages": pages}


@pytest.fixture()
def world(clean_firestore: str) -> Any:
    from google.cloud import firestore

    db = firestore.Client(project=PROJECT)
    enqueued: list[ChunkTask] = []

    def make(vendor_pages: list[Any]) -> tuple[WorkerDeps, ScriptedIntercom]:
        vendor = ScriptedIntercom(vendor_pages)

        def client_for(connector: Any) -> VendorClient:
            return VendorClient(connector, IntercomSettings(base_url="https://intercom.test", access_token="t"),
                                transport=httpx.MockTransport(vendor.handler), sleep=lambda s: None)

        def enqueue(task: ChunkTask) -> bool:
            if any(t.model_dump() == task.model_dump() for t in enqueued):
                return False
            enqueued.append(task)
            return True

        return WorkerDeps(db=db, enqueue=enqueue, client_for=client_for, lease_ttl_s=900), vendor

    return db, enqueued, make


def contacts_task(enqueued: list[ChunkTask]) -> ChunkTask:
    return next(t for t in enqueued if t.stream == "contacts")


def test_replayed_page_changes_nothing_and_reenqueues_its_continuation(world: Any) -> None:
    db, enqueued, make = world
    deps, vendor = make([page([contact(1), contact(2)], "cur-2"), page([contact(3)], None)])
    run = planner.plan_run(db, CONNECTOR, deps.enqueue, connection_id="intercom", trigger="test")
    first = contacts_task(enqueued)

    outcome = run_chunk(first, CONNECTOR, deps, last_attempt=False)
    assert outcome.status == "done" and outcome.counts.written == 2 and outcome.next_page == 1
    second = enqueued[-1]
    assert second.page == 1 and second.request.params["starting_after"] == "cur-2"

    enqueued.remove(second)  # as if the continuation was lost in a crash after the commit
    replay = run_chunk(first, CONNECTOR, deps, last_attempt=False)
    assert replay.status == "replay"
    assert vendor.calls == 1  # the page was not fetched again
    assert enqueued[-1].model_dump() == second.model_dump()

    assert run_chunk(second, CONNECTOR, deps, last_attempt=False).status == "done"
    assert run_chunk(second, CONNECTOR, deps, last_attempt=False).status == "replay"
    chain = state.load_chain(db, second)
    assert chain is not None and chain.done
    assert state.get_run(db, "intercom", run.run_id).streams["contacts"].counts.written == 3


def test_invalid_records_go_to_dead_letters_and_are_counted(world: Any) -> None:
    db, enqueued, make = world
    broken = {"type": "contact", "id": "bad-1", "role": "user", "created_at": "yesterday", "updated_at": 5}
    deps, _ = make([page([contact(1), broken, {"type": "contact", "role": "user"}], None)])
    planner.plan_run(db, CONNECTOR, deps.enqueue, connection_id="intercom", trigger="test")
    outcome = run_chunk(contacts_task(enqueued), CONNECTOR, deps, last_attempt=False)
    assert outcome.counts.fetched == 3 and outcome.counts.written == 1 and outcome.counts.failed == 2
    letters = [d.to_dict() for d in db.collection("connections").document("intercom").collection("dead_letters").stream()]
    reasons = sorted(letter["reason"] for letter in letters)
    assert len(letters) == 2
    assert any("created_at" in r for r in reasons) and any("primary key" in r for r in reasons)


def test_transient_failure_does_not_move_the_checkpoint(world: Any) -> None:
    db, enqueued, make = world
    deps, vendor = make([httpx.Response(503)] * CONNECTOR.retry.max_attempts + [page([contact(1)], None)])
    planner.plan_run(db, CONNECTOR, deps.enqueue, connection_id="intercom", trigger="test")
    task = contacts_task(enqueued)
    with pytest.raises(RetryLater):
        run_chunk(task, CONNECTOR, deps, last_attempt=False)
    chain = state.load_chain(db, task)
    assert chain is not None and not chain.committed and not chain.done
    assert run_chunk(task, CONNECTOR, deps, last_attempt=False).status == "done"


def test_last_attempt_fails_the_chain_and_the_run_records_it(world: Any) -> None:
    db, enqueued, make = world
    deps, _ = make([httpx.Response(503)])
    run = planner.plan_run(db, CONNECTOR, deps.enqueue, connection_id="intercom", trigger="test")
    outcome = run_chunk(contacts_task(enqueued), CONNECTOR, deps, last_attempt=True)
    assert outcome.status == "failed"
    for task in [t for t in enqueued if t.stream != "contacts" and t.page == 0]:
        run_chunk(task, CONNECTOR, deps, last_attempt=False)
    final = state.get_run(db, "intercom", run.run_id)
    assert final.status.value == "partial"
    assert final.errors[0].stream == "contacts" and final.errors[0].code == "vendor_unavailable"
    assert "contacts" not in state.cursors(db, "intercom")  # its cursor did not move
    assert state.connection_state(db, "intercom")["lease"] is None


def test_an_expired_lease_lets_the_next_run_start_and_fails_the_dead_one(world: Any) -> None:
    from datetime import timedelta

    from shared.errors import Conflict

    db, enqueued, make = world
    deps, _ = make([page([contact(1)], None)])
    dead = planner.plan_run(db, CONNECTOR, deps.enqueue, connection_id="intercom", trigger="test")
    with pytest.raises(Conflict):
        planner.plan_run(db, CONNECTOR, deps.enqueue, connection_id="intercom", trigger="test")
    later = state.utcnow() + timedelta(seconds=planner.LEASE_TTL_S + 1)
    fresh = planner.plan_run(db, CONNECTOR, deps.enqueue, connection_id="intercom", trigger="test", now=later)
    assert fresh.run_id != dead.run_id
    assert state.get_run(db, "intercom", dead.run_id).status.value == "failed"
    stale = next(t for t in enqueued if t.run_id == dead.run_id and t.stream == "contacts")
    assert run_chunk(stale, CONNECTOR, deps, last_attempt=False).status == "stale"


def test_pages_committed_out_of_order_end_the_chain_only_when_all_are_saved(world: Any) -> None:
    db, enqueued, make = world
    # Call order: page 1 (the last) is served first, then page 0.
    deps, _ = make([page([contact(3)], None), page([contact(1), contact(2)], "cur-2")])
    planner.plan_run(db, CONNECTOR, deps.enqueue, connection_id="intercom", trigger="test")
    first = contacts_task(enqueued)
    ahead = first.model_copy(update={"page": 1, "request": first.request.model_copy(update={"params": {"per_page": 150, "starting_after": "cur-2"}})})

    assert run_chunk(ahead, CONNECTOR, deps, last_attempt=False).status == "done"
    chain = state.load_chain(db, first)
    assert chain is not None and not chain.done
    assert "contacts" not in state.cursors(db, "intercom")  # page 0 is not saved yet

    assert run_chunk(first, CONNECTOR, deps, last_attempt=False).status == "done"
    chain = state.load_chain(db, first)
    assert chain is not None and chain.done
    assert state.cursors(db, "intercom")["contacts"] == 1_700_000_003


def test_a_replay_closes_a_chain_whose_last_commit_died_before_closing_it(world: Any) -> None:
    from shared.sync.models import Counts

    db, enqueued, make = world
    deps, _ = make([page([contact(1)], None)])
    planner.plan_run(db, CONNECTOR, deps.enqueue, connection_id="intercom", trigger="test")
    task = contacts_task(enqueued)
    # The first attempt committed its page, then died before checking for the chain's end.
    batch = db.batch()
    batch.create(state.page_ref(db, task, 0), {"counts": Counts(fetched=1).model_dump(), "next_request": None, "max_cursor": 5.0})
    batch.update(state.chain_ref(db, "intercom", task.run_id, task.chain_id), {"committed": 1, "last_page": 0})
    batch.commit()
    assert run_chunk(task, CONNECTOR, deps, last_attempt=False).status == "replay"
    chain = state.load_chain(db, task)
    assert chain is not None and chain.done


def test_a_run_whose_first_pages_cannot_be_queued_ends_and_frees_its_lease(world: Any) -> None:
    from google.api_core.exceptions import ServiceUnavailable as TasksDown

    from shared.errors import ServiceUnavailable

    db, _, make = world
    deps, _ = make([page([contact(1)], None)])

    def broken_enqueue(task: ChunkTask) -> bool:
        raise TasksDown("queue unreachable")

    with pytest.raises(ServiceUnavailable) as info:
        planner.plan_run(db, CONNECTOR, broken_enqueue, connection_id="intercom", trigger="test")
    assert info.value.code == "tasks_unavailable"
    run = state.get_run(db, "intercom", info.value.details["run_id"])
    assert run.status.value == "failed" and {e.code for e in run.errors} == {"enqueue_failed"}
    assert state.connection_state(db, "intercom")["lease"] is None
    planner.plan_run(db, CONNECTOR, deps.enqueue, connection_id="intercom", trigger="test")  # not blocked
