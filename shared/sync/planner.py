"""Plan a run: choose full or incremental per stream, cut windowed streams into windows,
take the lease, enqueue page 0 of every chain. Full the first time (no high-water mark
yet) and whenever a stream that sweeps deletes is due a full pass; incremental otherwise.

Also the run doctor: a run whose lease expired is failed at once, and a chain that stopped
progressing (its tasks were lost) is resumed from its last checkpoint.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

from google.api_core.exceptions import GoogleAPIError

from shared.errors import ServiceUnavailable
from shared.sync import budgets, finish, state
from shared.sync.models import ChunkTask, Run, Trigger
from shared.vendors.connector import ConnectionConfig, Connector, Slice, Stream, Sweep

if TYPE_CHECKING:
    from google.cloud.firestore import Client

#: longer than Cloud Tasks' retry horizon (12 attempts, backoff capped at 300 s: ~22 min),
#: and renewed by every attempt, so a run that is still retrying never loses its lease
LEASE_TTL_S = 30 * 60
#: a chain with no checkpoint or attempt for this long has lost its tasks
STALL_AFTER_S = 10 * 60


def new_run_id(now: datetime) -> str:
    """Sortable by time, unique without coordination."""
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Plan:
    streams: list[state.PlannedStream]
    chains: list[state.PlannedChain]


def _windows(stream: Stream[Any], start: float, end: float, mode: Literal["full", "incremental"]) -> list[state.PlannedChain]:
    windows = stream.windows
    assert windows is not None
    span = windows.max_span_s
    if windows.align_s:
        start = math.floor(start / windows.align_s) * windows.align_s
        span = max(1, round(span / windows.align_s)) * windows.align_s
    count = max(1, math.ceil((end - start) / span))
    chains = []
    for i in range(count):
        since, until = start + i * span, min(end, start + (i + 1) * span)
        name = f"w{since:.0f}-{until:.0f}"
        chains.append(state.PlannedChain(stream.name, name, mode, since, until, window=True))
    return chains


def plan_chains(
    connector: Connector,
    cursors: dict[str, dict[str, Any]],
    mode: Literal["auto", "full"],
    now: datetime,
    selected: Callable[[str], bool] = lambda _: True,
) -> Plan:
    streams: list[state.PlannedStream] = []
    chains: list[state.PlannedChain] = []
    for stream in connector.streams:
        if not selected(stream.name) or (stream.parent and not selected(stream.parent)):
            continue
        cursor = cursors.get(stream.name) or {}
        if stream.parent:
            owed = tuple(cursor.get("pending_parents") or ())
            size = budgets.parents_per_task(connector, stream)
            batches = [owed[i:i + size] for i in range(0, len(owed), size)]
            chains += [state.PlannedChain(stream.name, f"owed.{n}", "incremental", parent_ids=b) for n, b in enumerate(batches)]
            streams.append(state.PlannedStream(stream.name, "incremental", None, full_pass=False))
            continue
        hwm = cursor.get("hwm")
        sweep_due = isinstance(stream.deletes, Sweep) and _full_pass_due(cursor, stream.deletes, now)
        windowed_increments = stream.windows is not None and stream.windows.applies_to in ("always", "incremental")
        incremental = mode == "auto" and hwm is not None and not sweep_due and (
            stream.incremental is not None or windowed_increments)
        end = now.timestamp()
        if incremental and hwm is not None:
            since = float(hwm) - stream.lookback_s
            if windowed_increments:
                chains += _windows(stream, since, end, "incremental")
            else:
                chains.append(state.PlannedChain(stream.name, "all", "incremental", since))
            streams.append(state.PlannedStream(stream.name, "incremental", since, full_pass=False))
        else:
            if stream.windows is not None and stream.windows.applies_to != "incremental":
                chains += _windows(stream, end - stream.windows.backfill_s, end, "full")
            else:
                chains.append(state.PlannedChain(stream.name, "all", "full"))
            if isinstance(stream.deletes, Sweep):
                chains.append(state.PlannedChain(stream.name, state.SWEEP_PARTITION, "full", sweep=True))
            streams.append(state.PlannedStream(stream.name, "full", None, full_pass=True))
    return Plan(streams, chains)


def _full_pass_due(cursor: dict[str, Any], sweep: Sweep, now: datetime) -> bool:
    last = cursor.get("last_full_at")
    return last is None or (now - last).total_seconds() >= sweep.every_s


def first_page_delays(connector: Connector, chains: list[state.PlannedChain], config: ConnectionConfig,
                      scale: float = 1.0) -> dict[str, float]:
    """Seconds from now at which each chain's first page should be queued to come due: the
    first pages that book the same store-booked budget one booked slot apart (their order
    in `chains`), the others at once. Queued together, Pylon's 25 issue windows held the
    queue's six dispatches for the first seconds of a backfill (each waiting for its slot or
    storing its page) while the child tasks their pages fanned out queued behind them, and
    the messages' budget, the run's floor, idled (#16). Spaced, each comes due when its slot
    does and the queue serves the children fanned out before it first. The booking stays the
    only guard of the budget: a spacing that is off only moves when a task waits."""
    delays: dict[str, float] = {}
    queued: dict[str, int] = {}
    if budgets.queue_paced(connector):
        return delays
    for chain in chains:
        if chain.sweep or chain.parent_ids:
            continue  # a sweep is queued later; a child batch reads several parents
        stream = connector.stream(chain.stream)
        spec = stream.incremental if chain.mode == "incremental" and stream.incremental else stream.full
        spacing = budgets.booked_spacing(connector, spec.build(Slice(since=chain.since, until=chain.until, config=config)),
                                         scale)
        if spacing is None:
            continue
        budget, interval = spacing
        delays[chain.chain_id] = queued.get(budget, 0) * interval
        queued[budget] = queued.get(budget, 0) + 1
    return delays


def plan_run(
    db: Client,
    connector: Connector,
    enqueue: Callable[[ChunkTask], bool],
    *,
    connection_id: str,
    trigger: Trigger,
    requested_by: str | None = None,
    mode: Literal["auto", "full"] = "auto",
    selected: Callable[[str], bool] = lambda _: True,
    now: datetime | None = None,
    enqueue_at: Callable[[ChunkTask, datetime], bool] | None = None,
    config: ConnectionConfig | None = None,
    rate_scale: float = 1.0,
) -> Run:
    """`enqueue_at` (Cloud Tasks' schedule_time) and the connection's `config`: first pages
    that book one store-booked budget are spaced by its rate (`first_page_delays`)."""
    now = now or state.utcnow()
    plan = plan_chains(connector, state.cursors(db, connection_id), mode, now, selected)
    run = state.start_run(
        db,
        connection_id=connection_id,
        vendor=connector.vendor,
        run_id=new_run_id(now),
        trigger=trigger,
        requested_by=requested_by,
        streams=plan.streams,
        chains=plan.chains,
        lease_ttl_s=LEASE_TTL_S,
        now=now,
    )
    unqueued = []
    # Parents of child streams first: their pages fan out the most work (a vendor-bound
    # run's queue idles until children exist), and the queue dispatches in enqueue order.
    parents = {stream.parent for stream in connector.streams if stream.parent}
    chains = sorted(plan.chains, key=lambda c: c.stream not in parents)
    delays = first_page_delays(connector, chains, config, rate_scale) if enqueue_at and config else {}
    queued_at = datetime.now(timezone.utc)
    for chain in chains:
        if chain.sweep:
            continue  # enqueued when the stream's other chains have closed
        task = ChunkTask(connection_id=connection_id, run_id=run.run_id, stream=chain.stream,
                         partition=chain.partition, page=0)
        delay = delays.get(chain.chain_id, 0.0)
        try:
            if delay > 0 and enqueue_at is not None:
                enqueue_at(task, queued_at + timedelta(seconds=delay))
            else:
                enqueue(task)
        except (GoogleAPIError, OSError) as exc:
            # Record it so the run ends (and frees its lease) instead of waiting for expiry.
            state.fail_chain(db, task, "enqueue_failed", f"Could not queue the first page: {type(exc).__name__}", now=now)
            unqueued.append(chain.stream)
    if not plan.chains:
        state.finalize_run(db, connection_id, run.run_id, now=now)
    elif unqueued:
        finish.maybe_finish(db, connector, connection_id, run.run_id)
        raise ServiceUnavailable(
            "Cloud Tasks did not accept the run's first pages.",
            code="tasks_unavailable",
            details={"run_id": run.run_id, "streams": sorted(set(unqueued))},
        )
    else:
        state.mark_started(db, connection_id, run.run_id, now)
    return run


# -- the run doctor -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recovery:
    run_id: str | None
    action: Literal["none", "failed_expired", "resumed", "finished"]
    chains: int = 0


def recover(
    db: Client,
    connector: Connector,
    enqueue: Callable[[ChunkTask], bool],
    connection_id: str,
    *,
    now: datetime | None = None,
    stall_after_s: float = STALL_AFTER_S,
) -> Recovery:
    """Fail a run whose lease expired; resume chains that stopped progressing; finish a run
    whose last close died before finalizing. The scheduler calls this on every tick."""
    now = now or state.utcnow()
    lease = state.lease_of(state.connection_state(db, connection_id))
    run_id = lease.get("run_id")
    if not run_id:
        return Recovery(None, "none")
    if lease["expires_at"] <= now:
        state.fail_run(db, connection_id, run_id, "lease_expired", "The run stopped making progress.", now)
        return Recovery(run_id, "failed_expired")
    if finish.maybe_finish(db, connector, connection_id, run_id) is not None:
        return Recovery(run_id, "finished")
    resumed = 0
    stale_before = now - timedelta(seconds=stall_after_s)
    for chain in state.open_chains(db, connection_id, run_id):
        updated = chain.get("updated_at")
        if updated is not None and updated > stale_before:
            continue
        if chain.get("sweep"):
            # a sweep waits for its stream's other chains; once they closed, its task was lost
            sweep = state.stream_ready_to_sweep(db, connection_id, run_id, chain["stream"])
            if sweep is not None:
                enqueue(sweep)
                resumed += 1
            continue
        point = state.resume_point(db, connection_id, run_id, chain["id"])
        generation = int(chain.get("generation", 0)) + 1
        state.chain_ref(db, connection_id, run_id, chain["id"]).update({"generation": generation, "updated_at": now})
        if point is None:
            task = ChunkTask(connection_id=connection_id, run_id=run_id, stream=chain["stream"],
                             partition=chain["partition"], page=int(chain.get("last_page") or 0))
            run_created: datetime = (state.run_ref(db, connection_id, run_id).get().to_dict() or {})["created_at"]
            stream = connector.stream(chain["stream"])
            state.close_chain_if_complete(db, task, lookback_s=stream.lookback_s, run_created=run_created)
            continue
        page, cursor = point
        enqueue(ChunkTask(connection_id=connection_id, run_id=run_id, stream=chain["stream"],
                          partition=chain["partition"], page=page, cursor=cursor, generation=generation))
        resumed += 1
    if finish.maybe_finish(db, connector, connection_id, run_id) is not None:
        return Recovery(run_id, "finished")
    return Recovery(run_id, "resumed" if resumed else "none", resumed)
