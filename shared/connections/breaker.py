"""A circuit breaker per connection: stop calling a vendor that keeps failing.

After `threshold` consecutive failed units of work (a chunk whose vendor call still failed
after the client's own retries: 5xx, timeouts, dropped connections; never a paced 429 nor a
4xx, which say nothing about the vendor's health) the breaker **opens** for a cool-down
(exponential in the number of consecutive trips, capped) and the connection is marked
`degraded`. While open, the worker defers its chunks to the end of the cool-down instead of
spending the budget and the task's attempts. After the cool-down the breaker is
**half-open**: exactly one unit of work (the probe) is admitted, holding the probe for
`probe_lease_s` (a probe that dies lets another through after that); its success closes
the breaker and restores `connected` (so does any answer from the vendor that is not a
failure: a 4xx or a 429 shows it is up), its failure opens it again for a longer cool-down.

The state is the `breaker` field of the connection document, so it survives processes and is
shared by every worker; every transition is a compare-and-set on that document, and the
common case (closed, no failures) costs no write. The state machine itself is pure
(`admit`, `failed`, `succeeded`) and unit-tested without a store.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from google.cloud.firestore import Client, WriteBatch

log = logging.getLogger("tributary.connections.breaker")

FIELD = "breaker"
#: how long a transition keeps losing compare-and-set races before it counts as contention
MAX_TRANSITION_S = 10.0


@dataclass(frozen=True)
class BreakerPolicy:
    threshold: int = 5
    base_cooldown_s: float = 30.0
    #: below the run doctor's stall detector (10 minutes) so a deferred chain is never
    #: taken for a stalled one
    max_cooldown_s: float = 300.0
    #: how long the admitted probe holds the half-open breaker (a chunk's time budget and
    #: then some): a probe that never reports lets the next one through after this
    probe_lease_s: float = 240.0

    @property
    def probe_wait_s(self) -> float:
        """How long a unit that finds the probe in flight waits before asking again: the base
        cool-down, not the probe's hold. A probe reports within one chunk's fetch; the units
        waiting on it must not sit out the rest of its hold after it closed the breaker."""
        return min(self.probe_lease_s, self.base_cooldown_s)

    def cooldown_s(self, trips: int) -> float:
        """The cool-down of the `trips`-th consecutive opening (1-based): doubling, capped."""
        return float(min(self.max_cooldown_s, self.base_cooldown_s * 2 ** max(0, trips - 1)))


class BreakerState(BaseModel):
    """As stored on the connection and served by sync-status."""

    model_config = ConfigDict(extra="ignore")

    state: Literal["closed", "open", "half_open"] = "closed"
    #: consecutive failed units of work (reset by any success)
    failures: int = 0
    #: consecutive openings without a close (the cool-down's exponent)
    trips: int = 0
    opened_at: datetime | None = None
    #: open: when the cool-down ends; half_open: when the probe's hold ends
    until: datetime | None = None
    last_failure_at: datetime | None = None
    last_failure: str | None = None

    @property
    def clean(self) -> bool:
        return self.state == "closed" and self.failures == 0


@dataclass(frozen=True)
class Admission:
    """`call`: go ahead (`probe` when this unit is the half-open probe); otherwise defer the
    unit until `until`."""

    call: bool
    state: BreakerState
    until: datetime | None = None
    probe: bool = False


# -- the pure state machine ----------------------------------------------------------------


def admit(current: BreakerState, now: datetime, policy: BreakerPolicy) -> tuple[Admission, BreakerState | None]:
    """Whether a unit of work may call the vendor now, and the new state to store (None: no
    change)."""
    if current.state == "closed":
        return Admission(True, current), None
    if current.until is not None and now < current.until:
        if current.state == "half_open":  # the probe is in flight: ask again soon, not at its hold's end
            return Admission(False, current, until=min(current.until, now + timedelta(seconds=policy.probe_wait_s))), None
        return Admission(False, current, until=current.until), None
    # open and cooled down, or half-open with a probe that never reported: one probe goes
    probing = current.model_copy(update={"state": "half_open", "until": now + timedelta(seconds=policy.probe_lease_s)})
    return Admission(True, probing, probe=True), probing


def failed(current: BreakerState, now: datetime, policy: BreakerPolicy, reason: str) -> BreakerState:
    """After a failed unit of work: count it; open (or re-open, longer) when due. A failure
    reported while open (a unit admitted before it opened) changes nothing: the breaker has
    already stopped the calls, and the many units that were mid-call when it opened would
    otherwise all race to write the connection document at once."""
    if current.state == "open":
        return current
    failures = current.failures + 1
    base = {"failures": failures, "last_failure_at": now, "last_failure": reason[:300]}
    if current.state == "half_open" or failures >= policy.threshold:
        trips = current.trips + 1
        return current.model_copy(update={**base, "state": "open", "trips": trips, "opened_at": now,
                                          "until": now + timedelta(seconds=policy.cooldown_s(trips))})
    return current.model_copy(update=base)


def succeeded(current: BreakerState) -> BreakerState | None:
    """After a successful unit of work: closed with no failures (None when already so)."""
    if current.clean:
        return None
    return BreakerState(state="closed", last_failure_at=current.last_failure_at, last_failure=current.last_failure)


# -- the store -------------------------------------------------------------------------------


def utcnow() -> datetime:
    return datetime.now(UTC)


def of(data: dict[str, Any] | None) -> BreakerState:
    raw = (data or {}).get(FIELD)
    return BreakerState.model_validate(raw) if isinstance(raw, dict) else BreakerState()


def _apply(batch: WriteBatch, db: Client, connection_id: str, data: dict[str, Any], before: BreakerState,
           after: BreakerState, now: datetime, read_at: datetime) -> None:
    """Write the new state; on opening or closing, the connection's status and an event. The
    batch commits only if the connection is still as read at `read_at` (its update time)."""
    from shared.connections.models import ConnectionStatus
    from shared.connections.refs import connection_ref
    from shared.sync import events

    update: dict[str, Any] = {FIELD: after.model_dump(mode="python")}
    status = data.get("status")
    opened = after.state == "open" and before.state != "open"
    closed = after.state == "closed" and before.state != "closed"
    if opened and status == ConnectionStatus.connected.value:
        update["status"] = ConnectionStatus.degraded.value
    if closed and status == ConnectionStatus.degraded.value:
        update["status"] = ConnectionStatus.connected.value
    if opened:
        update.update(events.add_in(batch, db, connection_id, data, "breaker_opened", now,
                                    reason={"code": "vendor_unavailable", "message": after.last_failure or ""},
                                    detail={"cooldown_until": after.until, "failures": after.failures}))
    elif closed:
        update.update(events.add_in(batch, db, connection_id, data, "breaker_closed", now))
    batch.update(connection_ref(db, connection_id), update, option=db.write_option(last_update_time=read_at))


def _transition(db: Client, connection_id: str, step: Any, now: datetime | None) -> tuple[Any, BreakerState]:
    """Run `step(before, now)` on the connection's breaker by compare-and-set: a plain read,
    then a batch (the state, the status, the event) that commits only if the connection is
    unchanged since; a lost race reads again. No transaction: the connection document is
    the hottest one a run has (lease renewals, allowance), and the many chunks deferred to
    the same cool-down end all ask at once; read-write transactions on it queued on each
    other's locks until they timed out (the Firestore emulator: "Transaction lock timeout",
    then a 503 and Cloud Tasks' backoff, minutes on make dev's queue). Without a given `now`
    the clock is read on every round, so a decision is never made on a stale one."""
    import random
    import time

    from google.api_core import exceptions as gexc

    from shared.connections.refs import connection_ref
    from shared.store.txn import Contention

    ref = connection_ref(db, connection_id)
    deadline = time.monotonic() + MAX_TRANSITION_S
    attempt = 0
    while True:
        attempt += 1
        at = now or utcnow()
        snap = ref.get()
        data = snap.to_dict() or {}
        before = of(data)
        answer, after = step(before, at)
        if after is None or after == before:
            return answer, before
        batch = db.batch()
        _apply(batch, db, connection_id, data, before, after, at, snap.update_time)
        try:
            batch.commit()
            return answer, after
        except (gexc.FailedPrecondition, gexc.Aborted):
            if time.monotonic() > deadline:
                raise Contention(f"the breaker of {connection_id} changed concurrently {attempt} times") from None
            time.sleep(random.uniform(0, min(0.2, 0.01 * attempt)))


def check(db: Client, connection_id: str, policy: BreakerPolicy, *, known: BreakerState | None = None,
          now: datetime | None = None) -> Admission:
    """May this unit of work call the vendor? `known` is the state the caller already read
    (the connection it loaded): when that state admits it (closed) or defers it (cooling
    down, or a probe in flight) nothing is written: deferring on a read a moment old only
    waits what that read said. Only admitting a probe writes (compare-and-set), so that one
    probe is admitted however many workers ask."""
    if known is not None:
        admission, change = admit(known, now or utcnow(), policy)
        if change is None:
            return admission
    decided, _ = _transition(db, connection_id, lambda before, at: admit(before, at, policy), now)
    assert isinstance(decided, Admission)
    if decided.probe:
        log.info("breaker probe admitted", extra={"connection_id": connection_id})
    return decided


def record_failure(db: Client, connection_id: str, policy: BreakerPolicy, reason: str,
                   now: datetime | None = None) -> BreakerState:
    _, after = _transition(db, connection_id, lambda before, at: (None, failed(before, at, policy, reason)), now)
    if after.state == "open":
        log.warning("breaker open", extra={"connection_id": connection_id, "until": str(after.until),
                                           "failures": after.failures, "trips": after.trips})
    return after


def record_success(db: Client, connection_id: str, known: BreakerState, now: datetime | None = None) -> None:
    """A success: nothing to write when the state read at admission was clean."""
    if known.clean:
        return
    _, after = _transition(db, connection_id, lambda before, _at: (None, succeeded(before)), now)
    if after.state == "closed":
        log.info("breaker closed", extra={"connection_id": connection_id})
