"""Run state in Firestore: leases, runs, streams, chains, page checkpoints, cursors.

    connections/{c}                          the connection; engine fields: lease, last run
    connections/{c}/cursors/{stream}         high-water mark, last full pass, parents whose
                                             children are still owed
    connections/{c}/runs/{r}                 the run: status, chains_total/closed, errors
    connections/{c}/runs/{r}/streams/{s}     one stream of the run: counts, windows
    connections/{c}/runs/{r}/chains/{id}     a chain (a stream's partition: all, a time
                                             window, a batch of parents): pages, last page
    .../chains/{id}/pages/{n}                page n's checkpoint: counts, next cursor, keys

Pages of a chain are pipelined: page n+1 is enqueued as soon as page n is fetched, and each
page commits its own checkpoint after its records are saved (created once, with the chain's
counters, in one atomic batch, so a replay changes nothing). The chain's last page is the
smallest page that saw the end (a Minimum transform: set once, never raised by a replay);
the chain is complete when every page 0..last has its checkpoint, and only the pages up to
last move the cursor.

Closing a chain takes no lock on a shared document: it reads its chain, then writes the
chain under a precondition on that read (compare-and-set: a concurrent close or page commit
makes it read again), and adds to its stream's and the run's counters with blind increments,
so chains closing together never wait on one another (transactions that read the run, the
stream or the connection made them queue on Firestore's locks). A windowed stream's cursor
moves through the completed prefix of its windows with a Maximum transform, so closers that
race can only move it forward. A stream whose full pass ends with a sweep has one more chain,
`<stream>~sweep`: the closer of its last chain enqueues it, and the run is complete only when
it has closed too, so each stream sweeps as soon as it is done, in parallel with the others.
Everything that ends a chain or a run first checks that the connection's lease is still
this run's: a run that lost its lease changes nothing (and never frees another's lease).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from shared.connections.refs import connection_ref
from shared.errors import Conflict, NotFound
from shared.store.client import condition
from shared.store.txn import run_transaction
from shared.sync import events
from shared.sync.models import ChunkTask, Counts, Mode, Run, RunError, RunStatus, StreamRun, Trigger, chain_id

if TYPE_CHECKING:
    from google.cloud.firestore import Client, DocumentReference, Transaction

    from shared.store.wire import RawBatch, Stored

#: Firestore allows 500 writes per commit
log = logging.getLogger("tributary.sync.runs")
#: the log line the failed-syncs alert counts (infra/terraform/monitoring.tf): one per run, when it ends
RUN_FINISHED_EVENT = "sync_run_finished"

WRITES_PER_COMMIT = 400


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


#: references are built once per process (a DocumentReference checks and splits its path:
#: a task built about twenty, a tenth of its own CPU, #16)
_refs = lru_cache(maxsize=16_384)


@_refs
def cursor_ref(db: Client, connection_id: str, stream: str) -> DocumentReference:
    return connection_ref(db, connection_id).collection("cursors").document(stream)


@_refs
def run_ref(db: Client, connection_id: str, run_id: str) -> DocumentReference:
    return connection_ref(db, connection_id).collection("runs").document(run_id)


@_refs
def stream_ref(db: Client, connection_id: str, run_id: str, stream: str) -> DocumentReference:
    return run_ref(db, connection_id, run_id).collection("streams").document(stream)


@_refs
def chain_ref(db: Client, connection_id: str, run_id: str, chain: str) -> DocumentReference:
    return run_ref(db, connection_id, run_id).collection("chains").document(chain)


def page_ref(db: Client, task: ChunkTask, page: int) -> DocumentReference:
    return _page_ref(db, task.connection_id, task.run_id, task.chain_id, page)


@_refs
def _page_ref(db: Client, connection_id: str, run_id: str, chain: str, page: int) -> DocumentReference:
    return chain_ref(db, connection_id, run_id, chain).collection("pages").document(f"{page:07d}")


@dataclass(frozen=True)
class PlannedChain:
    stream: str
    partition: str
    mode: Mode
    since: float | None = None
    until: float | None = None
    parent_ids: tuple[str, ...] = ()
    #: a time window of a windowed stream (its end moves the cursor)
    window: bool = False
    #: the sweep that ends a full pass (enqueued when the stream's other chains have closed)
    sweep: bool = False

    @property
    def chain_id(self) -> str:
        return chain_id(self.stream, self.partition)

    def document(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "partition": self.partition,
            "mode": self.mode,
            "since": self.since,
            "until": self.until,
            "parent_ids": list(self.parent_ids),
            "window": self.window,
            "sweep": self.sweep,
            "committed": 0,
            "done": False,
            "failed": False,
            "split": False,
            "counts": Counts().model_dump(),
        }


@dataclass(frozen=True)
class PlannedStream:
    name: str
    mode: Mode
    since: float | None
    #: a full pass of the whole stream (a sweep may follow when it completes)
    full_pass: bool


def lease_of(data: dict[str, Any]) -> dict[str, Any]:
    return data.get("lease") or {}


def cursors(db: Client, connection_id: str) -> dict[str, dict[str, Any]]:
    return {snap.id: snap.to_dict() or {} for snap in connection_ref(db, connection_id).collection("cursors").stream()}


def hwms(db: Client, connection_id: str) -> dict[str, float]:
    return {k: v["hwm"] for k, v in cursors(db, connection_id).items() if v.get("hwm") is not None}


# -- starting a run ---------------------------------------------------------------------------


def start_run(
    db: Client,
    *,
    connection_id: str,
    vendor: str,
    run_id: str,
    trigger: Trigger,
    requested_by: str | None,
    streams: list[PlannedStream],
    chains: list[PlannedChain],
    lease_ttl_s: int,
    now: datetime | None = None,
) -> Run:
    """Take the connection's lease and record the run with its chains; 409 if another run
    holds the lease. The lease is taken in one small transaction; chains are written after
    it in commits of at most WRITES_PER_COMMIT, so a run may plan any number of windows."""
    from shared.store.txn import Contention

    now = now or utcnow()
    conn = connection_ref(db, connection_id)
    run = Run(
        run_id=run_id,
        connection_id=connection_id,
        vendor=vendor,
        trigger=trigger,
        status=RunStatus.queued,
        requested_by=requested_by,
        created_at=now,
        chains_total=len(chains),
        streams={s.name: StreamRun(mode=s.mode, since=s.since) for s in streams},
    )

    def take_lease(transaction: Transaction) -> None:
        data = conn.get(transaction=transaction).to_dict() or {}
        lease = lease_of(data)
        if lease.get("run_id") and lease["run_id"] != run_id:
            if lease["expires_at"] > now:
                raise Conflict(
                    "A sync of this connection is already running.",
                    code="sync_in_progress",
                    details={"run_id": lease["run_id"]},
                )
            _fail_run_in(transaction, db, connection_id, lease["run_id"], "lease_expired", "The run stopped making progress.", now)
        record = run.model_dump(mode="python", exclude={"streams", *Run.DERIVED})
        transaction.set(run_ref(db, connection_id, run_id), record)
        transaction.set(
            conn,
            {"lease": {"run_id": run_id, "expires_at": now + timedelta(seconds=lease_ttl_s), "renewed_at": now},
             "last_run_id": run_id},
            merge=True,
        )

    try:
        run_transaction(db, take_lease)
    except Contention:
        # Many starts at once: the winner holds the lease now; answer like any other loser.
        holder = lease_of(conn.get().to_dict() or {}).get("run_id")
        raise Conflict("A sync of this connection is already running.", code="sync_in_progress",
                       details={"run_id": holder}) from None
    writes: list[tuple[DocumentReference, dict[str, Any]]] = []
    for planned in streams:
        doc = {**StreamRun(mode=planned.mode, since=planned.since).model_dump(), "full_pass": planned.full_pass,
               "windows": {}, "name": planned.name, "sweep": False}
        for chain in chains:
            if chain.stream == planned.name:
                doc["chains_total"] += 1
                doc["sweep"] = doc["sweep"] or chain.sweep
                if chain.window:
                    doc["windows"][chain.partition] = {"since": chain.since, "until": chain.until, "status": "open"}
        writes.append((stream_ref(db, connection_id, run_id, planned.name), doc))
    writes += [(chain_ref(db, connection_id, run_id, c.chain_id), {**c.document(), "updated_at": now}) for c in chains]
    for start in range(0, len(writes), WRITES_PER_COMMIT):
        batch = db.batch()
        for ref, doc in writes[start:start + WRITES_PER_COMMIT]:
            batch.set(ref, doc)
        batch.commit()
    return run


def mark_started(db: Client, connection_id: str, run_id: str, now: datetime | None = None) -> None:
    """queued -> running once its first pages are queued (the planner calls this)."""
    now = now or utcnow()
    run_ref(db, connection_id, run_id).update({"status": RunStatus.running.value, "started_at": now})


def add_chains(db: Client, connection_id: str, run_id: str, chains: list[PlannedChain], now: datetime | None = None) -> list[PlannedChain]:
    """Add chains to a running run (a window split, a batch of changed parents); each is
    created with its counters atomically, once: a replay adds nothing. The chains go in
    commits of a few hundred (a page of 150 changed parents is one commit, not
    150 commits on the same run and stream documents); a commit that meets a chain an
    earlier attempt created falls back to one commit per chain."""
    from google.api_core.exceptions import AlreadyExists

    now = now or utcnow()
    added: list[PlannedChain] = []
    step = WRITES_PER_COMMIT // 2  # room for the counters of every stream the group touches
    for start in range(0, len(chains), step):
        group = chains[start:start + step]
        try:
            _commit_chains(db, connection_id, run_id, group, now)
            added += group
        except AlreadyExists:
            for chain in group:
                try:
                    _commit_chains(db, connection_id, run_id, [chain], now)
                except AlreadyExists:
                    continue
                added.append(chain)
    return added


def _commit_chains(db: Client, connection_id: str, run_id: str, chains: list[PlannedChain], now: datetime) -> None:
    """Create `chains` (all of one stream or not) and count them, in one commit."""
    from google.cloud.firestore import Increment

    from shared.store.wire import RawBatch

    batch = RawBatch(db)
    per_stream: dict[str, dict[str, Any]] = {}
    for chain in chains:
        batch.create(chain_ref(db, connection_id, run_id, chain.chain_id), {**chain.document(), "updated_at": now})
        update = per_stream.setdefault(chain.stream, {"chains_total": 0})
        update["chains_total"] += 1
        if chain.window:
            update[f"windows.`{chain.partition}`"] = {"since": chain.since, "until": chain.until, "status": "open"}
    for stream, update in per_stream.items():
        batch.update(stream_ref(db, connection_id, run_id, stream), {**update, "chains_total": Increment(update["chains_total"])})
    batch.update(run_ref(db, connection_id, run_id), {"chains_total": Increment(len(chains))})
    batch.commit()


def ensure_stream(db: Client, connection_id: str, run_id: str, stream: str, mode: Mode) -> None:
    """A stream document for a child stream whose chains appear mid-run."""
    from google.api_core.exceptions import AlreadyExists

    doc = {**StreamRun(mode=mode).model_dump(), "full_pass": False, "windows": {}, "name": stream}
    try:
        stream_ref(db, connection_id, run_id, stream).create(doc)
    except AlreadyExists:
        pass  # created by an earlier page of this run: nothing to add


# -- the worker's view of a chain ---------------------------------------------------------------


@dataclass(frozen=True)
class ChainState:
    data: dict[str, Any]
    #: this task's page already has its checkpoint (the task is a replay)
    committed: bool
    #: the cursor after this page, as recorded with its checkpoint
    next_cursor: dict[str, Any] | None
    lease_held: bool
    lease: dict[str, Any] = field(default_factory=dict)
    #: the chain document's update time as read (a precondition for writing it unchanged)
    update_time: Any = None
    #: the run's created_at (the cursor never moves past the run's start)
    run_created: Any = None
    #: the other documents read in the same round trip, by path (`load_chain`'s `extra`)
    docs: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return bool(self.data.get("done"))


def load_chain(db: Client, task: ChunkTask, extra: list[DocumentReference] | None = None) -> ChainState | None:
    """The chain, this page's checkpoint, the lease, the run's start and the `extra`
    documents a task needs (its connection's credentials), read in one round trip and
    decoded from the raw answer (a task used to make four reads of these)."""
    from shared.store import wire

    refs = [
        chain_ref(db, task.connection_id, task.run_id, task.chain_id),
        page_ref(db, task, task.page),
        connection_ref(db, task.connection_id),
        run_ref(db, task.connection_id, task.run_id),
        *(extra or []),
    ]
    docs = wire.read(db, refs, None, by_path=True)
    chain, page, conn, run = (docs[r.path] for r in refs[:4])
    if not chain.exists:
        return None
    page_data = page.to_dict() or {}
    lease = lease_of(conn.to_dict() or {})
    return ChainState(
        data=chain.to_dict() or {},
        committed=page.exists,
        next_cursor=page_data.get("next_cursor"),
        lease_held=lease.get("run_id") == task.run_id,
        lease=lease,
        update_time=chain.update_time,
        run_created=(run.to_dict() or {}).get("created_at"),
        docs=docs,
    )


def renew_lease(db: Client, task: ChunkTask, lease: dict[str, Any], lease_ttl_s: int, now: datetime | None = None) -> None:
    """Push the lease out when half its time is gone: every attempt of every page calls it,
    so a run that is making progress (or retrying) never loses its lease; it costs one
    write per half TTL."""
    now = now or utcnow()
    if lease.get("run_id") != task.run_id or lease["expires_at"] - now >= timedelta(seconds=lease_ttl_s / 2):
        return
    conn = connection_ref(db, task.connection_id)

    def txn(transaction: Transaction) -> None:
        current = lease_of(conn.get(transaction=transaction).to_dict() or {})
        if current.get("run_id") == task.run_id:
            transaction.update(conn, {"lease": {"run_id": task.run_id, "expires_at": now + timedelta(seconds=lease_ttl_s),
                                                "renewed_at": now}})

    run_transaction(db, txn)


def hold_lease(db: Client, task: ChunkTask, until: datetime, lease_ttl_s: int) -> None:
    """Keep the run's lease until `until` plus its usual time: the run waits (a daily
    allowance's reset), it has not stopped, so the run doctor must not fail it meanwhile."""
    conn = connection_ref(db, task.connection_id)
    expires = until + timedelta(seconds=lease_ttl_s)

    def txn(transaction: Transaction) -> None:
        current = lease_of(conn.get(transaction=transaction).to_dict() or {})
        if current.get("run_id") == task.run_id and current["expires_at"] < expires:
            transaction.update(conn, {"lease": {**current, "expires_at": expires}})

    run_transaction(db, txn)


def touch_chain(db: Client, task: ChunkTask, now: datetime | None = None) -> None:
    """Record that the chain is being worked on (the stall detector reads updated_at)."""
    chain_ref(db, task.connection_id, task.run_id, task.chain_id).update({"updated_at": now or utcnow()})


@dataclass(frozen=True)
class PageResult:
    counts: Counts
    next_cursor: dict[str, Any] | None
    max_cursor: float | None
    #: keys of the page's records this run did not write (unchanged or older than stored),
    #: kept only for a full pass: the sweep spares them (what it wrote, it recognises by
    #: `_sync.synced_at`), so a first import keeps none
    keys: list[str] | None = None


def _page_document(task: ChunkTask, result: PageResult, now: datetime) -> dict[str, Any]:
    return {"index": task.page, "counts": result.counts.model_dump(), "next_cursor": result.next_cursor,
            "max_cursor": result.max_cursor, "keys": result.keys, "at": now}


def commit_page(db: Client, task: ChunkTask, result: PageResult, now: datetime | None = None) -> bool:
    """Record page task.page as saved (after its records are). False for a replay."""
    from google.api_core.exceptions import AlreadyExists
    from google.cloud.firestore import Increment
    from google.cloud.firestore_v1.transforms import Minimum

    from shared.store.wire import RawBatch

    now = now or utcnow()
    batch = RawBatch(db)
    batch.create(page_ref(db, task, task.page), _page_document(task, result, now))
    chain_update: dict[str, Any] = {"committed": Increment(1), "updated_at": now}
    for name, value in result.counts.model_dump().items():
        chain_update[f"counts.{name}"] = Increment(value)
    if result.next_cursor is None:
        chain_update["last_page"] = Minimum(task.page)
    batch.update(chain_ref(db, task.connection_id, task.run_id, task.chain_id), chain_update)
    try:
        batch.commit()
    except AlreadyExists:
        return False
    return True


#: a lease known to expire later than this cannot be lost before the task ends: a lease is
#: lost only by expiring (the run doctor fails the run), a task ends within its function's
#: 300-s timeout, and every task renews the lease when half its 30 minutes are gone
LEASE_SAFE_S = 600


def lease_safe(lease: dict[str, Any], run_id: str, now: datetime) -> bool:
    """The lease as read at the task's start is this run's and certainly still is."""
    expires = lease.get("expires_at")
    return lease.get("run_id") == run_id and expires is not None and (expires - now).total_seconds() > LEASE_SAFE_S


@dataclass(frozen=True)
class Folded:
    """What `commit_only_page` did."""

    #: False: a replay (the page was committed before); nothing was written
    committed: bool
    #: every chain of the run may be closed now: the run's counters as this commit left
    #: them (its increments' results, atomic with the close) do not rule it out. Only the
    #: commit that closes the last chain sees chains_closed reach chains_total, so the
    #: other closers need not read the run to find out (a read per task, #16).
    run_may_be_complete: bool = True


def commit_only_page(db: Client, task: ChunkTask, result: PageResult, chain: ChainState, *, lookback_s: int,
                     now: datetime | None = None) -> Folded | None:
    """Page 0 of a chain that ends with it (a child batch, a one-page listing, a small
    window): its checkpoint and the chain's close in one commit, where they took a commit,
    five reads and another commit. The chain is written under a precondition on the update
    time `load_chain` read, so its counts are the ones read plus this page's, and the
    checkpoint is created once ("must not exist"), so a replay changes nothing. None: not
    such a page, or the chain changed since it was read, or the lease is not certainly held:
    the caller commits the page and closes the chain the usual way."""
    from google.api_core.exceptions import Aborted, AlreadyExists, FailedPrecondition
    from google.cloud.firestore import Increment
    from google.cloud.firestore_v1.transforms import Minimum

    now = now or utcnow()
    if task.page != 0 or result.next_cursor is not None or chain.update_time is None or chain.done \
            or int(chain.data.get("committed", 0)) or not lease_safe(chain.lease, task.run_id, now):
        return None
    from shared.store.wire import RawBatch

    counts = Counts.model_validate(chain.data.get("counts") or {}).add(result.counts)
    batch = RawBatch(db)
    batch.create(page_ref(db, task, task.page), _page_document(task, result, now))
    chain_update: dict[str, Any] = {"committed": Increment(1), "last_page": Minimum(task.page), "updated_at": now,
                                    "done": True, "failed": False, "split": False, "max_cursor": result.max_cursor}
    for name, value in result.counts.model_dump().items():
        chain_update[f"counts.{name}"] = Increment(value)
    batch.update(chain_ref(db, task.connection_id, task.run_id, task.chain_id), chain_update,
                 last_update_time=chain.update_time)
    run_write = _close_updates(db, batch, task, {**chain.data, "counts": counts.model_dump()}, failed=False, pages=1,
                               max_cursor=result.max_cursor, lookback_s=lookback_s, run_created=chain.run_created,
                               now=now, error=None, split=False)
    try:
        results = batch.commit()
    except AlreadyExists:
        return Folded(committed=False)
    except (FailedPrecondition, Aborted):
        return None
    if chain.data.get("window") and chain.run_created is not None:
        _advance_windowed_cursor(db, task, chain.run_created, now)
    return Folded(committed=True, run_may_be_complete=_may_be_complete(results[run_write]))


def _may_be_complete(result: Any) -> bool:
    """From the run write's result: chains_closed >= chains_total after it (unknown: True)."""
    from shared.store.wire import decode

    values = [decode(value) for value in result.transform_results[:2]]
    if len(values) < 2 or not all(isinstance(v, int) for v in values):
        return True
    return bool(values[0] >= values[1])


# -- closing chains -------------------------------------------------------------------------------


def _prefix_end(windows: dict[str, dict[str, Any]], *, cap_at_newest: bool = True) -> float | None:
    """The end of the contiguous run of completed windows from the earliest one: the
    cursor may move there and never past a window that failed or is still open, nor (with
    `cap_at_newest`: a full pass by creation time) past the newest cursor value those
    windows saw (the vendor's clock, not ours: windows of creation time end at our now,
    which a vendor behind us has not reached). Incremental windows are searched on the
    cursor field itself and their lookback covers a clock behind ours; capping them would
    keep a quiet stream's cursor at its last change and search that whole span every run."""
    end: float | None = None
    newest: float | None = None
    for window in sorted((w for w in windows.values() if w.get("status") != "split"), key=lambda w: w["since"] or 0):
        if window.get("status") != "done":
            break
        end = window["until"]
        seen = window.get("max_cursor")
        if seen is not None and (newest is None or seen > newest):
            newest = seen
    return end if end is None or newest is None or not cap_at_newest else min(end, newest)


def _hwm(mode: str, since: float | None, max_cursor: float | None, run_created: datetime, lookback_s: int) -> float | None:
    """The next high-water mark: what we saw, never past the run's start (records that
    changed while the run paged past them are read again next time)."""
    seen = max(filter(None, [max_cursor, (since + lookback_s) if (mode == "incremental" and since) else None]), default=None)
    if seen is None:
        return None
    return min(seen, run_created.timestamp())


def complete_pages(db: Client, task: ChunkTask, last: int) -> tuple[bool, float | None]:
    """(pages 0..last all committed, their newest cursor)."""
    pages = (
        chain_ref(db, task.connection_id, task.run_id, task.chain_id)
        .collection("pages")
        .where(filter=condition("index", "<=", last))
        .select(["index", "max_cursor"])
        .stream()
    )
    indexes, newest = set(), None
    for snap in pages:
        indexes.add(snap.get("index"))
        cursor = snap.get("max_cursor")
        if cursor is not None and (newest is None or cursor > newest):
            newest = cursor
    return len(indexes) == last + 1, newest


def _read_one(db: Client, ref: DocumentReference, field_paths: list[str] | None = None) -> Stored:
    """One state document (`field_paths`: only those), decoded from the raw answer: the
    library's snapshot deep-copies the document twice (a stream's windows, every close)."""
    from shared.store import wire

    return wire.read(db, [ref], field_paths)[ref.id]


def close_chain_if_complete(db: Client, task: ChunkTask, *, lookback_s: int, run_created: datetime, now: datetime | None = None,
                            lease: dict[str, Any] | None = None) -> bool:
    """End the chain once its last page is known and every page 0..last is committed.
    `lease`: the lease as this task read it (its check is not read again while `lease_safe`)."""
    now = now or utcnow()
    chain = _read_one(db, chain_ref(db, task.connection_id, task.run_id, task.chain_id)).to_dict() or {}
    last = chain.get("last_page")
    if chain.get("done") or last is None:
        return False
    complete, max_cursor = complete_pages(db, task, int(last))
    if not complete:
        return False
    return _end_chain(db, task, failed=False, pages=int(last) + 1, max_cursor=max_cursor, lookback_s=lookback_s,
                      run_created=run_created, now=now, lease=lease)


def fail_chain(db: Client, task: ChunkTask, code: str, message: str, *, run_created: datetime | None = None,
               now: datetime | None = None) -> bool:
    """Stop a chain that cannot go on (the vendor refuses, retries are spent), recording why."""
    now = now or utcnow()
    error = RunError(stream=task.stream, code=code, message=message[:500], at=now, chain=task.chain_id)
    closed = _end_chain(db, task, failed=True, pages=None, max_cursor=None, lookback_s=0, run_created=run_created,
                        now=now, error=error)
    if closed and task.partition != SWEEP_PARTITION:
        # the full pass is not complete: nothing will be swept, so its sweep chain ends now
        close_sweep_chain(db, task.model_copy(update={"partition": SWEEP_PARTITION, "page": 0}), now)
    return closed


def split_chain(db: Client, task: ChunkTask, halves: list[PlannedChain], now: datetime | None = None) -> bool:
    """Replace a window whose results reach the vendor's cap by its halves (added first, so
    the run can never look complete in between)."""
    add_chains(db, task.connection_id, task.run_id, halves, now)
    return _end_chain(db, task, failed=False, pages=0, max_cursor=None, lookback_s=0, run_created=None,
                      now=now or utcnow(), split=True)


def close_sweep_chain(db: Client, task: ChunkTask, now: datetime | None = None) -> bool:
    """Close a stream's sweep chain (after its sweep): no pages, no cursor to move."""
    return _end_chain(db, task, failed=False, pages=0, max_cursor=None, lookback_s=0, run_created=None,
                      now=now or utcnow())


def _end_chain(
    db: Client,
    task: ChunkTask,
    *,
    failed: bool,
    pages: int | None,
    max_cursor: float | None,
    lookback_s: int,
    run_created: datetime | None,
    now: datetime,
    error: RunError | None = None,
    split: bool = False,
    lease: dict[str, Any] | None = None,
) -> bool:
    from google.api_core.exceptions import Aborted, FailedPrecondition

    from shared.store.txn import Contention
    from shared.store.wire import RawBatch

    cref = chain_ref(db, task.connection_id, task.run_id, task.chain_id)
    # A plain read: a transaction that read the connection would hold every write to it
    # (lease renewals, the finalize) behind each closing chain.
    if not (lease is not None and lease_safe(lease, task.run_id, now)) and \
            lease_of(connection_ref(db, task.connection_id).get(["lease"]).to_dict() or {}).get("run_id") != task.run_id:
        return False  # the run is over: a late worker changes nothing
    for _ in range(CLOSE_ATTEMPTS):
        snap = _read_one(db, cref)
        chain = snap.to_dict()
        if not chain or chain.get("done"):
            return False  # already ended
        batch = RawBatch(db)
        batch.update(cref, {"done": True, "failed": failed, "split": split, "max_cursor": max_cursor, "updated_at": now},
                     last_update_time=snap.update_time)
        _close_updates(db, batch, task, chain, failed=failed, pages=pages, max_cursor=max_cursor, lookback_s=lookback_s,
                       run_created=run_created, now=now, error=error, split=split)
        try:
            batch.commit()
        except (FailedPrecondition, Aborted):
            continue  # the chain changed since it was read (a page committed, another closer won): read again
        if chain.get("window") and run_created is not None:
            _advance_windowed_cursor(db, task, run_created, now)
        return True
    raise Contention(f"chain {task.chain_id} kept changing while it was being closed")


#: compare-and-set rounds of a chain close before it counts as contention (a retry can help)
CLOSE_ATTEMPTS = 20


def _close_updates(db: Client, batch: RawBatch, task: ChunkTask, chain: dict[str, Any], *, failed: bool, pages: int | None,
                   max_cursor: float | None, lookback_s: int, run_created: datetime | None, now: datetime,
                   error: RunError | None, split: bool) -> int:
    """The blind writes of a chain close: its stream's and the run's counters, its window's
    status, and the cursor of a stream that is not windowed. Returns the index of the run's
    write in the batch (its first two transform results: chains_closed, chains_total)."""
    from google.cloud.firestore import ArrayRemove, ArrayUnion, Increment

    counts = Counts.model_validate(chain.get("counts") or {})
    stream_update: dict[str, Any] = {
        "chains_closed": Increment(1),
        "chains_failed": Increment(1 if failed else 0),
        "pages": Increment(pages if pages is not None else int(chain.get("committed", 0))),
    }
    for name, value in counts.model_dump().items():
        stream_update[f"counts.{name}"] = Increment(value)
    cursor_update: dict[str, Any] = {}
    if chain.get("window"):
        stream_update[f"windows.`{task.partition}`.status"] = "split" if split else ("failed" if failed else "done")
        stream_update[f"windows.`{task.partition}`.max_cursor"] = max_cursor
    elif not failed and not split and run_created is not None and not chain.get("parent_ids"):
        hwm = _hwm(chain["mode"], chain.get("since"), max_cursor, run_created, lookback_s)
        if hwm is not None:
            cursor_update["hwm"] = hwm
    parents = chain.get("parent_ids") or []
    if parents:
        cursor_update["pending_parents"] = ArrayUnion(parents) if failed else ArrayRemove(parents)
    if cursor_update:
        batch.set(cursor_ref(db, task.connection_id, task.stream), {**cursor_update, "run_id": task.run_id, "at": now},
                  merge=True)
    batch.update(stream_ref(db, task.connection_id, task.run_id, task.stream), stream_update)
    # chains_total + 0: the commit answers both counters as they are after it (see Folded)
    run_update: dict[str, Any] = {"chains_closed": Increment(1), "chains_total": Increment(0)}
    if error is not None:
        run_update["errors"] = ArrayUnion([error.model_dump()])
    batch.update(run_ref(db, task.connection_id, task.run_id), run_update)
    return len(batch.writes) - 1


def _advance_windowed_cursor(db: Client, task: ChunkTask, run_created: datetime, now: datetime) -> None:
    """Move a windowed stream's cursor to the end of its completed prefix of windows, read
    after this window's status was written: of closers that race, the last to write reads
    every status, and Maximum keeps an earlier, smaller end from moving the cursor back."""
    from google.cloud.firestore_v1.transforms import Maximum

    doc = _read_one(db, stream_ref(db, task.connection_id, task.run_id, task.stream), ["windows", "mode"]).to_dict() or {}
    end = _prefix_end(doc.get("windows") or {}, cap_at_newest=doc.get("mode") != "incremental")
    if end is not None:
        cursor_ref(db, task.connection_id, task.stream).set(
            {"hwm": Maximum(min(end, run_created.timestamp())), "run_id": task.run_id, "at": now}, merge=True)


def stream_ready_to_sweep(db: Client, connection_id: str, run_id: str, stream: str) -> ChunkTask | None:
    """The sweep task of `stream` once every other chain of the stream has closed (None
    before, or when the stream has no sweep or it is done). Closers that race may each get
    it: the task's deterministic name makes them one."""
    doc = _read_one(db, stream_ref(db, connection_id, run_id, stream), ["sweep", "chains_closed", "chains_total"]).to_dict() or {}
    if not doc.get("sweep") or int(doc.get("chains_closed", 0)) < int(doc.get("chains_total", 0)) - 1:
        return None
    sweep = _read_one(db, chain_ref(db, connection_id, run_id, chain_id(stream, SWEEP_PARTITION)), ["done"])
    if not sweep.exists or (sweep.to_dict() or {}).get("done"):
        return None
    return ChunkTask(connection_id=connection_id, run_id=run_id, stream=stream, partition=SWEEP_PARTITION, page=0)


#: the partition of a stream's sweep chain
SWEEP_PARTITION = "sweep"


# -- ending a run -------------------------------------------------------------------------------


def _fail_run_in(transaction: Transaction, db: Client, connection_id: str, run_id: str, code: str, message: str,
                 now: datetime) -> None:
    from google.cloud.firestore import ArrayUnion

    error = RunError(stream="*", code=code, message=message, at=now)
    transaction.update(run_ref(db, connection_id, run_id), {
        "status": RunStatus.failed.value, "finished_at": now, "errors": ArrayUnion([error.model_dump()])})


#: a finalize claimed longer ago than this was abandoned (its task died): another may take it
FINALIZE_CLAIM_S = 30.0


def claim_finalize(db: Client, connection_id: str, run_id: str, now: datetime | None = None) -> bool:
    """True for exactly one of the closers that find the run complete: the one whose
    compare-and-set of `finalizing` on the run lands first (or that takes over a claim
    abandoned for FINALIZE_CLAIM_S). Finalizers racing in a transaction queued on the run's
    and the connection's locks; this costs the losers one read."""
    from google.api_core.exceptions import Aborted, FailedPrecondition

    from shared.store import wire

    now = now or utcnow()
    ref = run_ref(db, connection_id, run_id)
    snap = wire.read(db, [ref], None)[run_id]  # every chain's close reads it: no snapshot deep copies
    data = snap.to_dict() or {}
    if not data or RunStatus(data.get("status", "failed")).finished or \
            int(data.get("chains_closed", 0)) < int(data.get("chains_total", 0)):
        return False
    claimed = data.get("finalizing")
    if claimed is not None and (now - claimed).total_seconds() < FINALIZE_CLAIM_S:
        return False
    try:
        ref.update({"finalizing": now}, option=db.write_option(last_update_time=snap.update_time))
    except (FailedPrecondition, Aborted):
        return False  # another closer claimed it (or the run changed) first
    return True


def streams_of(db: Client, connection_id: str, run_id: str) -> dict[str, dict[str, Any]]:
    return {s.id: s.to_dict() or {} for s in run_ref(db, connection_id, run_id).collection("streams").stream()}


def finalize_run(db: Client, connection_id: str, run_id: str, now: datetime | None = None) -> Run | None:
    """Record the outcome of a run whose chains have all closed, and free its lease (only
    its own). None when it is not complete, already final, or no longer holds the lease."""
    now = now or utcnow()
    rref = run_ref(db, connection_id, run_id)
    conn = connection_ref(db, connection_id)
    streams = streams_of(db, connection_id, run_id)

    def txn(transaction: Transaction) -> Run | None:
        data = rref.get(transaction=transaction).to_dict()
        conn_data = conn.get(transaction=transaction).to_dict() or {}
        lease = lease_of(conn_data)
        if data is None or RunStatus(data["status"]).finished or lease.get("run_id") != run_id:
            return None
        if int(data.get("chains_closed", 0)) < int(data.get("chains_total", 0)):
            return None
        run = _assemble(data, streams)
        # a child stream with no chains did nothing (no parent changed): it neither succeeds
        # nor fails, so a run whose every parent failed is failed, not partial
        statuses = [s.status for s in run.streams.values() if s.chains_total]
        if statuses and all(s == "failed" for s in statuses):
            run.status = RunStatus.failed
        elif "failed" in statuses or run.counts.failed or run.errors:
            run.status = RunStatus.partial
        else:
            run.status = RunStatus.succeeded
        run.finished_at = now
        run.duration_s = round((now - (run.started_at or run.created_at)).total_seconds(), 3)
        transaction.set(rref, run.model_dump(mode="python", exclude=set(Run.DERIVED)))
        conn_update: dict[str, Any] = {"lease": None, "last_run_status": run.status.value, "last_finished_at": now}
        if run.status != RunStatus.failed:
            conn_update["last_success_at"] = now
        else:
            conn_update["last_error"] = {"code": run.errors[0].code if run.errors else "run_failed",
                                         "message": run.errors[0].message if run.errors else "The run failed.", "at": now}
        first = run.errors[0] if run.errors else None
        conn_update.update(events.add_in(transaction, db, connection_id, conn_data, events.run_event_kind(run.status.value),
                                         now, run_id=run_id, counts=run.counts,
                                         reason={"code": first.code, "message": first.message} if first else None))
        transaction.update(conn, conn_update)
        return run

    finished: Run | None = run_transaction(db, txn)
    if finished is not None:
        report_finished(connection_id, run_id, finished.vendor, finished.status.value, finished.counts,
                        finished.errors[0].code if finished.errors else None)
    return finished


def report_finished(connection_id: str, run_id: str, vendor: str, status: str, counts: Counts | None,
                    first_error: str | None) -> None:
    """One structured line per ended run (ERROR when failed, WARNING when partial): the
    log-based metric behind the failed-syncs alert counts these."""
    level = {"failed": logging.ERROR, "partial": logging.WARNING}.get(status, logging.INFO)
    log.log(level, f"sync run {status}", extra={
        "event": RUN_FINISHED_EVENT, "status": status, "connection_id": connection_id, "run_id": run_id,
        "vendor": vendor, "counts": counts.model_dump() if counts else None, "first_error": first_error})


def fail_run(db: Client, connection_id: str, run_id: str, code: str, message: str, now: datetime | None = None) -> bool:
    """End a run that cannot finish (its lease expired, its tasks are gone for good) as
    failed, and free the lease if it is still the run's."""
    now = now or utcnow()
    rref = run_ref(db, connection_id, run_id)
    conn = connection_ref(db, connection_id)

    def txn(transaction: Transaction) -> bool:
        data = rref.get(transaction=transaction).to_dict()
        conn_data = conn.get(transaction=transaction).to_dict() or {}
        lease = lease_of(conn_data)
        if data is None or RunStatus(data["status"]).finished:
            return False
        _fail_run_in(transaction, db, connection_id, run_id, code, message, now)
        event = events.add_in(transaction, db, connection_id, conn_data, "run_failed", now, run_id=run_id,
                              reason={"code": code, "message": message})
        if lease.get("run_id") == run_id:
            transaction.update(conn, {"lease": None, "last_run_status": RunStatus.failed.value, "last_finished_at": now,
                                      "last_error": {"code": code, "message": message, "at": now}, **event})
        elif event and conn_data:
            transaction.update(conn, event)
        return True

    failed: bool = run_transaction(db, txn)
    if failed:
        report_finished(connection_id, run_id, str((rref.get().to_dict() or {}).get("vendor", "")), "failed", None, code)
    return failed


def _assemble(data: dict[str, Any], streams: dict[str, dict[str, Any]]) -> Run:
    run = Run.model_validate({**data, "streams": {}})
    total = Counts()
    for name, doc in streams.items():
        counts = Counts.model_validate(doc.get("counts") or {})
        closed, failed = int(doc.get("chains_closed", 0)), int(doc.get("chains_failed", 0))
        done = closed >= int(doc.get("chains_total", 0))
        status = "failed" if failed else ("succeeded" if done else "running")
        run.streams[name] = StreamRun(mode=doc.get("mode", "full"), status=status, pages=int(doc.get("pages", 0)),
                                      counts=counts, since=doc.get("since"), chains_total=int(doc.get("chains_total", 0)),
                                      chains_closed=closed, chains_failed=failed)
        total = total.add(counts)
    run.counts = total
    return run


# -- reading runs -------------------------------------------------------------------------------


def get_run(db: Client, connection_id: str, run_id: str) -> Run:
    """The run, with live counts summed from its chains while it is still going."""
    ref = run_ref(db, connection_id, run_id)
    snap = ref.get()
    if not snap.exists:
        raise NotFound("No such sync run.", code="run_not_found")
    data = snap.to_dict() or {}
    if RunStatus(data.get("status", "failed")).finished and data.get("streams"):
        return Run.model_validate(data)
    run = _assemble(data, streams_of(db, connection_id, run_id))
    if not run.status.finished:
        for chain in ref.collection("chains").where(filter=condition("done", "==", False)).stream():
            doc = chain.to_dict() or {}
            counts = Counts.model_validate(doc.get("counts") or {})
            stream = run.streams.get(doc.get("stream", ""))
            if stream is not None:
                stream.counts = stream.counts.add(counts)
                stream.pages += int(doc.get("committed", 0))
            run.counts = run.counts.add(counts)
    return run


def list_runs(db: Client, connection_id: str, limit: int = 20, before: datetime | None = None) -> list[Run]:
    from google.cloud.firestore import Query

    query = connection_ref(db, connection_id).collection("runs").order_by("created_at", direction=Query.DESCENDING)
    if before is not None:
        query = query.where(filter=condition("created_at", "<", before))
    runs = []
    for snap in query.limit(limit).stream():
        data = snap.to_dict() or {}
        runs.append(Run.model_validate(data) if data.get("streams") else get_run(db, connection_id, snap.id))
    return runs


def connection_state(db: Client, connection_id: str) -> dict[str, Any]:
    return connection_ref(db, connection_id).get().to_dict() or {}


def open_chains(db: Client, connection_id: str, run_id: str) -> list[dict[str, Any]]:
    return [
        {**(snap.to_dict() or {}), "id": snap.id}
        for snap in run_ref(db, connection_id, run_id).collection("chains").where(filter=condition("done", "==", False)).stream()
    ]


def resume_point(db: Client, connection_id: str, run_id: str, chain: str) -> tuple[int, dict[str, Any] | None] | None:
    """Where a stalled chain resumes: the first page without a checkpoint and its cursor
    (the cursor recorded by the page before it). None when nothing is known to be missing."""
    pages = {
        int(s.get("index")): s.get("next_cursor")
        for s in chain_ref(db, connection_id, run_id, chain).collection("pages").select(["index", "next_cursor"]).stream()
    }
    page = 0
    while page in pages:
        if pages[page] is None:
            return None  # the end was committed; the chain closes on its own replay
        page += 1
    return page, (pages[page - 1] if page > 0 else None)
