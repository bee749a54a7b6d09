"""Support metrics of one issue from its stored document and messages: pure functions, so
the after-run precompute and the tests' independent recomputation share no state.

Definitions (kept in one place so every page says the same thing):
- the customer's first message: the first public message from a contact; the issue's
  creation time when there is none (an issue opened by an agent on a customer's behalf)
- first response: the first public message from an agent (a Pylon user) strictly after it;
  first response time (FRT) is the time between the two, in business hours when the
  connection declares them
- resolution time: creation to Pylon's resolution time, for closed issues
- SLA: per priority (the connection's config), a deadline for the first response (from
  the customer's first message) and for resolution (from creation); breached when the
  answer came late, or is still missing past the deadline
- unanswered: open, and the customer spoke last
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from shared.vendors.pylon.connector import BusinessHours, PylonConfig


def _unix(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    return float(value)


def _day_spans(start: float, end: float, hours: BusinessHours) -> list[tuple[float, float]]:
    """The business spans of each local day that [start, end) touches."""
    zone = ZoneInfo(hours.time_zone)
    day = datetime.fromtimestamp(start, tz=zone).date()
    last = datetime.fromtimestamp(end, tz=zone).date()
    spans = []
    while day <= last:
        if day.weekday() in hours.weekdays:
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
            open_at = (midnight + timedelta(hours=hours.start_hour)).timestamp()
            close_at = (midnight + timedelta(hours=hours.end_hour)).timestamp()
            spans.append((open_at, close_at))
        day += timedelta(days=1)
    return spans


def elapsed(start: float, end: float, hours: BusinessHours | None) -> float:
    """Seconds from start to end: wall-clock, or only those inside business hours."""
    if end <= start:
        return 0.0
    if hours is None:
        return end - start
    return sum(max(0.0, min(end, b) - max(start, a)) for a, b in _day_spans(start, end, hours))


def deadline(start: float, seconds: float, hours: BusinessHours | None) -> float:
    """The instant `seconds` after `start`, counting business hours only when declared."""
    if hours is None:
        return start + seconds
    left, cursor = seconds, start
    while True:  # a week of spans at a time; the weekday list is never empty (validated)
        week_end = cursor + 7 * 86_400
        for a, b in _day_spans(cursor, week_end, hours):
            a, b = max(a, cursor), min(b, week_end)
            if b <= a:
                continue
            if b - a >= left:
                return a + left
            left -= b - a
        cursor = week_end


@dataclass
class IssueMetrics:
    id: str
    number: int | None
    title: str | None
    priority: str
    state: str | None
    open: bool
    account_id: str | None
    assignee_id: str | None
    created_at: float
    first_customer_at: float
    first_response_at: float | None
    responder_id: str | None
    frt_s: float | None
    resolved_at: float | None
    resolution_s: float | None
    last_customer_at: float | None
    last_agent_at: float | None
    unanswered: bool
    frt_deadline: float | None
    resolution_deadline: float | None

    @property
    def agent_id(self) -> str | None:
        """Who the issue counts for: its assignee, else whoever answered first."""
        return self.assignee_id or self.responder_id

    def frt_breached(self, now: float) -> bool:
        if self.frt_deadline is None:
            return False
        answered = self.first_response_at if self.first_response_at is not None else now
        return answered > self.frt_deadline

    def resolution_breached(self, now: float) -> bool:
        if self.resolution_deadline is None:
            return False
        if self.resolved_at is not None:
            return self.resolved_at > self.resolution_deadline
        return self.open and now > self.resolution_deadline

    def breached(self, now: float) -> bool:
        return self.frt_breached(now) or self.resolution_breached(now)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compute(issue: dict[str, Any], messages: list[dict[str, Any]], config: PylonConfig) -> IssueMetrics:
    """One issue's metrics from its stored document and its stored messages."""
    created = _unix(issue.get("created_at"))
    if created is None:
        raise ValueError(f"issue {issue.get('id')} has no creation time")
    public = sorted(
        ((_unix(m.get("timestamp")), m) for m in messages if not m.get("is_private") and m.get("timestamp") is not None),
        key=lambda pair: pair[0] or 0.0,
    )
    customer = [t for t, m in public if m.get("author_kind") == "customer" and t is not None]
    agent = [(t, m) for t, m in public if m.get("author_kind") == "agent" and t is not None]
    first_customer = customer[0] if customer else created
    response = next(((t, m) for t, m in agent if t > first_customer), None)
    hours = config.business_hours
    priority: Any = issue.get("priority") if issue.get("priority") in config.sla else config.default_priority
    target = config.sla.get(priority)
    is_open = bool(issue.get("open", issue.get("state") != "closed"))
    resolved = None if is_open else _unix(issue.get("resolved_at"))
    last_customer = customer[-1] if customer else None
    last_agent = agent[-1][0] if agent else None
    return IssueMetrics(
        id=str(issue["id"]),
        number=issue.get("number"),
        title=issue.get("title"),
        priority=str(priority),
        state=issue.get("state"),
        open=is_open,
        account_id=issue.get("account_id"),
        assignee_id=issue.get("assignee_id"),
        created_at=created,
        first_customer_at=first_customer,
        first_response_at=response[0] if response else None,
        responder_id=response[1].get("user_id") if response else None,
        frt_s=elapsed(first_customer, response[0], hours) if response else None,
        resolved_at=resolved,
        resolution_s=elapsed(created, resolved, hours) if resolved is not None else None,
        last_customer_at=last_customer,
        last_agent_at=last_agent,
        unanswered=is_open and last_customer is not None and (last_agent is None or last_agent < last_customer),
        frt_deadline=deadline(first_customer, target.first_response_s, hours)
        if target and target.first_response_s else None,
        resolution_deadline=deadline(created, target.resolution_s, hours) if target and target.resolution_s else None,
    )
