"""The webhook queues: one per vendor that declares webhooks, targeting webhook-worker.

Separate from the sync queues on purpose: a webhook is one record and most carry it whole,
so they must not wait behind a backfill's pages (nor slow one down). The few events that
fetch their record go through the connection's vendor client, paced like any other call.
"""

from __future__ import annotations

from shared.tasks import QueueSpec, task_id_for
from shared.vendors.connector import Connector

RECEIVER_FUNCTION = "webhooks"
WORKER_FUNCTION = "webhook-worker"
#: attempts per delivery task; with the backoff below they span about 40 minutes
MAX_ATTEMPTS = 12
DISPATCHES_PER_SECOND = 100.0
CONCURRENT_DISPATCHES = 20


def queue_name(vendor: str) -> str:
    return f"webhooks-{vendor}"


def queue_spec(connector: Connector) -> QueueSpec:
    return QueueSpec(
        name=queue_name(connector.vendor),
        max_dispatches_per_second=DISPATCHES_PER_SECOND,
        max_concurrent_dispatches=CONCURRENT_DISPATCHES,
        max_burst_size=None,
        max_attempts=MAX_ATTEMPTS,
        min_backoff_seconds=1.0,
        max_backoff_seconds=300.0,
        max_doublings=5,
        max_retry_duration_seconds=None,
    )


def webhook_connectors(connectors: list[Connector]) -> list[Connector]:
    return [c for c in connectors if c.webhooks is not None]


def task_id(connection_id: str, delivery_id: str) -> str:
    """Named by the delivery: a duplicate delivery's enqueue is refused by Cloud Tasks."""
    return task_id_for("webhook", connection_id, delivery_id)
