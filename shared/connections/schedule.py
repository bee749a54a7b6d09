"""When a connection syncs next: its cron (or its connector's default) read in its time zone.

The engine runs one scheduler entry (Cloud Scheduler calls sync-scheduler every few minutes)
that asks shared.connections.store.due_connections for what is due, instead of one
Cloud Scheduler job per connection: connections are created at run time, jobs by Terraform.
So every connection carries `next_run_at`, computed here.

Cron is the usual 5 fields (minute hour day-of-month month day-of-week, with lists, ranges,
steps and names), evaluated by croniter. Six- and seven-field forms (seconds, years) are
refused: nothing syncs more often than every minute.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from shared.connections.models import ConnectionSchedule
    from shared.vendors.connector import Connector


def validate_cron(expression: str) -> str:
    """The expression normalised to single spaces, or ValueError saying what is wrong."""
    from croniter import CroniterBadDateError, croniter

    fields = expression.split()
    if len(fields) != 5:
        raise ValueError("must have 5 fields: minute hour day-of-month month day-of-week")
    normalised = " ".join(fields)
    if not croniter.is_valid(normalised):
        raise ValueError("is not a valid cron expression")
    try:  # "0 0 31 2 *" parses but never fires
        croniter(normalised, datetime(2000, 1, 1, tzinfo=timezone.utc)).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError("never matches a date") from None
    return normalised


def validate_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone") from None
    return name


def next_run(cron: str, time_zone: str, after: datetime) -> datetime:
    """The first time strictly after `after` that matches `cron` in `time_zone`, in UTC."""
    from croniter import croniter

    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    local = after.astimezone(ZoneInfo(time_zone))
    following: datetime = croniter(cron, local).get_next(datetime)
    return following.astimezone(timezone.utc)


def effective(schedule: ConnectionSchedule | None, connector: Connector) -> tuple[str, str]:
    """(cron, time zone): the connection's own schedule, else its connector's default."""
    if schedule is not None:
        return schedule.cron, schedule.time_zone
    return connector.schedule.cron, connector.schedule.time_zone


def next_run_for(schedule: ConnectionSchedule | None, connector: Connector, after: datetime) -> datetime:
    cron, zone = effective(schedule, connector)
    return next_run(cron, zone, after)
