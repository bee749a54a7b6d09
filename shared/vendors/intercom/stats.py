"""Conversation statistics over a range of days, optionally for one admin (a view).

One streamed query (created_day between from and to, admin_assignee_id == admin when
given) with a field mask of the fields the numbers need, so a year of conversations costs
one read each and little transfer; the views function keeps the answer until the
conversations change, so a dashboard asking again reads one precomputed document.
Counts per day (every day of the range, zero when none), per state and per assigned
admin; first-response time (time_to_admin_reply_s) as the median (mean of the two middle
values for an even count) and the nearest-rank 90th percentile over the conversations
that had an admin reply. Deleted conversations are not counted.

Indexes: the range on created_day alone uses the automatic single-field index; with an
admin it needs (admin_assignee_id ASC, created_day ASC), declared on the view.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.vendors.connector import IndexSpec, View

if TYPE_CHECKING:
    from google.cloud.firestore import Client

MAX_STATS_DAYS = 366
FIELDS = ("created_day", "state", "admin_assignee_id", "time_to_admin_reply_s", "_deleted")


class StatsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: date = Field(..., alias="from", description="First day (UTC), inclusive")
    to: date = Field(..., description="Last day (UTC), inclusive")
    admin_id: str | None = Field(None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _span(self) -> StatsQuery:
        if self.to < self.from_:
            raise ValueError("'to' must not be before 'from'")
        if (self.to - self.from_).days + 1 > MAX_STATS_DAYS:
            raise ValueError(f"the range may span at most {MAX_STATS_DAYS} days")
        return self


class DayCount(BaseModel):
    day: date
    count: int


class AdminCount(BaseModel):
    admin_id: str | None = Field(description="None: unassigned")
    count: int


class ResponseTimes(BaseModel):
    replied: int = Field(description="Conversations with a first admin reply")
    median_s: float | None = None
    p90_s: float | None = Field(None, description="Nearest-rank 90th percentile")


class ConversationStats(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    admin_id: str | None = None
    total: int
    by_day: list[DayCount] = Field(description="Every day of the range, zero-filled")
    by_state: dict[str, int]
    by_admin: list[AdminCount]
    first_response: ResponseTimes


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
        if doc.get("_deleted"):
            continue
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


def conversation_stats(db: Client, connection_id: str, q: StatsQuery) -> ConversationStats:
    from shared.store.queries import scan

    equals = [("admin_assignee_id", q.admin_id)] if q.admin_id is not None else []
    ranges = [("created_day", ">=", q.from_.isoformat()), ("created_day", "<=", q.to.isoformat())]
    return summarize(q, scan(db, connection_id, "conversations", equals=equals, ranges=ranges, select=FIELDS))


CONVERSATION_STATS = View(
    name="conversation-stats",
    stream="conversations",
    query_model=StatsQuery,
    response_model=ConversationStats,
    compute=conversation_stats,
    summary="Conversations per day, state and admin, with median and p90 first-response time",
    indexes=(IndexSpec("conversations", (("admin_assignee_id", "ASCENDING"), ("created_day", "ASCENDING"))),),
)
