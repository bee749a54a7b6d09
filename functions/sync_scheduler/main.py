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
    from shared.store.client import db
    from shared.sync.planner import plan_run
    from shared.sync.registry import connector
    from shared.sync.runtime import chunk_enqueuer

    request: SyncRequest = call.body
    try:
        run = plan_run(
            db(call.settings),
            connector(request.vendor),
            chunk_enqueuer(call.settings),
            connection_id=request.vendor,
            trigger="schedule",
            mode=request.mode,
        )
    except Conflict as exc:
        if exc.code != "sync_in_progress":
            raise
        return SyncStarted(run_id=(exc.details or {}).get("run_id"), vendor=request.vendor, status="already_running")
    return SyncStarted(run_id=run.run_id, vendor=request.vendor, status=run.status)


handle = endpoint.entry_point()
