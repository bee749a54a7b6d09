"""POST /sync-now: an admin starts a sync of one vendor now; 409 while one is running."""

from __future__ import annotations

from shared.api import Call, Endpoint, Users
from shared.sync.api import SyncRequest, SyncStarted

endpoint = Endpoint("sync-now", summary="Start a sync now", tags=("sync",))


@endpoint.route("POST", "/", auth=Users(role="admin"), body=SyncRequest, response=SyncStarted, status=202, errors=(409,))
def sync_now(call: Call) -> SyncStarted:
    """Plan and fan out a run; the answer carries its id for the status and runs endpoints."""
    from shared.sync.runtime import start_sync

    request: SyncRequest = call.body
    run = start_sync(
        call.settings, vendor=request.vendor, mode=request.mode, trigger="manual", requested_by=call.principal.email
    )
    return SyncStarted(run_id=run.run_id, vendor=request.vendor, status=run.status)


handle = endpoint.entry_point()
