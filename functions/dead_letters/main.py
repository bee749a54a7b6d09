"""GET /dead-letters: the records of a connection that could not be stored, with why
(newest first); POST /dead-letters/redrive: try them again after a fix (who manages the
connection). A record that fails validation is kept here, never dropped."""

from __future__ import annotations

from shared.api import Call, Endpoint, Users
from shared.sync.api import DeadLetterList, DeadLetterQuery, RedriveRequest, RedriveResult

endpoint = Endpoint("dead-letters", summary="Records that could not be stored", tags=("sync",))


@endpoint.route("GET", "/", auth=Users(), query=DeadLetterQuery, response=DeadLetterList, errors=(404,))
def list_dead_letters(call: Call) -> DeadLetterList:
    """Newest first, optionally of one stream; the raw record is the vendor's JSON as received."""
    from shared.connections.access import readable
    from shared.store.client import db
    from shared.sync.deadletters import newest

    query: DeadLetterQuery = call.query
    client = db(call.settings)
    connection = readable(client, call.principal, query.connection_id)
    return DeadLetterList(dead_letters=newest(client, connection.id, query.stream, query.limit))


@endpoint.route("POST", "/redrive", auth=Users(), body=RedriveRequest, response=RedriveResult, errors=(403, 404))
def redrive(call: Call) -> RedriveResult:
    """Store each dead letter again through the ingest path; what still fails stays, with its new reason."""
    from shared.connections.access import manageable
    from shared.connections.connectors import find_connector
    from shared.store.client import db
    from shared.sync.redrive import redrive as run_redrive

    body: RedriveRequest = call.body
    client = db(call.settings)
    connection = manageable(client, call.principal, body.connection_id)
    connector = find_connector(call.settings, connection.vendor)
    return run_redrive(client, connector, connection.id, request_id=call.request_id, stream=body.stream)


handle = endpoint.entry_point()
