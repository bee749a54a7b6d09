"""GET /dead-letters: records a connection could not store, with why; POST
/dead-letters/redrive: store them again through the ingest path after a fix."""

from __future__ import annotations

from shared.api import Call, Endpoint, Users
from shared.sync.api import DeadLetterList, DeadLetterQuery, RedriveRequest, RedriveResult

endpoint = Endpoint("dead-letters", summary="Dead letters of a connection, and their re-drive", tags=("sync",))


@endpoint.route("GET", "/", auth=Users(), query=DeadLetterQuery, response=DeadLetterList, errors=(404,))
def list_letters(call: Call) -> DeadLetterList:
    """Newest first."""
    from shared.sync.redrive import list_dead_letters

    return list_dead_letters(call.settings, call.principal, call.query)


@endpoint.route("POST", "/redrive", auth=Users(), body=RedriveRequest, response=RedriveResult, errors=(403, 404))
def redrive(call: Call) -> RedriveResult:
    """Each letter is stored (and removed) or kept with its new reason."""
    from shared.sync.redrive import redrive_for

    return redrive_for(call.settings, call.principal, call.body, request_id=call.request_id)


handle = endpoint.entry_point()
