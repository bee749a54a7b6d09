"""GET /sync-events: what notifications read: runs that ended (counts, or the reason) and
circuit breakers that opened or closed, oldest first after `since`, with a cursor to poll."""

from __future__ import annotations

from shared.api import Call, Endpoint, Users
from shared.sync.events import EventList, EventQuery

endpoint = Endpoint("sync-events", summary="Sync events for notifications", tags=("sync",))


@endpoint.route("GET", "/", auth=Users(), query=EventQuery, response=EventList, errors=(400, 404))
def list_events(call: Call) -> EventList:
    """Events of every visible connection (or the one named); a failing connection's
    repeated failures are folded into one event's `repeats`."""
    from shared.connections.access import readable
    from shared.store.client import db
    from shared.sync.events import list_events

    client = db(call.settings)
    query: EventQuery = call.query
    if query.connection_id:
        readable(client, call.principal, query.connection_id)
    return list_events(client, call.principal, query)


handle = endpoint.entry_point()
