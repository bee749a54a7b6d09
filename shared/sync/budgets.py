"""A connection's rate budgets at the scope its vendor enforces them.

Scope "app" (Intercom): the vendor's queue paces every connection together; nothing to
book. Scope "token" (Pipedrive, HubSpot): each connection books its own budget in the store
before every request, so two connections never share one and the budget holds across
chunks and processes. Endpoint limits (Pylon) add a budget per connection and endpoint.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.store import ratelimits
from shared.vendors.connector import Connector
from shared.vendors.pagination import PageRequest

if TYPE_CHECKING:
    from google.cloud.firestore import Client

#: the longest a request waits for its slot inside a unit of work before handing it back
MAX_BOOKING_WAIT_S = 30.0


@dataclass
class StoreGate:
    db: Client
    connector: Connector
    connection_id: str
    #: the rate-limit clock's speed (Settings.rate_time_scale: 1 outside tests and benchmarks)
    scale: float = 1.0

    def _budgets(self, request: PageRequest) -> list[tuple[str, float]]:
        limit = self.connector.rate_limit
        base = f"{self.connector.vendor}:{self.connection_id}"
        budgets = []
        if limit.scope == "token":
            budgets.append((base, limit.per_second * self.scale))
        for endpoint in limit.endpoints:
            if endpoint.matches(request.method, request.path):
                budgets.append((f"{base}:{endpoint.key}", endpoint.per_second * self.scale))
        return budgets

    def book(self, request: PageRequest) -> float | None:
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


def gate_for(db: Client, connector: Connector, connection_id: str, scale: float = 1.0) -> StoreGate | None:
    limit = connector.rate_limit
    if limit.scope == "app" and not limit.endpoints:
        return None
    return StoreGate(db, connector, connection_id, scale)
