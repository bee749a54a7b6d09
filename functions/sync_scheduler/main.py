"""POST /sync-scheduler: Cloud Scheduler's one entry, every few minutes: plans every
connection that is due and looks after runs in flight (see shared.sync.scheduler)."""

from __future__ import annotations

from shared.api import Call, Deployment, Endpoint, ServiceAccount
from shared.sync.api import TickResult

endpoint = Endpoint(
    "sync-scheduler", summary="Plan due syncs, recover stalled runs", tags=("sync",), deployment=Deployment(timeout_s=300)
)


@endpoint.route("POST", "/", auth=ServiceAccount("scheduler"), response=TickResult, status=200)
def schedule(call: Call) -> TickResult:
    """A connection whose run is still going is not an error (Scheduler must not retry)."""
    from shared.sync.scheduler import tick

    report = tick(call.settings)
    return TickResult(started=report.started, already_running=report.already_running,
                      recovered=report.recovered, errors=report.errors, purged=report.purged)


handle = endpoint.entry_point()
