"""POST /actions/{connection_id}/{action}: a write-back the connector declares (the vendor
first, then the store), with If-Match and an optional Idempotency-Key."""

from __future__ import annotations

from flask import Response

from shared.api import Call, Deployment, Endpoint, Users
from shared.api.openapi import documented

endpoint = Endpoint(
    "actions",
    summary="Write-backs to a connection's vendor",
    tags=("records",),
    deployment=Deployment(secrets=("token-encryption-key",)),
)


@endpoint.route("POST", "/{connection_id}/{action}", auth=Users(), errors=(403, 409, 422, 428, 429, 502, 503))
@documented("shared.serving.openapi:action_variants")
def act(call: Call) -> Response:
    """Org connections: admins; personal ones: their owner and admins."""
    from shared.serving.actions import run

    return run(call)


handle = endpoint.entry_point()
