"""GET /records/{connection_id}/{stream}: list a connection's stream (store or live=true);
GET /records/{connection_id}/{stream}/{key}: one record with its ETag. Every connector's
served streams, as it declares them (shared.serving)."""

from __future__ import annotations

from flask import Response

from shared.api import Call, Deployment, Endpoint, Users
from shared.api.openapi import documented

#: live=true reads the connection's credentials (encrypted under this key)
endpoint = Endpoint(
    "records",
    summary="Synced records of a connection",
    tags=("records",),
    deployment=Deployment(secrets=("token-encryption-key",)),
)


@endpoint.route("GET", "/{connection_id}/{stream}", auth=Users(), errors=(404, 429, 502, 503))
@documented("shared.serving.openapi:list_variants")
def list_records(call: Call) -> Response:
    """Filters, sort, keyset pages; ETag and 304 for pollers; live=true asks the vendor."""
    from shared.serving.handlers import list_records as handle_list

    return handle_list(call)


@endpoint.route("GET", "/{connection_id}/{stream}/{key}", auth=Users(), errors=(404,))
@documented("shared.serving.openapi:record_variants")
def get_record(call: Call) -> Response:
    """One stored record; its ETag is what an action sends back in If-Match."""
    from shared.serving.handlers import get_record as handle_get

    return handle_get(call)


handle = endpoint.entry_point()
