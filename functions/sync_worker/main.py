"""POST /sync-worker: Cloud Tasks' target; runs one chunk (one page) of a sync run.

Answers 2xx when the chunk is done or failed for good (and recorded), 503 only when a
retry can help, so Cloud Tasks' backoff does the waiting.
"""

from __future__ import annotations

from shared.api import Call, Deployment, Endpoint, ServiceAccount
from shared.api.headers import cloud_tasks_retry_count
from shared.crypto import KEK_SECRET
from shared.sync.api import ChunkResult
from shared.sync.models import ChunkTask

#: instances x concurrency must cover every queue's concurrent dispatches (a deploy test checks it)
WORKER = Deployment(memory="512Mi", timeout_s=300, max_instances=20, concurrency=4, secrets=(KEK_SECRET,))
endpoint = Endpoint("sync-worker", summary="Run one sync chunk", tags=("sync",), deployment=WORKER)


@endpoint.route("POST", "/", auth=ServiceAccount("tasks"), body=ChunkTask, response=ChunkResult, errors=(503,))
def work(call: Call) -> ChunkResult:
    """Fetch, save, checkpoint, continue."""
    from shared.sync.runtime import work_chunk

    return work_chunk(call.settings, call.body, retries=cloud_tasks_retry_count(call.request))


handle = endpoint.entry_point()
