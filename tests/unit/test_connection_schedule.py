"""next_run_at: cron in the connection's time zone, or the connector's default."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from shared.connections.models import ConnectionSchedule
from shared.connections.schedule import next_run, next_run_for, validate_cron
from tests.demo_connectors import DEMO_KEYS

UTC = timezone.utc


@pytest.mark.parametrize(
    "cron, zone, after, expected",
    [
        (
            "0 5 * * *",
            "Etc/UTC",
            datetime(2026, 1, 2, 4, 59, tzinfo=UTC),
            datetime(2026, 1, 2, 5, 0, tzinfo=UTC),
        ),
        # strictly after: a run planned at 05:00 schedules the next day's
        (
            "0 5 * * *",
            "Etc/UTC",
            datetime(2026, 1, 2, 5, 0, tzinfo=UTC),
            datetime(2026, 1, 3, 5, 0, tzinfo=UTC),
        ),
        (
            "*/15 * * * *",
            "Etc/UTC",
            datetime(2026, 1, 2, 14, 7, 30, tzinfo=UTC),
            datetime(2026, 1, 2, 14, 15, tzinfo=UTC),
        ),
        # weekdays at 09:00 New York (EST, UTC-5): Friday 14:00 UTC -> Monday 14:00 UTC
        (
            "0 9 * * 1-5",
            "America/New_York",
            datetime(2026, 1, 2, 14, 0, tzinfo=UTC),
            datetime(2026, 1, 5, 14, 0, tzinfo=UTC),
        ),
        # the same local hour across a DST change (Paris: CET in March before the 29th, CEST after)
        (
            "0 6 * * *",
            "Europe/Paris",
            datetime(2026, 3, 28, 12, 0, tzinfo=UTC),
            datetime(2026, 3, 29, 4, 0, tzinfo=UTC),
        ),
        (
            "0 6 * * *",
            "Europe/Paris",
            datetime(2026, 3, 27, 12, 0, tzinfo=UTC),
            datetime(2026, 3, 28, 5, 0, tzinfo=UTC),
        ),
        (
            "30 1 1 * *",
            "Etc/UTC",
            datetime(2026, 12, 15, tzinfo=UTC),
            datetime(2027, 1, 1, 1, 30, tzinfo=UTC),
        ),
        ("0 0 29 2 *", "Etc/UTC", datetime(2026, 3, 1, tzinfo=UTC), datetime(2028, 2, 29, tzinfo=UTC)),
    ],
)
def test_next_run(cron: str, zone: str, after: datetime, expected: datetime) -> None:
    found = next_run(cron, zone, after)
    assert found == expected and found.tzinfo is not None and found.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_connection_schedule_or_connector_default() -> None:
    after = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    # demo connectors default to 06:00 UTC
    assert next_run_for(None, DEMO_KEYS, after) == datetime(2026, 1, 3, 6, 0, tzinfo=UTC)
    own = ConnectionSchedule(cron="0 */2 * * *")
    assert next_run_for(own, DEMO_KEYS, after) == datetime(2026, 1, 2, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "cron, reason",
    [
        ("0 5 * *", "5 fields"),
        ("0 0 5 * * *", "5 fields"),
        ("61 * * * *", "not a valid"),
        ("0 25 * * *", "not a valid"),
        ("0 0 31 2 *", "never matches"),
    ],
)
def test_bad_cron_is_refused(cron: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        validate_cron(cron)
    with pytest.raises(ValidationError):
        ConnectionSchedule(cron=cron)


def test_schedule_model_normalises_and_checks_the_zone() -> None:
    assert ConnectionSchedule(cron="0   5 * *  mon").cron == "0 5 * * mon"
    with pytest.raises(ValidationError, match="IANA"):
        ConnectionSchedule(cron="0 5 * * *", time_zone="Mars/Olympus")
    with pytest.raises(ValueError, match="timezone-aware"):
        next_run("0 5 * * *", "Etc/UTC", datetime(2026, 1, 1))  # naive: refused
