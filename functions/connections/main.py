"""/connections: create, list, read, change, pause, resume and delete connections.

Credentials are accepted (write-only) and never returned; handlers in shared.connections.api.
"""

from __future__ import annotations

from shared.api import Deployment, Endpoint, Users
from shared.connections import api as h
from shared.crypto import KEK_SECRET

endpoint = Endpoint(
    "connections", summary="Connections", tags=("connections",), deployment=Deployment(secrets=(KEK_SECRET,))
)
route, member = endpoint.route, Users()

route("POST", "/", auth=member, body=h.CreateConnection, response=h.Connection, status=201, errors=(404,))(
    h.create_connection
)
route("GET", "/", auth=member, query=h.ListQuery, response=h.ConnectionList)(h.list_connections)
route("GET", "/{connection_id}", auth=member, response=h.Connection)(h.get_connection)
route("PATCH", "/{connection_id}", auth=member, body=h.UpdateConnection, response=h.Connection)(
    h.update_connection
)
route("POST", "/{connection_id}/pause", auth=member, response=h.Connection)(h.pause_connection)
route("POST", "/{connection_id}/resume", auth=member, response=h.Connection)(h.resume_connection)
route("DELETE", "/{connection_id}", auth=member, status=204)(h.delete_connection)

handle = endpoint.entry_point()
