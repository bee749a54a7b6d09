"""POST /outbox-worker: Cloud Tasks' target; one delivery attempt of an outbox item to its
vendor. 2xx when delivered (or nothing is left to do); 503 when the vendor has not accepted
it yet, so the queue's backoff brings the next attempt."""

from __future__ import annotations

from shared.api import Deployment, Endpoint, ServiceAccount
from shared.crypto import KEK_SECRET
from shared.serving import outbox_api as o

WORKER = Deployment(memory="256Mi", timeout_s=60, max_instances=4, concurrency=4, secrets=(KEK_SECRET,))
endpoint = Endpoint("outbox-worker", summary="Deliver one outbox item to its vendor", tags=("records",),
                    deployment=WORKER)

endpoint.route("POST", "/", auth=ServiceAccount("tasks"), body=o.CreateTask, response=o.DeliveryResult,
               errors=(503,))(o.deliver)

handle = endpoint.entry_point()
