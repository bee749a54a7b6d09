"""Run one chunk: fetch one page, enqueue the next, save this one, commit its checkpoint.

The order is the guarantee: a page's records are saved before its checkpoint is
committed, and a stream's cursor moves only when every page of it is committed. The next
page is enqueued as soon as its request is known, so fetching page n+1 overlaps saving
page n. A crash at any point is healed by the Cloud Tasks retry of the same task: a page
already committed is recognised (replay) and only its continuation is enqueued again,
which the deterministic task name deduplicates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from shared.store import records
from shared.sync import state
from shared.sync.models import ChunkTask, Counts
from shared.vendors.connector import Connector, Stream
from shared.vendors.errors import VendorError
from shared.vendors.http import VendorClient

if TYPE_CHECKING:
    from google.cloud.firestore import Client

log = logging.getLogger("tributary.sync.worker")


@dataclass(frozen=True)
class ChunkOutcome:
    status: Literal["done", "replay", "stale", "failed"]
    counts: Counts = field(default_factory=Counts)
    next_page: int | None = None


class RetryLater(Exception):
    """A transient failure: the task should be retried by Cloud Tasks, with backoff."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


@dataclass
class WorkerDeps:
    db: Client
    enqueue: Callable[[ChunkTask], bool]
    client_for: Callable[[Connector], VendorClient]
    lease_ttl_s: int
    #: how long one chunk may spend fetching before it hands the page back to Cloud Tasks;
    #: below the function's timeout, leaving room to save and commit the page
    time_budget_s: float = 180.0


def _continuation(task: ChunkTask, page: int, request: Any) -> ChunkTask:
    return task.model_copy(update={"page": page, "request": request})


def _prepare(stream: Stream[Any], raw_records: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], list[tuple[dict[str, Any], str]], float | None]:
    """Validate and map a page: (key -> document, rejected with reasons, max cursor)."""
    docs: dict[str, dict[str, Any]] = {}
    rejected: list[tuple[dict[str, Any], str]] = []
    max_cursor: float | None = None
    for raw in raw_records:
        if not isinstance(raw, dict):
            rejected.append(({"value": raw}, "record is not an object"))
            continue
        key = stream.record_key(raw)
        if key is None:
            rejected.append((raw, f"missing primary key {stream.primary_key!r}"))
            continue
        try:
            model = stream.raw_model.model_validate(raw)
            doc = stream.mapper(model)
        except ValidationError as exc:
            reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
            rejected.append((raw, reason))
            continue
        docs[key] = doc
        cursor = stream.cursor_value(raw)
        if cursor is not None and (max_cursor is None or cursor > max_cursor):
            max_cursor = cursor
    return docs, rejected, max_cursor


def run_chunk(task: ChunkTask, connector: Connector, deps: WorkerDeps, *, last_attempt: bool) -> ChunkOutcome:
    """One page, start to end; transient storage trouble becomes RetryLater (the page's
    checkpoint has not moved, so the retry redoes exactly what is missing)."""
    from google.api_core import exceptions as gexc

    try:
        return _run_chunk(task, connector, deps, last_attempt=last_attempt)
    except (gexc.Aborted, gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.InternalServerError) as exc:
        raise RetryLater(f"Firestore is busy: {type(exc).__name__}") from exc
    except ValueError as exc:
        if "Failed to commit transaction" not in str(exc):
            raise
        raise RetryLater("Firestore transaction contention") from exc


def _run_chunk(task: ChunkTask, connector: Connector, deps: WorkerDeps, *, last_attempt: bool) -> ChunkOutcome:
    chain = state.load_chain(deps.db, task)
    if chain is None or chain.run_finished or not chain.lease_held:
        return ChunkOutcome("stale")
    if chain.committed:
        if not chain.done:
            # The first attempt may have died right after its commit: finish what it began.
            if chain.next_request is not None:
                deps.enqueue(_continuation(task, task.page + 1, chain.next_request))
            stream = connector.stream(task.stream)
            state.close_chain_if_complete(deps.db, task, lookback_s=stream.lookback_s)
        return ChunkOutcome("replay", next_page=task.page + 1 if chain.next_request else None)
    if chain.done:  # the chain failed for good; nothing more to do on it
        return ChunkOutcome("stale")

    timings: dict[str, float] = {}
    started = time.monotonic()
    clock = time.perf_counter()
    state.mark_running(deps.db, task)
    stream = connector.stream(task.stream)
    spec = stream.incremental if task.mode == "incremental" and stream.incremental else stream.full
    try:
        with deps.client_for(connector) as client:
            client.deadline = started + deps.time_budget_s
            response = client.fetch(task.request)
    except VendorError as exc:
        if exc.transient and not last_attempt:
            raise RetryLater(exc.message, getattr(exc, "retry_after_s", None)) from exc
        state.fail_chain(deps.db, task, exc.code, exc.message)
        log.warning("chain failed", extra={"run_id": task.run_id, "stream": task.stream, "code": exc.code})
        return ChunkOutcome("failed")

    raw_records = stream.records(spec, response)
    next_request = spec.paginator.next(task.request, response, len(raw_records))
    if next_request is not None:
        # Pipelining: the next page is fetched while this one is saved. Its checkpoint is
        # separate, and the stream's cursor waits for every page, so order is not needed.
        deps.enqueue(_continuation(task, task.page + 1, next_request))
    timings["fetch_ms"], clock = (time.perf_counter() - clock) * 1000, time.perf_counter()
    docs, rejected, max_cursor = _prepare(stream, raw_records)
    now = state.utcnow()
    for raw, reason in rejected:
        records.dead_letter(deps.db, task.connection_id, task.stream, raw, reason, run_id=task.run_id, at=now)
    saved = records.upsert(deps.db, task.connection_id, task.stream, docs, run_id=task.run_id, synced_at=now)
    timings["save_ms"], clock = (time.perf_counter() - clock) * 1000, time.perf_counter()
    counts = Counts(fetched=len(raw_records), written=saved.written, unchanged=saved.unchanged, failed=len(rejected))
    committed = state.commit_page(
        deps.db,
        task,
        state.PageResult(counts=counts, next_request=next_request, max_cursor=max_cursor),
        lookback_s=stream.lookback_s,
    )
    if not committed:
        return ChunkOutcome("stale")
    if next_request is not None:
        state.renew_lease(deps.db, task, deps.lease_ttl_s)
    timings["commit_ms"] = (time.perf_counter() - clock) * 1000
    log.info(
        "chunk done",
        extra={"run_id": task.run_id, "stream": task.stream, "page": task.page, **counts.model_dump(),
               **{k: round(v, 1) for k, v in timings.items()}},
    )
    return ChunkOutcome("done", counts, task.page + 1 if next_request else None)
