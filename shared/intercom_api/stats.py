"""Conversation statistics over a range of days, optionally for one admin.

One streamed query (created_day between from and to, admin_assignee_id == admin when
given) with a field mask of the four fields the numbers need, so a year of conversations
costs one read each and little transfer. Counts per day (every day of the range, zero
when none), per state and per assigned admin; first-response time (time_to_admin_reply_s)
as the median (mean of the two middle values for an even count) and the nearest-rank
90th percentile over the conversations that had an admin reply.

Indexes: the range on created_day alone uses the automatic single-field index; with an
admin it needs (admin_assignee_id ASC, created_day ASC), see queries.stats_indexes.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from shared.intercom_api import CONNECTION_ID
from shared.intercom_api.models import AdminCount, ConversationStats, DayCount, ResponseTimes, StatsQuery

if TYPE_CHECKING:
    from google.cloud.firestore import Client

FIELDS = ("created_day", "state", "admin_assignee_id", "time_to_admin_reply_s")


def nearest_rank(sorted_values: list[float], pct: float) -> float | None:
    """The smallest value with at least pct% of the values at or below it."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return float(sorted_values[rank - 1])


def summarize(q: StatsQuery, docs: Iterable[dict[str, Any]]) -> ConversationStats:
    days: Counter[str] = Counter()
    states: Counter[str] = Counter()
    admins: Counter[str | None] = Counter()
    replies: list[float] = []
    total = 0
    for doc in docs:
        total += 1
        days[doc.get("created_day") or ""] += 1
        states[doc.get("state") or "unknown"] += 1
        admins[doc.get("admin_assignee_id")] += 1
        seconds = doc.get("time_to_admin_reply_s")
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds >= 0:
            replies.append(float(seconds))
    replies.sort()
    span = (q.to - q.from_).days + 1
    by_day = [DayCount(day=d, count=days.get(d.isoformat(), 0)) for d in (q.from_ + timedelta(n) for n in range(span))]
    by_admin = [
        AdminCount(admin_id=admin, count=count)
        for admin, count in sorted(admins.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))
    ]
    return ConversationStats(
        from_=q.from_,
        to=q.to,
        admin_id=q.admin_id,
        total=total,
        by_day=by_day,
        by_state=dict(sorted(states.items())),
        by_admin=by_admin,
        first_response=ResponseTimes(
            replied=len(replies),
            median_s=float(statistics.median(replies)) if replies else None,
            p90_s=nearest_rank(replies, 90),
        ),
    )


def _day(value: date) -> str:
    return value.isoformat()


def conversation_stats(db: Client, q: StatsQuery) -> ConversationStats:
    from shared.store.queries import scan

    equals = [("admin_assignee_id", q.admin_id)] if q.admin_id is not None else []
    ranges = [("created_day", ">=", _day(q.from_)), ("created_day", "<=", _day(q.to))]
    return summarize(q, scan(db, CONNECTION_ID, "conversations", equals=equals, ranges=ranges, select=FIELDS))
