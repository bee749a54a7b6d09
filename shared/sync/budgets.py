"""A connection's rate budgets at the scope its vendor enforces them.

Scope "app" (Intercom): the vendor's queue paces every connection together; nothing to
book for the sync. Live calls (proxy, actions, live reads) of an app-scope connection book
its live budget instead, and when the queue runs at its full share of the vendor's budget
(`queue_share` 1.0) the sync worker yields what they booked before its next request
(`live_backlog_s`): the headroom is taken only when live calls happen. Scope "token" (Pipedrive, HubSpot): each connection books its own budget in the store
before every request, so two connections never share one and the budget holds across
chunks and processes. Endpoint limits (Pylon) add a budget per connection and endpoint.
A daily allowance (Pipedrive's tokens) is booked ahead too: a sync call that would eat into
the reserve kept for live calls is not sent (AllowanceSpent: its chunk waits for the reset).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from shared.store import ratelimits
from shared.vendors.connector import Connector, Stream
from shared.vendors.errors import AllowanceSpent
from shared.vendors.pagination import PageRequest
from shared.vendors.ratelimit import next_utc_midnight

if TYPE_CHECKING:
    from google.cloud.firestore import Client

#: the longest a request waits for its slot inside a unit of work before handing it back
MAX_BOOKING_WAIT_S = 30.0


def queue_paced(connector: Connector) -> bool:
    """Only the vendor's queue paces this connector's sync: nothing is booked in the store,
    so the queue's dispatch rate is the request budget (see shared.sync.queues)."""
    limit = connector.rate_limit
    return limit.scope == "app" and not limit.endpoints


#: the longest a child task's batch should take at its share of a queue-paced budget (every
#: concurrent dispatch waiting its turn in the window): well within the worker's 180-s time
#: budget, so a batch is never handed back half read (its requests spent for nothing)
CHILD_TASK_SPAN_S = 60.0


def reports_window(connector: Connector) -> bool:
    """The vendor's answers report a fixed window's room and end (Intercom's
    X-RateLimit-Remaining and -Reset), so the connection's WindowLedger
    (shared.vendors.http) can pace each request within a process."""
    headers = connector.rate_limit.headers
    return (headers.parse is None and headers.remaining is not None and headers.reset is not None
            and headers.reset_kind in ("epoch", "delta"))


def parents_per_task(connector: Connector, stream: Stream[Any]) -> int:
    """How many parents one task of child `stream` reads. A `batch` stream reads many
    parents per request and a store-booked connector books each request: both keep the
    declared batch. Where the queue alone paces, its rate counts tasks, not requests, so a
    batch read one request each needs a second pacer: the vendor's reported window, kept per
    connection by the WindowLedger, holds each request until the window has room. A task's
    requests go one after another, so across a queue's dispatches at most
    `max_concurrency` are on the wire at once: an instance's ledger, which learns what
    other instances spent from the vendor's own count in every answer, misses at most
    those. A vendor that reports no window keeps one request per task (the queue's rate is
    then the only pacer). The batch is also cut so that a task's share of the budget
    (the budget over the concurrent dispatches) reads it within CHILD_TASK_SPAN_S."""
    if stream.batch is not None or not queue_paced(connector):
        return stream.child_batch
    if not reports_window(connector):
        return 1
    limit = connector.rate_limit
    share = limit.per_second * limit.queue_share / max(1, limit.max_concurrency)
    return max(1, min(stream.child_batch, int(share * CHILD_TASK_SPAN_S)))


def _sync_rates(connector: Connector, request: PageRequest, scale: float) -> list[tuple[str, float]]:
    """A sync request's store-booked budgets: (name within the connection, booked rate)."""
    limit = connector.rate_limit
    rates = [("", limit.per_second * scale)] if limit.scope == "token" else []
    rates += [(f":{e.key}", e.booked_per_second(scale)) for e in limit.endpoints if e.matches(request.method, request.path)]
    return rates


def booked_spacing(connector: Connector, request: PageRequest, scale: float = 1.0) -> tuple[str, float] | None:
    """Which store-booked budgets a sync request like `request` books (a name shared by the
    requests that book the same ones) and the seconds between two of their slots; None
    where the queue alone paces it. The planner queues a run's first pages that far apart,
    so they come due as their slots do (see planner.first_page_delays)."""
    rates = _sync_rates(connector, request, scale)
    if not rates:
        return None
    return "|".join(name for name, _ in rates), 1.0 / min(rate for _, rate in rates)


def live_key(connector: Connector, connection_id: str) -> str:
    """The budget live calls of an app-scope connection book."""
    return f"{connector.vendor}:{connection_id}:live"


def yields_to_live_calls(connector: Connector) -> bool:
    """The sync leaves no standing headroom, so it gives way to live calls as they happen."""
    limit = connector.rate_limit
    return limit.scope == "app" and limit.queue_share >= 1.0


def live_backlog_s(db: Client, connector: Connector, connection_id: str, now: float | None = None) -> float:
    """How long the sync should wait for the slots live calls booked ahead of now (one read)."""
    if not yields_to_live_calls(connector):
        return 0.0
    tat = ratelimits.booked_until(db, live_key(connector, connection_id))
    return max(0.0, tat - (time.time() if now is None else now))


@dataclass
class StoreGate:
    db: Client
    connector: Connector
    connection_id: str
    #: the rate-limit clock's speed (Settings.rate_time_scale: 1 outside tests and benchmarks)
    scale: float = 1.0
    #: a live call (proxy, actions, live reads, a user's push, a webhook's fetch), not a sync
    #: page: it books the live budget and may spend the daily reserve a sync leaves
    live: bool = False
    #: the clock the daily allowance's day is read on (tests move it past midnight)
    clock: Callable[[], float] = field(default=time.time)

    def _budgets(self, request: PageRequest) -> list[tuple[str, float]]:
        base = f"{self.connector.vendor}:{self.connection_id}"
        budgets = [(base + name, rate) for name, rate in _sync_rates(self.connector, request, self.scale)]
        if self.live and yields_to_live_calls(self.connector):
            budgets.insert(0, (live_key(self.connector, self.connection_id),
                               self.connector.rate_limit.per_second * self.scale))
        return budgets

    @property
    def _daily_key(self) -> str:
        return f"{self.connector.vendor}:{self.connection_id}:daily"

    def _day(self) -> str:
        return datetime.fromtimestamp(self.clock(), tz=timezone.utc).date().isoformat()

    def _book_daily(self, request: PageRequest) -> None:
        limit = self.connector.rate_limit
        if limit.daily is None:
            return
        cost = limit.daily.cost(request.method, request.path)
        share = 0.0 if self.live else limit.reserve_share
        if not ratelimits.spend_daily(self.db, self._daily_key, cost=cost, reserve_share=share, day=self._day()):
            now = self.clock()
            until = next_utc_midnight(now)
            raise AllowanceSpent(until, until - now, message=f"{self.connector.title}: today's allowance is spent "
                                                             "down to the reserve kept for live calls.")

    def observe(self, limit: int, remaining: int) -> None:
        """The daily allowance as the vendor's answer reported it."""
        if self.connector.rate_limit.daily is not None:
            ratelimits.observe_daily(self.db, self._daily_key, limit=limit, remaining=remaining, day=self._day())

    def book(self, request: PageRequest) -> float | None:
        self._book_daily(request)
        wait = 0.0
        for key, per_second in self._budgets(request):
            booked = ratelimits.reserve(self.db, key, per_second=per_second, max_wait_s=MAX_BOOKING_WAIT_S)
            if booked is None:
                return None
            wait = max(wait, booked)
        return wait

    def hold(self, delay_s: float) -> None:
        until = time.time() + delay_s
        for key, _ in self._budgets(PageRequest(path="/")):
            ratelimits.hold(self.db, key, until)


def gate_for(db: Client, connector: Connector, connection_id: str, scale: float = 1.0, *,
             live: bool = False) -> StoreGate | None:
    if queue_paced(connector) and connector.rate_limit.daily is None and not (live and yields_to_live_calls(connector)):
        return None
    return StoreGate(db, connector, connection_id, scale, live)
