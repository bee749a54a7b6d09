"""Run one chunk: fetch one page, enqueue the next, save this one, commit its checkpoint.

The order is the guarantee: a page's records are saved before its checkpoint is
committed, and a stream's cursor moves only when every page of it is committed. The next
page is enqueued as soon as its cursor is known, so fetching page n+1 overlaps saving
page n. A crash at any point is healed by the Cloud Tasks retry of the same task: a page
already committed is recognised (replay) and only its continuation is enqueued again,
which the deterministic task name deduplicates.

The task says only where to resume; the request is rebuilt here from the stream's
declaration and the chain's record, and goes only to the connection's own host.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from shared.connections import breaker
from shared.store.records import Provenance
from shared.sync import budgets, finish, state
from shared.sync.ingest import ingest, ingest_children, tombstone_listed
from shared.sync.models import ChunkTask, Counts
from shared.vendors.connector import ConnectionConfig, Connector, RequestSpec, Slice, Stream, Sweep
from shared.vendors.errors import AllowanceSpent, VendorError, VendorUnavailable
from shared.vendors.http import VendorClient
from shared.vendors.pagination import PageRequest, dig

if TYPE_CHECKING:
    from google.cloud.firestore import Client

log = logging.getLogger("tributary.sync.worker")

#: a child stream's pages fetched inline for one parent before the task gives up on it
MAX_CHILD_PAGES = 50


@dataclass(frozen=True)
class ChunkOutcome:
    status: Literal["done", "replay", "stale", "failed", "split", "deferred"]
    counts: Counts = field(default_factory=Counts)
    next_page: int | None = None
    #: the next page of a scroll, for this task to read now (`RequestSpec.scroll_idle_s`)
    held: ChunkTask | None = None


class RetryLater(Exception):
    """A transient failure: the task should be retried by Cloud Tasks, with backoff."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class BreakerOpen(Exception):
    """The connection's circuit breaker is open: the chunk waits until `until`."""

    def __init__(self, until: datetime | None) -> None:
        super().__init__(f"circuit breaker open until {until}")
        self.until = until


@dataclass(frozen=True)
class ConnectionContext:
    """What the worker needs of a connection: its connector, config, and a way to open a
    vendor client with its credentials."""

    connection_id: str
    connector: Connector
    config: ConnectionConfig
    open_client: Callable[[], VendorClient]
    selected: Callable[[str], bool] = lambda _: True
    #: the breaker as read with the connection (None: read it from the store)
    breaker: breaker.BreakerState | None = None


@dataclass(frozen=True)
class ContextReader:
    """A connection's context built from documents the task reads anyway: `refs` are read
    in the task's one batch get with its chain, page, lease and run (`state.load_chain`),
    and `build` makes the context of them (NotFound for a deleted connection), so a task
    reads no connection document of its own."""

    refs: Callable[[str], list[Any]]
    build: Callable[[str, dict[str, Any]], ConnectionContext]


@dataclass
class WorkerDeps:
    db: Client
    enqueue: Callable[[ChunkTask], bool]
    #: connection id -> its context (raises NotFound for a deleted connection)
    context: Callable[[str], ConnectionContext]
    lease_ttl_s: int
    #: how long one chunk may spend fetching before it hands the page back to Cloud Tasks;
    #: below the function's timeout, leaving room to save and commit the page
    time_budget_s: float = 180.0
    sleep: Callable[[float], None] = time.sleep
    breaker_policy: breaker.BreakerPolicy = field(default_factory=breaker.BreakerPolicy)
    #: enqueue a task to run no sooner than the given time (Cloud Tasks' schedule_time);
    #: None: a deferred chunk is handed back to Cloud Tasks' retry with Retry-After instead
    enqueue_at: Callable[[ChunkTask, datetime], bool] | None = None
    #: build the context from the task's own batch get (None: `context` reads it)
    context_reader: ContextReader | None = None


def first_request(stream: Stream[Any], spec: RequestSpec, chain: dict[str, Any], config: ConnectionConfig,
                  parent_id: str | None = None) -> PageRequest:
    window = Slice(since=chain.get("since"), until=chain.get("until"), parent_id=parent_id, config=config)
    return spec.paginator.first(spec.build(window), stream.page_size)


def run_chunk(task: ChunkTask, deps: WorkerDeps, *, last_attempt: bool, retried: bool = False) -> ChunkOutcome:
    """One page, start to end (a scroll: its pages while the time budget lasts). Transient
    trouble becomes RetryLater (the page's checkpoint has not moved, so the retry redoes
    exactly what is missing); on the last attempt any failure ends the chain and is
    recorded in the run, so a stream never stalls for good. `retried`: an earlier attempt
    of this task ran (Cloud Tasks' retry count), so it may have read a scroll's page."""
    from google.api_core import exceptions as gexc

    from shared.errors import NotFound
    from shared.store.txn import Contention

    loaded: state.ChainState | None = None
    try:
        if deps.context_reader is not None:
            loaded = state.load_chain(deps.db, task, deps.context_reader.refs(task.connection_id))
            if loaded is None:
                return ChunkOutcome("stale")
            ctx = deps.context_reader.build(task.connection_id, loaded.docs)
        else:
            ctx = deps.context(task.connection_id)
    except NotFound:
        return ChunkOutcome("stale")  # the connection was deleted: its run is void
    try:
        try:
            return _run_pages(task, ctx, deps, loaded, last_attempt=last_attempt, retried=retried)
        except BreakerOpen as exc:
            # nested: a deferral that falls back to Cloud Tasks' retry (RetryLater) is handled
            # below like any other, so on the last attempt it ends the chain
            return _defer(task, deps, exc.until)
        except AllowanceSpent as exc:
            # booked ahead: nothing was sent; the page waits for the daily reset (and the run's
            # lease with it), its checkpoint unmoved, so no cursor passes unsaved data
            until = datetime.fromtimestamp(exc.until, tz=timezone.utc)
            state.hold_lease(deps.db, task, until, deps.lease_ttl_s)
            return _defer(task, deps, until, why="daily allowance spent")
    except RetryLater:
        if not last_attempt:
            raise
        closed = state.fail_chain(deps.db, task, "retries_exhausted", "The page could not be fetched or saved in time.")
        _after_close(task, ctx, deps, closed)
        return ChunkOutcome("failed")
    except (gexc.Aborted, gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.InternalServerError, Contention) as exc:
        if not last_attempt:
            raise RetryLater(f"Firestore is busy: {type(exc).__name__}") from exc
        return _give_up(task, ctx, deps, "store_unavailable", f"Firestore kept failing: {type(exc).__name__}")
    except Exception as exc:
        if not last_attempt:
            raise
        log.exception("chunk failed on its last attempt", extra={"run_id": task.run_id, "chain": task.chain_id})
        return _give_up(task, ctx, deps, "internal", f"{type(exc).__name__} on the last attempt")


def _defer(task: ChunkTask, deps: WorkerDeps, until: datetime | None, why: str = "breaker open") -> ChunkOutcome:
    """Wait out the breaker's cool-down (or the vendor's daily reset) without spending the
    task's attempts or failing the run: the same page again under a new generation (a fresh
    task name), scheduled for `until`. The checkpoint has not moved, so nothing is lost or
    repeated."""
    now = datetime.now(timezone.utc)
    until = until or now
    ref = state.chain_ref(deps.db, task.connection_id, task.run_id, task.chain_id)
    generation = max(task.generation, int((ref.get(["generation"]).to_dict() or {}).get("generation", 0))) + 1
    if deps.enqueue_at is None or generation > 1000:
        raise RetryLater(f"The chunk waits: {why}.", max(1.0, (until - now).total_seconds()))
    # updated_at: the run doctor must not take a deferred chain for a stalled one (its
    # progress is due at `until`, which may be hours away for a daily reset)
    ref.update({"generation": generation, "updated_at": max(now, until)})
    deps.enqueue_at(task.model_copy(update={"generation": generation}), until)
    log.info(f"chunk deferred: {why}", extra={"run_id": task.run_id, "chain": task.chain_id, "until": str(until)})
    return ChunkOutcome("deferred")


def _breaker_failure(task: ChunkTask, deps: WorkerDeps, exc: VendorError, admission: breaker.Admission) -> None:
    """Count a vendor that is down (not a paced 429, not a 4xx); when that opens the
    breaker, this chunk too waits for the cool-down instead of retrying into it. A vendor
    that answered (a 4xx, a 429 the client's retries did not outlast) is up: a probe that
    got such an answer closes the breaker instead of holding it half-open for its lease."""
    if not isinstance(exc, VendorUnavailable):
        if admission.probe:
            breaker.record_success(deps.db, task.connection_id, admission.state)
        return
    after = breaker.record_failure(deps.db, task.connection_id, deps.breaker_policy, f"{exc.code}: {exc.message}")
    if after.state == "open":
        raise BreakerOpen(after.until) from exc


def _give_up(task: ChunkTask, ctx: ConnectionContext, deps: WorkerDeps, code: str, message: str) -> ChunkOutcome:
    _after_close(task, ctx, deps, state.fail_chain(deps.db, task, code, message))
    return ChunkOutcome("failed")


def _after_close(task: ChunkTask, ctx: ConnectionContext, deps: WorkerDeps, closed: bool, *,
                 run_may_be_complete: bool = True) -> None:
    """After a chain may have closed: enqueue its stream's sweep when the stream's other
    chains are all closed, and finalize the run when every chain is (False: the close's own
    commit showed other chains still open)."""
    if closed and _may_sweep(ctx.connector, task.stream):
        sweep = state.stream_ready_to_sweep(deps.db, task.connection_id, task.run_id, task.stream)
        if sweep is not None:
            deps.enqueue(sweep)
    if run_may_be_complete:
        finish.maybe_finish(deps.db, ctx.connector, task.connection_id, task.run_id)


def _may_sweep(connector: Connector, name: str) -> bool:
    """Only a stream that declares `Sweep` has a sweep chain (the planner adds one to its
    full pass): the others' closers need not read their stream to look for one."""
    try:
        return isinstance(connector.stream(name).deletes, Sweep)
    except KeyError:
        return True  # not declared (any more): look, as before


def _run_pages(task: ChunkTask, ctx: ConnectionContext, deps: WorkerDeps, loaded: state.ChainState | None, *,
               last_attempt: bool, retried: bool) -> ChunkOutcome:
    """The task's page, and a scroll's next pages after it while half the time budget
    lasts (then its continuation is queued): the pages follow one another with no wait in
    the queue, where the scroll would expire behind a run's child tasks."""
    began = time.monotonic()
    counts = Counts()
    while True:
        outcome = _run_chunk(task, ctx, deps, loaded, last_attempt=last_attempt, retried=retried)
        counts = counts.add(outcome.counts)
        if outcome.held is None:
            return replace(outcome, counts=counts)
        if time.monotonic() - began >= deps.time_budget_s / 2:
            deps.enqueue(outcome.held)
            return replace(outcome, counts=counts, held=None)
        task, loaded, retried = outcome.held, None, False


def _run_chunk(task: ChunkTask, ctx: ConnectionContext, deps: WorkerDeps, loaded: state.ChainState | None = None, *,
               last_attempt: bool, retried: bool = False) -> ChunkOutcome:
    began = time.monotonic()
    db = deps.db
    chain = loaded or state.load_chain(db, task)
    if chain is None or not chain.lease_held:
        return ChunkOutcome("stale")
    state.renew_lease(db, task, chain.lease, deps.lease_ttl_s)
    stream = ctx.connector.stream(task.stream)
    spec = stream.incremental if chain.data.get("mode") == "incremental" and stream.incremental else stream.full
    run_created = chain.run_created
    if chain.committed:
        if not chain.done:
            # The first attempt may have died right after its commit: finish what it began.
            if chain.next_cursor is not None:
                deps.enqueue(_scroll_again(db, task, chain) if spec.scroll_idle_s else _continuation(task, chain.next_cursor))
            state.close_chain_if_complete(db, task, lookback_s=stream.lookback_s, run_created=run_created)
        _after_close(task, ctx, deps, True)  # the first attempt may have closed it and died
        return ChunkOutcome("replay", next_page=task.page + 1 if chain.next_cursor else None)
    if chain.done:
        _after_close(task, ctx, deps, not chain.data.get("sweep"))
        return ChunkOutcome("stale")
    if chain.data.get("sweep"):  # no vendor call: the breaker does not apply
        if finish.run_sweep(db, ctx.connector, task, run_created):
            finish.maybe_finish(db, ctx.connector, task.connection_id, task.run_id)
            return ChunkOutcome("done")
        return ChunkOutcome("stale")  # the stream's last chain enqueues it again when it closes
    admission = breaker.check(db, task.connection_id, deps.breaker_policy, known=ctx.breaker)
    if not admission.call:
        return _defer(task, deps, admission.until)
    if chain.data.get("parent_ids"):
        return _run_children(task, ctx, deps, stream, chain, admission, last_attempt=last_attempt)

    started = time.monotonic()
    if spec.scroll_idle_s and retried and task.cursor is not None:
        # the failed attempt may have read this page, and the scroll has moved past it
        log.info("a scroll page may have been read: listing again from the top", extra={"chain": task.chain_id})
        _dead_scroll_page(db, task, chain)
        task = task.model_copy(update={"cursor": None})
    first = first_request(stream, spec, chain.data, ctx.config)
    try:
        spec.paginator.apply(first, task.cursor)
    except (ValidationError, KeyError, TypeError, ValueError) as exc:
        # A cursor that does not fit its paginator (or points off the connection's host)
        # was not written by us: no retry can fix it.
        return _give_up(task, ctx, deps, "invalid_task", f"The task's cursor is not valid: {type(exc).__name__}")
    request, response = _fetch(task, ctx, deps, spec, first, started, admission, last_attempt=last_attempt)
    if response is None:
        return ChunkOutcome("failed")
    breaker.record_success(db, task.connection_id, admission.state)
    if task.page == 0 and (halves := _split_if_capped(stream, chain.data, response)):
        state.split_chain(db, task, halves)
        for half in halves:
            deps.enqueue(ChunkTask(connection_id=task.connection_id, run_id=task.run_id, stream=half.stream,
                                   partition=half.partition, page=0))
        _after_close(task, ctx, deps, False)
        return ChunkOutcome("split")
    raw_records = stream.records(spec, response)
    next_cursor = spec.paginator.next_cursor(request, response, len(raw_records))
    if next_cursor is not None and not spec.scroll_idle_s:
        # Pipelining: the next page is fetched while this one is saved. Its checkpoint is
        # separate, and the stream's cursor waits for every page, so order is not needed.
        deps.enqueue(_continuation(task, next_cursor))
    fetched = time.monotonic()
    source = _provenance(task, chain)
    fan_out = _ChildFanOut(task, ctx, deps)
    if stream.tombstones is not None:
        target = ctx.connector.stream(stream.tombstones.of)
        saved = tombstone_listed(db, task.connection_id, stream, target, raw_records, source)
    else:
        saved = ingest(db, task.connection_id, stream, raw_records, source,
                       announce=fan_out if fan_out.children else None)
    stored = time.monotonic()
    fan_out(saved.written)  # what was not announced before its commit (a race re-decided it)
    fanned = time.monotonic()
    full_pass = chain.data.get("mode") == "full"
    written = set(saved.written)
    not_written = [key for key in saved.seen if key not in written] if full_pass else None
    committed = _commit(task, ctx, deps, stream, chain,
                        state.PageResult(saved.counts, next_cursor, saved.max_cursor, not_written))
    log.info("chunk done", extra={"run_id": task.run_id, "chain": task.chain_id, "page": task.page,
                                  "fetch_ms": round((fetched - started) * 1000, 1),
                                  "store_ms": round((stored - fetched) * 1000, 1),
                                  "fan_out_ms": round((fanned - stored) * 1000, 1),
                                  **({"children_queued_ms": round((fan_out.first_queued - began) * 1000, 1)}
                                     if fan_out.first_queued else {}),
                                  "prelude_ms": round((started - began) * 1000, 1),
                                  "total_ms": round((time.monotonic() - began) * 1000, 1), **saved.counts.model_dump()})
    held = _continuation(task, next_cursor) if next_cursor and committed and spec.scroll_idle_s else None
    return ChunkOutcome("done" if committed else "replay", saved.counts, task.page + 1 if next_cursor else None, held)


def _commit(task: ChunkTask, ctx: ConnectionContext, deps: WorkerDeps, stream: Stream[Any], chain: state.ChainState,
            result: state.PageResult) -> bool:
    """Commit the page's checkpoint (its records are saved) and close the chain when it is
    complete; False for a replay. A chain that is this one page closes in the same commit."""
    folded = state.commit_only_page(deps.db, task, result, chain, lookback_s=stream.lookback_s)
    if folded is not None:
        if folded.committed:
            _after_close(task, ctx, deps, True, run_may_be_complete=folded.run_may_be_complete)
        return folded.committed
    if not state.commit_page(deps.db, task, result):
        return False
    closed = state.close_chain_if_complete(deps.db, task, lookback_s=stream.lookback_s, run_created=chain.run_created,
                                           lease=chain.lease)
    _after_close(task, ctx, deps, closed)
    return True


def _continuation(task: ChunkTask, cursor: dict[str, Any]) -> ChunkTask:
    return task.model_copy(update={"page": task.page + 1, "cursor": cursor})


def _scroll_again(db: Client, task: ChunkTask, chain: state.ChainState) -> ChunkTask:
    """A replayed scroll page: the task that read it may have read further before it died,
    and a scroll cannot go back, so the listing starts again from the top, on the chain's
    next unused page (its pages are committed in order, so that is its count)."""
    again = task.model_copy(update={"page": max(task.page + 1, int(chain.data.get("committed") or 0)), "cursor": None})
    _dead_scroll_page(db, again, chain)
    return again


def _provenance(task: ChunkTask, chain: state.ChainState) -> Provenance:
    """The page's unit of work. After a scroll restarts, its pages are units of their own
    (`/r<n>`) and adopt the dead pages' writes, so a record the dead page stored counts as
    written once, when the restarted listing reaches it, not as unchanged (nor twice)."""
    dead = chain.data.get("scroll_restarts") or []
    unit = f"{task.chain_id}/{task.page}" + (f"/r{len(dead)}" if dead else "")
    return Provenance("sync", task.run_id, unit=unit, adopts=frozenset(dead))


def _dead_scroll_page(db: Client, task: ChunkTask, chain: state.ChainState) -> None:
    """Record that page `task.page`, as its attempt that died named it, may hold writes no
    commit counted: the restarted scroll adopts them (`_provenance`)."""
    from google.cloud.firestore import ArrayUnion

    dead = _provenance(task, chain).unit
    state.chain_ref(db, task.connection_id, task.run_id, task.chain_id).update({"scroll_restarts": ArrayUnion([dead])})
    chain.data["scroll_restarts"] = [*(chain.data.get("scroll_restarts") or []), dead]


def _fetch(task: ChunkTask, ctx: ConnectionContext, deps: WorkerDeps, spec: RequestSpec, first: PageRequest,
           started: float, admission: breaker.Admission, *,
           last_attempt: bool) -> tuple[PageRequest, dict[str, Any] | None]:
    """Fetch this page: (the request sent, its answer), or answer None after failing the
    chain on a terminal vendor error (or any vendor error on the last attempt). A cursor
    the vendor says has expired restarts the listing from the top (what was saved stays)."""
    request = spec.paginator.apply(first, task.cursor)
    _yield_to_live_calls(task, ctx, deps)
    try:
        with ctx.open_client() as client:
            client.deadline = started + deps.time_budget_s
            try:
                response = client.fetch(request)
            except VendorError as exc:
                if task.cursor is None or (exc.details or {}).get("vendor_status") not in spec.restart_statuses:
                    raise
                log.info("cursor expired: listing again from the top", extra={"chain": task.chain_id, "page": task.page})
                request, response = first, client.fetch(first)
            if client.stats.allowance is not None:
                from shared.connections.store import keep_allowance

                keep_allowance(deps.db, task.connection_id, *client.stats.allowance)
            return request, response
    except AllowanceSpent:
        raise
    except VendorError as exc:
        _breaker_failure(task, deps, exc, admission)
        details = exc.details or {}
        busy = spec.busy is not None and spec.busy(int(details.get("vendor_status") or 0), str(details.get("vendor_error") or ""))
        if (exc.transient or busy) and not last_attempt:
            raise RetryLater(exc.message, getattr(exc, "retry_after_s", None) or (15.0 if busy else None)) from exc
        _after_close(task, ctx, deps, state.fail_chain(deps.db, task, exc.code, exc.message))
        log.warning("chain failed", extra={"run_id": task.run_id, "chain": task.chain_id, "code": exc.code})
        return request, None


def _yield_to_live_calls(task: ChunkTask, ctx: ConnectionContext, deps: WorkerDeps) -> None:
    """Live calls booked the vendor's budget ahead (a queue at full share): give them their
    slots before this task's first request (one read; a child batch checks once)."""
    backlog = budgets.live_backlog_s(deps.db, ctx.connector, task.connection_id)
    if backlog > 0:
        deps.sleep(min(backlog, budgets.MAX_BOOKING_WAIT_S))


def _split_if_capped(stream: Stream[Any], chain: dict[str, Any], response: dict[str, Any]) -> list[state.PlannedChain]:
    windows = stream.windows
    if not windows or not windows.result_cap or not windows.total_path or not chain.get("window"):
        return []
    total = dig(response, windows.total_path)
    since, until = chain.get("since"), chain.get("until")
    if not isinstance(total, (int, float)) or total < windows.result_cap or since is None or until is None:
        return []
    if until - since < 2 * windows.min_span_s:
        return []
    middle = since + (until - since) / 2
    if windows.align_s:
        middle = round(middle / windows.align_s) * windows.align_s
        if not since < middle < until:
            return []
    return [
        state.PlannedChain(stream.name, f"w{since:.0f}-{middle:.0f}", chain["mode"], since, middle, window=True),
        state.PlannedChain(stream.name, f"w{middle:.0f}-{until:.0f}", chain["mode"], middle, until, window=True),
    ]


#: child tasks queued before the rest of a page's: a page of 150 changed parents has its
#: first children running while the other 140 chains are committed and queued
FIRST_WAVE = 10


class _ChildFanOut:
    """Child streams are fetched for the parents this page created or changed, in batches.
    The ingest path announces those parents once they are decided, before their commit, so
    the children's tasks are queued while the page is stored: a vendor-bound run's budget
    is busy from its first parent page instead of idling until that page is stored (#16).
    The chains exist before this page commits, so a crash cannot lose them; a chain is named
    by its parents, so a replay that announces them again (or in other batches) adds none
    twice and loses none."""

    def __init__(self, task: ChunkTask, ctx: ConnectionContext, deps: WorkerDeps) -> None:
        self.task, self.ctx, self.deps = task, ctx, deps
        self.children = [c for c in ctx.connector.children(task.stream) if ctx.selected(c.name)]
        self.announced: set[str] = set()
        #: when the first child task was queued (time.monotonic()), for the chunk's log
        self.first_queued: float | None = None

    def __call__(self, parents: list[str]) -> None:
        parents = [key for key in parents if key not in self.announced]
        if not parents or not self.children:
            return
        self.announced.update(parents)
        task, deps = self.task, self.deps
        for child in self.children:
            state.ensure_stream(deps.db, task.connection_id, task.run_id, child.name, "incremental")
            size = budgets.parents_per_task(self.ctx.connector, child)
            batches = [tuple(parents[i:i + size]) for i in range(0, len(parents), size)]
            chains = [state.PlannedChain(child.name, f"p.{task.partition}.{task.page}.{_batch_name(batch)}",
                                         "incremental", parent_ids=batch) for batch in batches]
            # a first wave the queue can dispatch at once, then the rest (one commit each)
            for wave in (chains[:FIRST_WAVE], chains[FIRST_WAVE:]):
                if wave:
                    state.add_chains(deps.db, task.connection_id, task.run_id, wave)
                    # enqueue even if an earlier attempt added them: names dedupe
                    _enqueue_all(deps, [ChunkTask(connection_id=task.connection_id, run_id=task.run_id,
                                                  stream=child.name, partition=chain.partition, page=0)
                                        for chain in wave])
                    self.first_queued = self.first_queued or time.monotonic()


def _batch_name(parents: tuple[str, ...]) -> str:
    """A batch of parents' chain name: the same parents, the same chain, however announced."""
    import hashlib

    return hashlib.sha256("\x00".join(parents).encode()).hexdigest()[:16]


#: enqueue calls in flight at once when a page fans out many child tasks
ENQUEUE_THREADS = 8


def _enqueue_all(deps: WorkerDeps, tasks: list[ChunkTask]) -> None:
    """Enqueue many tasks at once: one parent page can fan out 150 child tasks, and one
    enqueue after another (a round trip each) kept the queue idle for seconds at the start
    of a vendor-bound run (#16)."""
    if len(tasks) <= 1:
        for each in tasks:
            deps.enqueue(each)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(ENQUEUE_THREADS, len(tasks))) as pool:
        list(pool.map(deps.enqueue, tasks))


def _run_children(task: ChunkTask, ctx: ConnectionContext, deps: WorkerDeps, stream: Stream[Any], chain: state.ChainState,
                  admission: breaker.Admission, *, last_attempt: bool) -> ChunkOutcome:
    """One task serves a batch of parents: their children are paged inline, one request per
    parent and page, or for a `batch` stream many parents per request."""
    started = time.monotonic()
    source = Provenance("sync", task.run_id, unit=f"{task.chain_id}/{task.page}")
    parents = [str(p) for p in chain.data.get("parent_ids") or []]
    _yield_to_live_calls(task, ctx, deps)
    try:
        with ctx.open_client() as client:
            client.deadline = started + deps.time_budget_s
            found, partial = read_children(client, stream, chain.data, ctx.config, parents)
    except AllowanceSpent:
        raise  # nothing of this batch is stored yet: it runs again after the reset
    except VendorError as exc:
        _breaker_failure(task, deps, exc, admission)
        if exc.transient and not last_attempt:
            raise RetryLater(exc.message, getattr(exc, "retry_after_s", None)) from exc
        _after_close(task, ctx, deps, state.fail_chain(deps.db, task, exc.code, exc.message))
        return ChunkOutcome("failed")
    breaker.record_success(deps.db, task.connection_id, admission.state)
    counts = ingest_children(deps.db, task.connection_id, stream, found, source).counts
    if partial:  # more pages than one task reads: stored, but not taken for the whole set
        counts = counts.add(ingest_children(deps.db, task.connection_id, stream, partial, source, whole=False).counts)
    _commit(task, ctx, deps, stream, chain, state.PageResult(counts, None, None))
    return ChunkOutcome("done", counts)


#: (parent id -> every child read, parent id -> children of a read cut at MAX_CHILD_PAGES)
ChildReads = tuple[dict[str, list[Any]], dict[str, list[Any]]]


def read_children(client: VendorClient, stream: Stream[Any], chain: dict[str, Any], config: ConnectionConfig,
                  parents: list[str]) -> ChildReads:
    """The children of these parents: many parents per request for a `batch` stream, one
    request per parent and page otherwise (sync tasks and webhook events alike)."""
    read = _read_batched if stream.batch is not None else _read_each
    return read(client, stream, chain, config, parents)


def _read_each(client: VendorClient, stream: Stream[Any], chain: dict[str, Any], config: ConnectionConfig,
               parents: list[str]) -> ChildReads:
    """One request per parent and page."""
    spec = stream.full
    found: dict[str, list[Any]] = {}
    partial: dict[str, list[Any]] = {}
    for parent_id in parents:
        rows: list[Any] = []
        request: PageRequest | None = first_request(stream, spec, chain, config, parent_id=parent_id)
        for _ in range(MAX_CHILD_PAGES):
            if request is None:
                break
            response = client.fetch(request)
            raws = stream.records(spec, response)
            rows += raws
            cursor = spec.paginator.next_cursor(request, response, len(raws))
            request = spec.paginator.apply(request, cursor) if cursor else None
        (partial if request is not None else found)[parent_id] = rows
    return found, partial


def _read_batched(client: VendorClient, stream: Stream[Any], chain: dict[str, Any], config: ConnectionConfig,
                  parents: list[str]) -> ChildReads:
    """Many parents per request: each round asks for every parent still owed a page, with
    that parent's own cursor. A parent the answer does not mention is left unread."""
    assert stream.batch is not None
    window = Slice(since=chain.get("since"), until=chain.get("until"), config=config)
    rows: dict[str, list[Any]] = {}
    owed: dict[str, str | None] = dict.fromkeys(parents)
    for _ in range(MAX_CHILD_PAGES):
        if not owed:
            break
        answer = stream.batch.split(client.fetch(stream.batch.build(window, owed)))
        following: dict[str, str | None] = {}
        for parent_id, (raws, cursor) in answer.items():
            if parent_id not in owed:
                continue
            rows.setdefault(parent_id, []).extend(raws)
            if cursor:
                following[parent_id] = cursor
        owed = following
    found = {p: r for p, r in rows.items() if p not in owed}
    return found, {p: rows[p] for p in owed}
