"""GET /connectors: the vendors a connection can be made for and what each needs
(credential fields, config, ownership, streams); the console's forms come from it."""

from __future__ import annotations

from shared.api import Call, Endpoint, Users
from shared.connections.catalog import ConnectorList

endpoint = Endpoint("connectors", summary="Connectors", tags=("connections",))


@endpoint.route("GET", "/", auth=Users(), response=ConnectorList)
def list_connectors(call: Call) -> ConnectorList:
    """Every connector a connection can be made for, with the fields it needs."""
    from shared.connections.catalog import available

    return ConnectorList(connectors=available())


handle = endpoint.entry_point()
