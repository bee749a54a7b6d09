"""Queue numbers derived from each connector's declared rate limit: the one source of
truth for both the local stack and infra/terraform (through the deploy manifest)."""

from __future__ import annotations

from shared.sync.budgets import queue_paced
from shared.tasks import QueueSpec
from shared.vendors.connector import Connector

#: attempts per task; with the backoff below they span about 22 minutes (the lease outlives it)
MAX_ATTEMPTS = 12
#: Cloud Tasks' ceiling for one queue
MAX_DISPATCHES_PER_SECOND = 500.0


def queue_name(vendor: str) -> str:
    return f"sync-{vendor}"


def child_queue_name(vendor: str) -> str:
    return f"sync-{vendor}-children"


def has_child_queue(connector: Connector) -> bool:
    """Child streams get dispatches of their own where the store's bookings, not the queue,
    keep the vendor's rate (scope "token" or per-endpoint budgets): there, tasks that wait
    for one budget's slots cannot hold the dispatches another budget's work needs. Pylon's
    25 issue windows, a second or so each, took most of its six dispatches for the first
    seconds of a backfill while the messages' budget, the run's floor, had child tasks
    queued behind them (#16). Where the queue alone paces (Intercom), a second queue would
    double the vendor's rate: never there."""
    return not queue_paced(connector) and any(s.parent for s in connector.streams)


def queue_for(connector: Connector, stream: str) -> str:
    """The queue a chunk of `stream` is enqueued on."""
    if has_child_queue(connector) and any(s.name == stream and s.parent for s in connector.streams):
        return child_queue_name(connector.vendor)
    return queue_name(connector.vendor)


def queue_specs(connector: Connector, requests_per_minute: float | None = None) -> list[QueueSpec]:
    """Every sync queue of the connector: its own and, where it has one, its children's
    (the same numbers: the store's bookings pace both)."""
    spec = queue_spec(connector, requests_per_minute)
    if not has_child_queue(connector):
        return [spec]
    return [spec, spec.model_copy(update={"name": child_queue_name(connector.vendor)})]


def queue_spec(connector: Connector, requests_per_minute: float | None = None) -> QueueSpec:
    """A task fetches one page (one request), so the dispatch rate is the request budget. A
    child task may read several parents, one request each, where the vendor reports its
    window: the connection's WindowLedger then paces those requests inside the process
    (shared.sync.budgets.parents_per_task).

    requests_per_minute overrides the vendor's published budget (the sandbox's is lower).
    With scope "token" the budget is each connection's, booked in the store
    (shared.sync.budgets), so the queue dispatches for `parallel_tokens` of them at once.
    """
    rate = connector.rate_limit
    per_second = (requests_per_minute / 60.0) if requests_per_minute else rate.per_second
    tokens = rate.parallel_tokens if rate.scope == "token" else 1
    per_second = round(min(MAX_DISPATCHES_PER_SECOND, per_second * rate.queue_share * tokens), 3)
    return QueueSpec(
        name=queue_name(connector.vendor),
        max_dispatches_per_second=per_second,
        max_concurrent_dispatches=rate.max_concurrency,
        max_burst_size=None,  # output-only in Cloud Tasks: the service derives it from the rate
        max_attempts=MAX_ATTEMPTS,
        min_backoff_seconds=2.0,
        max_backoff_seconds=300.0,
        max_doublings=5,
        # None: give up on max_attempts alone (Cloud Tasks needs both limits reached).
        max_retry_duration_seconds=None,
    )
