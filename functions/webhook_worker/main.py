"""POST /webhook-worker: Cloud Tasks' target; one remembered webhook delivery through the
engine's ingest path (upsert, tombstone, or fetch then upsert).

Answers 2xx when the delivery is processed, a replay, or failed for good (recorded on the
delivery); 503 only when a retry can help, so Cloud Tasks' backoff does the waiting.
"""

from __future__ import annotations

from shared.api import Deployment, Endpoint, ServiceAccount
from shared.crypto import KEK_SECRET
from shared.webhooks import api as h

#: instances x concurrency covers every webhook queue's concurrent dispatches (a deploy test checks it)
WORKER = Deployment(memory="512Mi", timeout_s=120, max_instances=15, concurrency=4, secrets=(KEK_SECRET,))
endpoint = Endpoint("webhook-worker", summary="Process one webhook delivery", tags=("webhooks",), deployment=WORKER)

endpoint.route("POST", "/", auth=ServiceAccount("tasks"), body=h.WebhookTask, response=h.ProcessResult,
               errors=(503,))(h.process_delivery)

handle = endpoint.entry_point()
