"""Run state in Firestore: leases, runs, chains (one per stream and partition), cursors.

    connections/{c}                       lease, last run, cursors (high-water marks)
    connections/{c}/runs/{r}              the run record (status, counts, errors, timings)
    connections/{c}/runs/{r}/chains/{s}   a chain: pages committed, its last page, counts
    .../chains/{s}/pages/{n}              page n's checkpoint: counts, the request after it

Pages of a chain are pipelined: page n+1 is enqueued as soon as page n is fetched, and
each page commits its own checkpoint after its records are saved (created once, with the
chain's counters, in one atomic batch, so a replay changes nothing). A chain ends when
its last page is known and every page up to it is committed; only then does the stream's
high-water mark move. Per-page writes touch the page and chain documents only; the run
and connection documents are written when a chain ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from shared.errors import Conflict, NotFound
from shared.sync.models import ChunkTask, Counts, Mode, Run, RunError, RunStatus, StreamRun
from shared.vendors.pagination import PageRequest

if TYPE_CHECKING:
    from google.cloud.firestore import Client, DocumentReference, Transaction


#: chains of one run close at about the same time and contend for the run document
TXN_ATTEMPTS = 10


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def connection_ref(db: Client, connection_id: str) -> DocumentReference:
    return db.collection("connections").document(connection_id)


def run_ref(db: Client, connection_id: str, run_id: str) -> DocumentReference:
    return connection_ref(db, connection_id).collection("runs").document(run_id)


def chain_ref(db: Client, connection_id: str, run_id: str, chain_id: str) -> DocumentReference:
    return run_ref(db, connection_id, run_id).collection("chains").document(chain_id)


@dataclass(frozen=True)
class PlannedChain:
    stream: str
    partition: str
    mode: Mode
    since: float | None
    request: PageRequest

    @property
    def chain_id(self) -> str:
        return f"{self.stream}~{self.partition}"


def _transactional(fn):  # type: ignore[no-untyped-def]
    from google.cloud import firestore

    return firestore.transactional(fn)


def cursors(db: Client, connection_id: str) -> dict[str, float]:
    snap = connection_ref(db, connection_id).get()
    data = snap.to_dict() or {}
    return {k: v["hwm"] for k, v in (data.get("cursors") or {}).items() if v.get("hwm") is not None}


def start_run(
    db: Client,
    *,
    connection_id: str,
    vendor: str,
    run_id: str,
    trigger: str,
    requested_by: str | None,
    chains: list[PlannedChain],
    lease_ttl_s: int,
    now: datetime | None = None,
) -> Run:
    """Take the connection's lease and record the run; 409 if another run holds the lease."""
    now = now or utcnow()
    conn = connection_ref(db, connection_id)

    def txn(transaction: Transaction) -> Run:
        data = conn.get(transaction=transaction).to_dict() or {}
        lease = data.get("lease") or {}
        if lease.get("run_id") and lease["run_id"] != run_id:
            if lease["expires_at"] > now:
                raise Conflict(
                    "A sync of this connection is already running.",
                    code="sync_in_progress",
                    details={"run_id": lease["run_id"]},
                )
            # The holder stopped renewing: its workers died for good. Record that.
            transaction.update(
                run_ref(db, connection_id, lease["run_id"]),
                {"status": RunStatus.failed.value, "finished_at": now, "errors": [
                    RunError(stream="*", code="lease_expired", message="The run stopped making progress.", at=now).model_dump()
                ]},
            )
        run = Run(
            run_id=run_id,
            connection_id=connection_id,
            vendor=vendor,
            trigger=trigger,  # type: ignore[arg-type]
            status=RunStatus.queued,
            requested_by=requested_by,
            created_at=now,
            chains_open=len(chains),
            streams={c.stream: StreamRun(mode=c.mode, since=c.since) for c in chains},
        )
        transaction.set(run_ref(db, connection_id, run_id), run.model_dump(mode="python"))
        for chain in chains:
            transaction.set(
                chain_ref(db, connection_id, run_id, chain.chain_id),
                {
                    "stream": chain.stream,
                    "partition": chain.partition,
                    "mode": chain.mode,
                    "since": chain.since,
                    "committed": 0,
                    "last_page": None,
                    "done": False,
                    "failed": False,
                    "max_cursor": None,
                    "counts": Counts().model_dump(),
                },
            )
        transaction.set(
            conn,
            {
                "vendor": vendor,
                "lease": {"run_id": run_id, "expires_at": now + timedelta(seconds=lease_ttl_s)},
                "last_run_id": run_id,
            },
            merge=True,
        )
        return run

    return _transactional(txn)(db.transaction(max_attempts=TXN_ATTEMPTS))


def page_ref(db: Client, task: ChunkTask, page: int) -> DocumentReference:
    return chain_ref(db, task.connection_id, task.run_id, task.chain_id).collection("pages").document(f"{page:06d}")


@dataclass(frozen=True)
class ChainState:
    done: bool
    #: this task's page already has its checkpoint (the task is a replay)
    committed: bool
    #: the request after this page, as recorded with its checkpoint
    next_request: PageRequest | None
    run_finished: bool
    lease_held: bool


def load_chain(db: Client, task: ChunkTask) -> ChainState | None:
    snap = chain_ref(db, task.connection_id, task.run_id, task.chain_id).get()
    if not snap.exists:
        return None
    data = snap.to_dict() or {}
    page = page_ref(db, task, task.page).get()
    page_data = page.to_dict() or {}
    run = run_ref(db, task.connection_id, task.run_id).get().to_dict() or {}
    lease = (connection_ref(db, task.connection_id).get().to_dict() or {}).get("lease") or {}
    return ChainState(
        done=bool(data["done"]),
        committed=page.exists,
        next_request=PageRequest.model_validate(page_data["next_request"]) if page_data.get("next_request") else None,
        run_finished=RunStatus(run.get("status", "failed")).finished,
        lease_held=lease.get("run_id") == task.run_id,
    )


def mark_running(db: Client, task: ChunkTask, now: datetime | None = None) -> None:
    """queued -> running, once. Optimistic (a precondition on the update time) rather than
    a transaction, so the first pages of every chain do not queue behind one lock."""
    from google.api_core import exceptions as gexc

    now = now or utcnow()
    ref = run_ref(db, task.connection_id, task.run_id)
    snap = ref.get()
    if (snap.to_dict() or {}).get("status") != RunStatus.queued.value:
        return
    try:
        ref.update(
            {"status": RunStatus.running.value, "started_at": now},
            option=db.write_option(last_update_time=snap.update_time),
        )
    except (gexc.FailedPrecondition, gexc.Aborted):
        pass  # someone else changed the run first: it is running (or beyond) already


def renew_lease(db: Client, task: ChunkTask, lease_ttl_s: int, now: datetime | None = None) -> None:
    """Push the lease out when half its time is gone; rare, so it costs one write per half-TTL."""
    now = now or utcnow()
    conn = connection_ref(db, task.connection_id)
    lease = (conn.get().to_dict() or {}).get("lease") or {}
    if lease.get("run_id") != task.run_id or lease["expires_at"] - now >= timedelta(seconds=lease_ttl_s / 2):
        return

    def txn(transaction: Transaction) -> None:
        current = (conn.get(transaction=transaction).to_dict() or {}).get("lease") or {}
        if current.get("run_id") == task.run_id:
            transaction.update(conn, {"lease": {"run_id": task.run_id, "expires_at": now + timedelta(seconds=lease_ttl_s)}})

    _transactional(txn)(db.transaction(max_attempts=TXN_ATTEMPTS))


@dataclass(frozen=True)
class PageResult:
    counts: Counts
    next_request: PageRequest | None
    max_cursor: float | None


def _hwm(mode: str, since: float | None, max_cursor: float | None, run_created: datetime, lookback_s: int) -> float | None:
    """The next high-water mark: what we saw, never past the run's start (records that
    changed while the run paged past them are read again next time)."""
    seen = max(filter(None, [max_cursor, (since + lookback_s) if (mode == "incremental" and since) else None]), default=None)
    if seen is None:
        return None
    return min(seen, run_created.timestamp())


def commit_page(
    db: Client,
    task: ChunkTask,
    result: PageResult,
    *,
    lookback_s: int,
    now: datetime | None = None,
) -> bool:
    """Record page task.page as saved (after its records are). False for a replay."""
    from google.api_core.exceptions import AlreadyExists
    from google.cloud.firestore import Increment

    now = now or utcnow()
    cref = chain_ref(db, task.connection_id, task.run_id, task.chain_id)
    batch = db.batch()
    batch.create(
        page_ref(db, task, task.page),
        {
            "counts": result.counts.model_dump(),
            "next_request": result.next_request.model_dump() if result.next_request else None,
            "max_cursor": result.max_cursor,
            "at": now,
        },
    )
    chain_update: dict[str, Any] = {"committed": Increment(1), "updated_at": now}
    for name, value in result.counts.model_dump().items():
        chain_update[f"counts.{name}"] = Increment(value)
    if result.next_request is None:
        chain_update["last_page"] = task.page
    batch.update(cref, chain_update)
    try:
        batch.commit()
    except AlreadyExists:
        return False
    close_chain_if_complete(db, task, lookback_s=lookback_s, now=now)
    return True


def close_chain_if_complete(db: Client, task: ChunkTask, *, lookback_s: int, now: datetime | None = None) -> bool:
    """End the chain once its last page is known and every page up to it is committed.

    Every commit reads the chain after its own update, so the commit that completes the
    chain always sees it complete; two that both do are resolved by the `done` flag.
    """
    now = now or utcnow()
    cref = chain_ref(db, task.connection_id, task.run_id, task.chain_id)
    chain = cref.get().to_dict() or {}
    last = chain.get("last_page")
    if chain.get("done") or last is None or int(chain.get("committed", 0)) < last + 1:
        return False
    cursors_seen = [
        snap.get("max_cursor")
        for snap in cref.collection("pages").select(["max_cursor"]).stream()
        if snap.get("max_cursor") is not None
    ]
    max_cursor = max(cursors_seen, default=None)
    rref = run_ref(db, task.connection_id, task.run_id)
    conn = connection_ref(db, task.connection_id)

    def txn(transaction: Transaction) -> bool:
        current = cref.get(transaction=transaction).to_dict() or {}
        run_data = rref.get(transaction=transaction).to_dict()
        if current.get("done") or run_data is None:
            return False
        transaction.update(cref, {"done": True, "max_cursor": max_cursor, "updated_at": now})
        conn_update: dict[str, Any] = {}
        hwm = _hwm(current["mode"], current.get("since"), max_cursor, run_data["created_at"], lookback_s)
        if hwm is not None:
            conn_update[f"cursors.{task.stream}"] = {"hwm": hwm, "run_id": task.run_id, "at": now}
        counts = Counts.model_validate(current["counts"])
        _close_chain(transaction, db, task, run_data, counts, pages=last + 1, failed=False, conn_update=conn_update, now=now)
        if conn_update:
            transaction.update(conn, conn_update)
        return True

    return _transactional(txn)(db.transaction(max_attempts=TXN_ATTEMPTS))


def fail_chain(db: Client, task: ChunkTask, code: str, message: str, now: datetime | None = None) -> bool:
    """Stop a chain that cannot go on (the vendor refuses, retries are spent), recording why."""
    now = now or utcnow()
    cref = chain_ref(db, task.connection_id, task.run_id, task.chain_id)
    rref = run_ref(db, task.connection_id, task.run_id)
    conn = connection_ref(db, task.connection_id)

    def txn(transaction: Transaction) -> bool:
        chain = cref.get(transaction=transaction).to_dict()
        run_data = rref.get(transaction=transaction).to_dict()
        if not chain or chain["done"] or run_data is None:
            return False
        transaction.update(cref, {"done": True, "failed": True, "updated_at": now})
        run_data = {**run_data, "errors": [*run_data.get("errors", []), RunError(stream=task.stream, code=code, message=message[:500], at=now).model_dump()]}
        conn_update: dict[str, Any] = {}
        _close_chain(transaction, db, task, run_data, Counts.model_validate(chain["counts"]), pages=int(chain["committed"]), failed=True, conn_update=conn_update, now=now)
        if conn_update:
            transaction.update(conn, conn_update)
        return True

    return _transactional(txn)(db.transaction(max_attempts=TXN_ATTEMPTS))


def _close_chain(
    transaction: Transaction,
    db: Client,
    task: ChunkTask,
    run_data: dict[str, Any],
    chain_counts: Counts,
    *,
    pages: int,
    failed: bool,
    conn_update: dict[str, Any],
    now: datetime,
) -> None:
    run = Run.model_validate(run_data)
    stream = run.streams.get(task.stream) or StreamRun(mode=task.mode)
    stream.counts = stream.counts.add(chain_counts)
    stream.pages += pages
    stream.status = "failed" if failed or stream.status == "failed" else "succeeded"
    run.streams[task.stream] = stream
    run.counts = run.counts.add(chain_counts)
    run.chains_open -= 1
    if run.status == RunStatus.queued:
        run.status, run.started_at = RunStatus.running, now
    if run.chains_open <= 0:
        statuses = [s.status for s in run.streams.values()]
        if all(s == "failed" for s in statuses):
            run.status = RunStatus.failed
        elif "failed" in statuses or run.counts.failed:
            run.status = RunStatus.partial
        else:
            run.status = RunStatus.succeeded
        run.finished_at = now
        run.duration_s = round((now - (run.started_at or run.created_at)).total_seconds(), 3)
        conn_update["lease"] = None
        conn_update["last_run_status"] = run.status.value
        conn_update["last_finished_at"] = now
        if run.status != RunStatus.failed:
            conn_update["last_success_at"] = now
    transaction.set(run_ref(db, task.connection_id, task.run_id), run.model_dump(mode="python"))


def get_run(db: Client, connection_id: str, run_id: str) -> Run:
    """The run, with live counts summed from its chains while it is still going."""
    snap = run_ref(db, connection_id, run_id).get()
    if not snap.exists:
        raise NotFound("No such sync run.", code="run_not_found")
    run = Run.model_validate(snap.to_dict())
    if not run.status.finished:
        total = Counts()
        for chain in run_ref(db, connection_id, run_id).collection("chains").stream():
            data = chain.to_dict() or {}
            counts = Counts.model_validate(data.get("counts") or {})
            total = total.add(counts)
            stream = run.streams.get(data.get("stream", ""))
            if stream and not data.get("done"):
                stream.counts = stream.counts.add(counts)
                stream.pages += int(data.get("committed", 0))
        run.counts = total
    return run


def list_runs(db: Client, connection_id: str, limit: int = 20, before: datetime | None = None) -> list[Run]:
    from google.cloud.firestore import Query

    query = connection_ref(db, connection_id).collection("runs").order_by("created_at", direction=Query.DESCENDING)
    if before is not None:
        query = query.where("created_at", "<", before)
    return [Run.model_validate(s.to_dict()) for s in query.limit(limit).stream()]


def connection_state(db: Client, connection_id: str) -> dict[str, Any]:
    return connection_ref(db, connection_id).get().to_dict() or {}
