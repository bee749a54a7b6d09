"""GET /sync-status: per connection, the last run, its counts, last success, cursor age."""

from __future__ import annotations

from datetime import datetime, timezone

from shared.api import Call, Endpoint, Users
from shared.sync.api import ConnectionStatus, StatusList, StreamCursor

endpoint = Endpoint("sync-status", summary="Sync status of every connection", tags=("sync",))


@endpoint.route("GET", "/", auth=Users(), response=StatusList)
def status(call: Call) -> StatusList:
    """One entry per known connector, whether or not it has synced yet."""
    from shared.store.client import db
    from shared.sync import state
    from shared.sync.registry import vendors

    client = db(call.settings)
    now = datetime.now(timezone.utc)
    connections = []
    for vendor in vendors():
        data = state.connection_state(client, vendor)
        last_run = state.get_run(client, vendor, data["last_run_id"]) if data.get("last_run_id") else None
        cursors = {}
        for stream, cursor in (data.get("cursors") or {}).items():
            hwm = datetime.fromtimestamp(cursor["hwm"], tz=timezone.utc) if cursor.get("hwm") else None
            cursors[stream] = StreamCursor(hwm=hwm, age_s=round((now - hwm).total_seconds(), 1) if hwm else None)
        lease = data.get("lease") or {}
        connections.append(
            ConnectionStatus(
                connection_id=vendor,
                vendor=vendor,
                running_run_id=lease.get("run_id") if lease.get("expires_at", now) > now else None,
                last_run=last_run,
                last_success_at=data.get("last_success_at"),
                counts=last_run.counts if last_run else None,
                cursors=cursors,
            )
        )
    return StatusList(connections=connections)


handle = endpoint.entry_point()
