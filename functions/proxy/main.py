"""GET /proxy/{connection_id}/{path}: read-only pass-through to a connection's vendor, GET
and the connector's allow-list only, its credentials stripped from the answer."""

from __future__ import annotations

from flask import Response

from shared.api import Call, Deployment, Endpoint, Users
from shared.api.openapi import documented
from shared.serving.proxy import CATCH_ALL

endpoint = Endpoint(
    "proxy",
    summary="Read-only vendor proxy",
    tags=("records",),
    deployment=Deployment(secrets=("token-encryption-key",)),
)


@endpoint.route("GET", "/{connection_id}/{path}", auth=Users(), errors=(403, 429, 502, 503), params={"path": str})
@documented("shared.serving.openapi:proxy_variants")
def proxy(call: Call) -> Response:
    """Org connections: admins; personal ones: their owner and admins."""
    from shared.serving.proxy import proxy as forward

    return forward(call)


# The router matches one segment per parameter; the proxy takes any path and lets the
# connector's allow-list decide (403 path_not_allowed rather than a 404 that says nothing).
endpoint.routes[-1].pattern = CATCH_ALL

handle = endpoint.entry_point()
