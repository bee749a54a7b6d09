"""GET /sync-status: per connection the caller may see: last run, counts, last success,
cursor ages, whether a run is in flight."""

from __future__ import annotations

from shared.api import Call, Endpoint, Users
from shared.sync.api import StatusList, StatusQuery

endpoint = Endpoint("sync-status", summary="Sync status of connections", tags=("sync",))


@endpoint.route("GET", "/", auth=Users(), query=StatusQuery, response=StatusList, errors=(404,))
def status(call: Call) -> StatusList:
    """Every visible connection, or the one named by connection_id."""
    from shared.connections.access import readable, visible_connections
    from shared.store.client import db
    from shared.sync.status import connection_status

    client = db(call.settings)
    query: StatusQuery = call.query
    if query.connection_id:
        connections = [readable(client, call.principal, query.connection_id)]
    else:
        connections = visible_connections(client, call.principal)
    return StatusList(connections=[connection_status(client, c) for c in connections])


handle = endpoint.entry_point()
