"""A connection's sync status and health as the API shows it: last run, counts, cursor
ages, status, circuit breaker, last success, last error, next scheduled run."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from shared.connections.breaker import BreakerState
from shared.sync import state
from shared.sync.api import ConnectionStatus, StreamCursor

if TYPE_CHECKING:
    from google.cloud.firestore import Client

    from shared.connections.models import Connection


def connection_status(db: Client, connection: Connection) -> ConnectionStatus:
    now = datetime.now(timezone.utc)
    data = state.connection_state(db, connection.id)
    lease = state.lease_of(data)
    if lease.get("run_id") and lease["expires_at"] <= now:
        # Its workers are gone: say so now rather than at the scheduler's next tick.
        state.fail_run(db, connection.id, lease["run_id"], "lease_expired", "The run stopped making progress.", now)
        data = state.connection_state(db, connection.id)
    last_run = state.get_run(db, connection.id, data["last_run_id"]) if data.get("last_run_id") else None
    cursors = {}
    for stream, cursor in state.cursors(db, connection.id).items():
        hwm = datetime.fromtimestamp(cursor["hwm"], tz=timezone.utc) if cursor.get("hwm") else None
        cursors[stream] = StreamCursor(hwm=hwm, age_s=round((now - hwm).total_seconds(), 1) if hwm else None,
                                       last_full_at=cursor.get("last_full_at"))
    lease = state.lease_of(data)
    live = lease.get("run_id") and lease.get("expires_at", now) > now
    return ConnectionStatus(
        connection_id=connection.id,
        vendor=connection.vendor,
        name=connection.name,
        status=connection.status.value,
        running_run_id=lease.get("run_id") if live else None,
        last_run=last_run,
        last_success_at=data.get("last_success_at"),
        counts=last_run.counts if last_run else None,
        cursors=cursors,
        last_error=connection.last_error,
        next_run_at=connection.next_run_at,
        breaker=connection.breaker or BreakerState(),
    )
