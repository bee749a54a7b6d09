"""POST /sync-scheduler: Cloud Scheduler's entry; plans the run of one vendor that is due."""

from __future__ import annotations

from shared.api import Call, Deployment, Endpoint, ServiceAccount
from shared.errors import Conflict
from shared.sync.api import SyncRequest, SyncStarted

endpoint = Endpoint(
    "sync-scheduler", summary="Plan a scheduled sync", tags=("sync",), deployment=Deployment(timeout_s=120)
)


@endpoint.route("POST", "/", auth=ServiceAccount("scheduler"), body=SyncRequest, response=SyncStarted, status=202)
def schedule(call: Call) -> SyncStarted:
    """Start the vendor's run; a run still going is not an error (Scheduler must not retry)."""
    from shared.sync.runtime import start_sync

    request: SyncRequest = call.body
    try:
        run = start_sync(call.settings, vendor=request.vendor, mode=request.mode, trigger="schedule")
    except Conflict as exc:
        if exc.code != "sync_in_progress":
            raise
        return SyncStarted(run_id=(exc.details or {}).get("run_id"), vendor=request.vendor, status="already_running")
    return SyncStarted(run_id=run.run_id, vendor=request.vendor, status=run.status)


handle = endpoint.entry_point()
