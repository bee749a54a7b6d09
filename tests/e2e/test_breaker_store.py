"""The circuit breaker's transitions on the real Firestore emulator, as many workers make
them at once: the chunks deferred to one cool-down end all arrive together."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from shared.connections import breaker
from shared.connections.breaker import BreakerPolicy, BreakerState
from tests.conftest import PROJECT

POLICY = BreakerPolicy(threshold=3, base_cooldown_s=2, max_cooldown_s=4)
HERD = 24


@pytest.fixture()
def db(clean_firestore: str) -> Any:
    from google.cloud import firestore

    return firestore.Client(project=PROJECT)


def connection(db: Any, state: BreakerState) -> str:
    db.collection("connections").document("c1").set({
        "vendor": "intercom", "name": "Support", "status": "degraded", "owner": {"kind": "org"},
        "breaker": state.model_dump(mode="python")})
    return "c1"


def test_a_herd_at_the_end_of_the_cool_down_admits_one_probe_and_defers_the_rest_without_contention(db: Any) -> None:
    """Every chunk deferred to the cool-down's end asks at once. Before, each asked in a
    read-write transaction on the connection document: they queued on each other's locks
    until the emulator timed them out, and the chunks went back to Cloud Tasks as 503s."""
    now = breaker.utcnow()
    cooled = BreakerState(state="open", failures=3, trips=1, opened_at=now - timedelta(seconds=3),
                          until=now - timedelta(seconds=1), last_failure="vendor_unavailable: 503")
    connection_id = connection(db, cooled)
    with ThreadPoolExecutor(HERD) as pool:
        answers = list(pool.map(lambda _: breaker.check(db, connection_id, POLICY, known=cooled), range(HERD)))
    probes = [a for a in answers if a.probe]
    assert len(probes) == 1 and all(a.call for a in probes)
    waiting = [a for a in answers if not a.call]
    assert len(waiting) == HERD - 1
    # they ask again within a cool-down, not at the end of the probe's hold
    assert all(a.until is not None and a.until <= breaker.utcnow() + timedelta(seconds=POLICY.base_cooldown_s)
               for a in waiting)
    stored = breaker.of(db.collection("connections").document(connection_id).get().to_dict())
    assert stored.state == "half_open"


def test_failures_reported_at_once_open_it_once_without_contention(db: Any) -> None:
    connection_id = connection(db, BreakerState())
    db.collection("connections").document(connection_id).update({"status": "connected"})
    with ThreadPoolExecutor(HERD) as pool:
        list(pool.map(lambda _: breaker.record_failure(db, connection_id, POLICY, "vendor_unavailable: 503"), range(HERD)))
    data = db.collection("connections").document(connection_id).get().to_dict()
    stored = breaker.of(data)
    # counted until it opened; the rest (mid-call when it did) change nothing
    assert stored.state == "open" and stored.failures == POLICY.threshold and stored.trips == 1
    assert data["status"] == "degraded"
    events = [e.to_dict() for e in db.collection("sync_events").stream()]
    assert [e["kind"] for e in events] == ["breaker_opened"], events
