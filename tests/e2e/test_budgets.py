"""Rate budgets at the vendor's scope, booked in the real Firestore emulator."""

from __future__ import annotations

from typing import Any

import pytest

from shared.store import ratelimits
from shared.sync.budgets import StoreGate, gate_for
from shared.vendors.connector import Connector, Schedule
from shared.vendors.pagination import PageRequest
from shared.vendors.ratelimit import EndpointLimit, RateLimit
from tests.conftest import PROJECT


@pytest.fixture()
def db(clean_firestore: str) -> Any:
    from google.cloud import firestore

    return firestore.Client(project=PROJECT)


def vendor(scope: str, endpoints: tuple[EndpointLimit, ...] = ()) -> Connector:
    return Connector(vendor="tokenvendor", title="T", docs_url="", streams=(), schedule=Schedule("0 5 * * *"),
                     rate_limit=RateLimit(60, 60, scope=scope, endpoints=endpoints))  # type: ignore[arg-type]


def test_reservations_on_one_budget_queue_up_and_other_budgets_are_free(db: Any) -> None:
    waits = [ratelimits.reserve(db, "a", per_second=2, now=1000.0) for _ in range(4)]
    assert waits == [0.0, 0.5, 1.0, 1.5]
    assert ratelimits.reserve(db, "b", per_second=2, now=1000.0) == 0.0
    assert ratelimits.reserve(db, "a", per_second=2, max_wait_s=1.0, now=1000.0) is None  # spent: hand back
    assert ratelimits.reserve(db, "a", per_second=2, now=1000.0) == 2.0  # the refused booking was given back
    assert ratelimits.reserve(db, "a", per_second=2, now=1000.0, count=3) == 2.5  # a lease of 3 slots
    assert ratelimits.reserve(db, "a", per_second=2, now=1000.0) == 4.0


def test_a_vendor_pause_holds_the_budget(db: Any) -> None:
    ratelimits.hold(db, "a", 1010.0)
    assert ratelimits.reserve(db, "a", per_second=2, now=1000.0) == 10.0


def test_two_connections_of_a_per_token_vendor_never_share_a_budget(db: Any) -> None:
    connector = vendor("token")
    first, second = StoreGate(db, connector, "conn-a"), StoreGate(db, connector, "conn-b")
    request = PageRequest(path="/persons")
    booked_a = [first.book(request) for _ in range(3)]
    booked_b = second.book(request)
    assert booked_a[0] == pytest.approx(0, abs=0.05)
    assert booked_a[2] == pytest.approx(2.0, abs=0.2)  # 1 request/s: the third waits ~2 s
    assert booked_b == pytest.approx(0, abs=0.05)  # another token's budget is untouched
    # a new client of the same connection (the next chunk) sees the same budget
    assert StoreGate(db, connector, "conn-a").book(request) == pytest.approx(3.0, abs=0.2)


def test_endpoint_limits_are_per_connection_and_endpoint(db: Any) -> None:
    connector = vendor("app", (EndpointLimit("/issues", 6, 60),))
    gate = gate_for(db, connector, "org-1")
    assert gate is not None
    assert gate.book(PageRequest(path="/accounts")) == 0.0  # no budget of its own: the queue paces it
    waits = [gate.book(PageRequest(path="/issues")) for _ in range(2)]
    assert waits[1] == pytest.approx(10.0, abs=0.3)
    assert gate_for(db, vendor("app"), "org-1") is None


def test_concurrent_bookings_on_one_budget_never_contend_and_never_share_a_slot(db: Any) -> None:
    """Many tasks booking one budget at once (Pylon's workers, #16): every booking succeeds at
    its first try, and the slots are distinct, one interval apart (nothing is over-spent)."""
    from concurrent.futures import ThreadPoolExecutor

    def book(_: int) -> float | None:
        return ratelimits.reserve(db, "hot", per_second=100, now=5000.0, max_wait_s=600)

    with ThreadPoolExecutor(max_workers=16) as pool:
        waits = list(pool.map(book, range(160)))
    assert None not in waits
    assert sorted(round(w * 100) for w in waits if w is not None) == list(range(160))


def test_concurrent_daily_spends_never_contend_and_never_eat_into_the_reserve(db: Any) -> None:
    """Every task of a connection books the daily allowance at once (Pipedrive's 7 streams):
    in a transaction they queued for a minute behind each other's locks and the run stalled.
    Now 80 concurrent spends of 10 from 1,000 remaining with a 10% reserve (floor 100) all fit,
    and of 20 more only 10 do: down to the floor, never below it."""
    from concurrent.futures import ThreadPoolExecutor

    day = "2026-11-23"
    ratelimits.observe_daily(db, "pd:c1:daily", limit=1000, remaining=1000, day=day)

    def spend(_: int) -> bool:
        return ratelimits.spend_daily(db, "pd:c1:daily", cost=10, reserve_share=0.1, day=day)

    with ThreadPoolExecutor(max_workers=16) as pool:
        first = list(pool.map(spend, range(80)))
    assert all(first)
    with ThreadPoolExecutor(max_workers=16) as pool:
        more = list(pool.map(spend, range(20)))
    assert more.count(True) == 10  # 1,000 - 800 - 100 = the floor of 100
    assert not ratelimits.spend_daily(db, "pd:c1:daily", cost=10, reserve_share=0.1, day=day)
    assert ratelimits.spend_daily(db, "pd:c1:daily", cost=10, reserve_share=0.0, day=day)  # a live call may
    # a new day starts from the last known limit
    assert ratelimits.spend_daily(db, "pd:c1:daily", cost=10, reserve_share=0.1, day="2026-11-24")


def test_a_run_queues_the_first_pages_of_one_booked_budget_a_slot_apart(db: Any) -> None:
    """Pylon's backfill (#16): the first issue window and each list at once, the other 24
    windows scheduled one booked slot of GET /issues apart, so the child tasks the first
    pages fan out in the meantime are dispatched before them; a caller that cannot schedule
    (no enqueue_at) queues every first page at once, as before."""
    from datetime import datetime, timedelta

    from shared.sync import planner
    from shared.sync.models import ChunkTask
    from shared.vendors.pylon.connector import CONNECTOR, PylonConfig

    now: list[ChunkTask] = []
    later: list[tuple[ChunkTask, datetime]] = []
    planner.plan_run(db, CONNECTOR, lambda t: now.append(t) is None, connection_id="pylon-a", trigger="test",
                     enqueue_at=lambda t, at: later.append((t, at)) is None, config=PylonConfig(), rate_scale=60.0)
    assert sorted(t.stream for t in now) == ["accounts", "issues", "teams", "users"]
    assert len(later) == 24 and {t.stream for t, _ in later} == {"issues"}
    interval = 1 / next(e for e in CONNECTOR.rate_limit.endpoints if e.key == "GET:/issues").booked_per_second(60.0)
    gaps = [(b - a).total_seconds() for (_, a), (_, b) in zip(later, later[1:], strict=False)]
    assert gaps == pytest.approx([interval] * 23, abs=1e-3)
    assert later[0][1] - datetime.now(later[0][1].tzinfo) < timedelta(seconds=interval + 1)

    everything: list[ChunkTask] = []
    planner.plan_run(db, CONNECTOR, lambda t: everything.append(t) is None, connection_id="pylon-b", trigger="test")
    assert sum(t.stream == "issues" for t in everything) == 25
