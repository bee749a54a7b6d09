"""/webhooks: vendors deliver here, one URL per connection; admins read its setup.

POST /{connection_id} is public: the vendor's signature (or basic credentials) over the raw
body is the authentication, checked before anything is parsed. It answers fast: the events
are remembered and enqueued, and webhook-worker stores them. Handlers in shared.webhooks.api.
"""

from __future__ import annotations

from shared.api import PUBLIC, Deployment, Endpoint, Users
from shared.crypto import KEK_SECRET
from shared.webhooks import api as h

#: I/O-bound answers (two store round trips and an enqueue): many per instance
RECEIVER = Deployment(memory="512Mi", timeout_s=30, max_instances=20, concurrency=16, secrets=(KEK_SECRET,))
endpoint = Endpoint("webhooks", summary="Vendor webhooks", tags=("webhooks",), deployment=RECEIVER)
route, member = endpoint.route, Users()

route("POST", "/{connection_id}", auth=PUBLIC, response=h.Ack, errors=(401, 503),
      summary="A vendor's signed delivery (raw JSON body, verified before it is parsed)")(h.receive_webhook)
route("GET", "/{connection_id}/setup", auth=member, response=h.WebhookSetup, errors=(401, 403))(h.webhook_setup)
route("PUT", "/{connection_id}/secret", auth=member, body=h.SecretUpdate, response=h.SecretSaved,
      errors=(401, 403))(h.set_secret)
route("POST", "/{connection_id}/register", auth=member, response=h.Registered, errors=(401, 403, 409))(
    h.register_webhook
)

handle = endpoint.entry_point()
