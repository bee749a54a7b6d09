"""POST /sync-worker: Cloud Tasks' target; runs one chunk (one page) of a sync run.

Answers 2xx when the chunk is done or failed for good (and recorded), 503 only when a
retry can help, so Cloud Tasks' backoff does the waiting.
"""

from __future__ import annotations

from pydantic import BaseModel

from shared.api import Call, Deployment, Endpoint, ServiceAccount
from shared.api.headers import cloud_tasks_retry_count
from shared.crypto import KEK_SECRET
from shared.errors import ServiceUnavailable
from shared.sync.models import ChunkTask, Counts

#: instances x concurrency must cover every queue's concurrent dispatches (a deploy test checks it)
WORKER = Deployment(memory="512Mi", timeout_s=300, max_instances=20, concurrency=4, secrets=(KEK_SECRET,))
endpoint = Endpoint("sync-worker", summary="Run one sync chunk", tags=("sync",), deployment=WORKER)


class ChunkResult(BaseModel):
    status: str
    counts: Counts
    next_page: int | None


@endpoint.route("POST", "/", auth=ServiceAccount("tasks"), body=ChunkTask, response=ChunkResult, errors=(503,))
def work(call: Call) -> ChunkResult:
    """Fetch, save, checkpoint, continue."""
    from shared.sync.queues import MAX_ATTEMPTS
    from shared.sync.runtime import worker_deps
    from shared.sync.worker import RetryLater, run_chunk

    task: ChunkTask = call.body
    last_attempt = cloud_tasks_retry_count(call.request) + 1 >= MAX_ATTEMPTS
    try:
        outcome = run_chunk(task, worker_deps(call.settings), last_attempt=last_attempt)
    except RetryLater as exc:
        headers = {"Retry-After": str(round(exc.retry_after_s))} if exc.retry_after_s else {}
        raise ServiceUnavailable(exc.reason, code="retry_later", headers=headers) from exc
    return ChunkResult(status=outcome.status, counts=outcome.counts, next_page=outcome.next_page)


handle = endpoint.entry_point()
