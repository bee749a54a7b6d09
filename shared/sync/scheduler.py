"""The one scheduled entry: every tick, plan every connection that is due, and look after
runs in flight (fail those whose lease expired, resume chains whose tasks were lost).

Cloud Scheduler calls sync-scheduler every few minutes; each connection's own schedule
(stored on it as next_run_at) says when it is due, so a new connection needs no new job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from shared.errors import Conflict, NotFound, ServiceUnavailable
from shared.store.client import condition, db
from shared.sync import planner, state

if TYPE_CHECKING:
    from shared.config import Settings

log = logging.getLogger("tributary.sync.scheduler")

#: how often Cloud Scheduler calls the tick (the finest schedule a connection can have)
TICK_CRON = "*/5 * * * *"


@dataclass
class TickReport:
    started: list[str] = field(default_factory=list)
    already_running: list[str] = field(default_factory=list)
    recovered: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    #: documents written after their connection's delete, deleted now
    purged: int = 0


def leased_connections(settings: Settings) -> list[str]:
    """Connections with a run in flight (a lease, live or expired)."""
    since = datetime(2000, 1, 1, tzinfo=timezone.utc)
    query = db(settings).collection("connections").where(filter=condition("lease.expires_at", ">", since))
    return [snap.id for snap in query.select(["vendor"]).stream()]


def recover_connection(settings: Settings, connection_id: str, vendor: str, now: datetime | None = None) -> planner.Recovery:
    from shared.sync.registry import connector
    from shared.sync.runtime import chunk_enqueuer

    return planner.recover(db(settings), connector(vendor), chunk_enqueuer(settings, vendor), connection_id,
                           now=now, stall_after_s=settings.sync_stall_after_s)


def tick(settings: Settings, now: datetime | None = None) -> TickReport:
    from shared.connections.store import due_connections, get_connection, mark_planned, purge_deleted
    from shared.sync.runtime import start_sync

    now = now or state.utcnow()
    report = TickReport()
    database = db(settings)
    for connection_id in leased_connections(settings):
        try:
            connection = get_connection(database, connection_id)
        except NotFound:
            continue  # deleted while its run was in flight
        try:
            outcome = recover_connection(settings, connection_id, connection.vendor, now)
        except ServiceUnavailable as exc:  # store contention: the next tick tries again
            report.errors[connection_id] = exc.code
            continue
        if outcome.action != "none":
            report.recovered[connection_id] = outcome.action
    for connection in due_connections(database, now):
        if mark_planned(database, connection.id, now) is None:
            continue  # another tick planned it first, or it was paused meanwhile
        try:
            run = start_sync(settings, connection, mode="auto", trigger="schedule", now=now)
            report.started.append(run.run_id)
        except Conflict:
            report.already_running.append(connection.id)
        except ServiceUnavailable as exc:
            report.errors[connection.id] = exc.code
    report.purged = purge_deleted(database, now)
    log.info("scheduler tick", extra={"started": len(report.started), "recovered": len(report.recovered),
                                      "purged": report.purged})
    return report
