"""Intercom's contacts import as parallel windows of creation time (#16): whole UTC days,
whose search filters select the same contacts whether Intercom compares by day or by
second, and splits that stay on midnights."""

from __future__ import annotations

from datetime import datetime, timezone

from shared.sync.planner import plan_chains
from shared.sync.worker import _split_if_capped
from shared.vendors.connector import Slice
from shared.vendors.intercom.connector import CONNECTOR, CONTACTS, DAY

NOW = datetime(2026, 11, 23, 22, 0, tzinfo=timezone.utc)


def contact_windows() -> list[tuple[float, float]]:
    plan = plan_chains(CONNECTOR, {}, "full", NOW, lambda s: s == "contacts")
    return [(c.since, c.until) for c in plan.chains if c.window]  # type: ignore[misc]


def test_a_full_import_is_cut_into_contiguous_windows_on_utc_midnights_up_to_now() -> None:
    windows = contact_windows()
    assert len(windows) > 4
    assert all(since % DAY == 0 for since, _ in windows)
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:], strict=False))  # no gap, no overlap
    assert windows[-1][1] == NOW.timestamp()
    assert windows[0][0] < datetime(2011, 1, 1, tzinfo=timezone.utc).timestamp()  # before Intercom existed


def _selects(since: float, until: float, created: int, by_day: bool) -> bool:
    """What Intercom does with the window's query for a contact created at `created`."""
    query = CONTACTS.full.build(Slice(since=since, until=until)).json_body["query"]  # type: ignore[index]
    ok = True
    for f in query["value"]:
        value, at = (f["value"] // DAY * DAY, created // DAY * DAY) if by_day else (f["value"], created)
        ok &= at > value if f["operator"] == ">" else at < value
    return bool(ok)


def test_each_contact_falls_in_exactly_one_window_by_day_or_by_second() -> None:
    windows = contact_windows()[-3:]
    start = int(windows[0][0])
    for created in range(start, int(NOW.timestamp()), 3_607):
        for by_day in (True, False):
            assert sum(_selects(s, u, created, by_day) for s, u in windows) == 1, (created, by_day)


def test_a_capped_window_splits_on_a_midnight() -> None:
    since, until = 1_750_000_000 // DAY * DAY, 1_750_000_000 // DAY * DAY + 9 * DAY
    chain = {"since": since, "until": until, "window": True, "mode": "full"}
    halves = _split_if_capped(CONTACTS, chain, {"total_count": 5_000})
    assert [(h.since, h.until) for h in halves] == [(since, since + 5 * DAY), (since + 5 * DAY, until)] or \
        [(h.since, h.until) for h in halves] == [(since, since + 4 * DAY), (since + 4 * DAY, until)]
    one_day = {**chain, "until": since + DAY}
    assert _split_if_capped(CONTACTS, one_day, {"total_count": 5_000}) == []  # a day cannot split
