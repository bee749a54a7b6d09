"""POST /sync-now: start a sync of one connection now; 409 while one is running.

Admins may sync the organization's connections, a member their own personal ones. A run
that stopped progressing is dealt with first (failed if its lease expired, resumed
otherwise), so a lost run never blocks Sync Now for long.
"""

from __future__ import annotations

from shared.api import Call, Endpoint, Users
from shared.sync.api import SyncRequest, SyncStarted

endpoint = Endpoint("sync-now", summary="Start a sync of a connection now", tags=("sync",))


@endpoint.route("POST", "/", auth=Users(), body=SyncRequest, response=SyncStarted, status=202, errors=(403, 404, 409))
def sync_now(call: Call) -> SyncStarted:
    """Plan and fan out a run; the answer carries its id for the status and runs endpoints."""
    from shared.connections.access import manageable
    from shared.store.client import db
    from shared.sync.runtime import start_sync
    from shared.sync.scheduler import recover_connection

    request: SyncRequest = call.body
    connection = manageable(db(call.settings), call.principal, request.connection_id)
    recover_connection(call.settings, connection.id, connection.vendor)
    run = start_sync(call.settings, connection, mode=request.mode, trigger="manual", requested_by=call.principal.email)
    return SyncStarted(run_id=run.run_id, connection_id=connection.id, vendor=connection.vendor, status=run.status)


handle = endpoint.entry_point()
