"""The circuit breaker end to end: sandbox Intercom with faults switched on -> Cloud Tasks
emulator -> sync-worker -> Firestore emulator. It opens under a failing vendor (the
connection turns degraded, chunks are deferred, few vendor calls are made while open) and
closes after recovery (a probe succeeds, the connection is connected, the run succeeds);
sync-status shows the state and sync-events has one event per change."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.identity import IdentityServer
from tests.e2e.sync_stack import SyncStack

SIZE = {"contacts": 60, "companies": 10, "admins": 3, "conversations": 20}
BREAKER_ENV = {"BREAKER_THRESHOLD": "3", "BREAKER_COOLDOWN_S": "2", "BREAKER_MAX_COOLDOWN_S": "4"}


@pytest.fixture(scope="module")
def stack(identity: IdentityServer, firestore_host: str, log_dir: Path) -> Iterator[SyncStack]:
    stack = SyncStack(identity, firestore_host, log_dir, SIZE, extra_env=BREAKER_ENV).start()
    yield stack
    stack.stop()


def health(stack: SyncStack) -> dict[str, Any]:
    with stack.api("member") as api:
        response = api.get("/sync-status", params={"connection_id": stack.connection_id})
    assert response.status_code == 200, response.text
    return dict(response.json()["connections"][0])


def requests_made(stack: SyncStack) -> int:
    with stack.sandbox() as s:
        return int(s.get("/_sandbox/stats").json()["requests"])


def wait_for(stack: SyncStack, predicate: Any, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = health(stack)
        if predicate(state):
            return state
        time.sleep(0.2)
    raise TimeoutError(f"not reached in {timeout_s}s: {health(stack)}")


def test_the_breaker_opens_under_a_failing_vendor_and_closes_after_recovery(stack: SyncStack, clean_firestore: str) -> None:
    stack.reset_sandbox(error_rate=1.0, error_status=503)
    stack.create_queue()
    stack.connection_id = ""
    stack.connect()
    run_id = stack.start_sync("full")
    opened = wait_for(stack, lambda s: s["breaker"]["state"] in ("open", "half_open"), 90)
    assert opened["status"] == "degraded" and opened["breaker"]["failures"] >= 3
    assert "vendor_unavailable" in (opened["breaker"]["last_failure"] or "")
    # While it is open the vendor hears only probes: with 4 s cool-downs, a few per window
    # (each probe is one chunk: the client's own retries, up to 5 calls), against the
    # hundreds of calls a dozen chains retrying every few seconds would make. Measured once
    # the chunks that were mid-call when it opened are done: their own retries (0.5 + 1 + 2
    # + 4 s of backoff at most) are not the breaker's to stop.
    time.sleep(7.5)
    before = requests_made(stack)
    time.sleep(8)
    during = requests_made(stack) - before
    assert during <= 25, during
    assert stack.run(run_id)["status"] == "running"  # deferred, not failed
    stack.set_faults()
    closed = wait_for(stack, lambda s: s["breaker"]["state"] == "closed", 60)
    assert closed["status"] == "connected"
    run = stack.wait(run_id, timeout_s=120)
    assert run["status"] == "succeeded", run
    assert set(stack.stored("admins")) and len(stack.stored("contacts")) == SIZE["contacts"]
    assert health(stack)["last_success_at"] is not None
    with stack.api("member") as api:
        events = api.get("/sync-events", params={"connection_id": stack.connection_id}).json()["events"]
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "breaker_opened" and kinds[-1] == "run_succeeded", kinds
    assert kinds.count("breaker_opened") == 1 and "breaker_closed" in kinds, kinds
    assert events[0]["reason"]["code"] == "vendor_unavailable"


def test_chunks_that_found_a_probe_in_flight_resume_soon_after_it_closes_the_breaker(
        stack: SyncStack, clean_firestore: str) -> None:
    """The console's scenario, on make dev's queue settings: every chain is deferred to the
    same cool-down end, so they arrive together; one is the probe (slow: each failing call
    takes a second) and the others find it in flight. The vendor recovers during the probe,
    which closes the breaker. The others must not sit out the probe's whole hold (4 minutes):
    they ask again within a cool-down and the run ends soon after."""
    from shared.sync.queues import queue_spec

    stack.reset_sandbox(error_rate=1.0, error_status=503, latency_ms=1000)
    spec = queue_spec(stack.connector("intercom"), requests_per_minute=stack.sandbox_rate_limit)
    stack.create_queue(min_backoff_seconds=spec.min_backoff_seconds, max_backoff_seconds=spec.max_backoff_seconds)
    stack.connection_id = ""
    stack.connect()
    run_id = stack.start_sync("full")
    wait_for(stack, lambda s: s["breaker"]["state"] == "half_open", 120)  # a probe is in flight
    stack.set_faults()  # the vendor recovers while it is
    wait_for(stack, lambda s: s["breaker"]["state"] == "closed", 60)
    run = stack.wait(run_id, timeout_s=60)
    assert run["status"] == "succeeded", run
    assert len(stack.stored("contacts")) == SIZE["contacts"]
