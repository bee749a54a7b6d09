"""Wire the engine to the real world from settings: Firestore, Cloud Tasks, connections and
their credentials, vendor clients. Functions call these; tests may build WorkerDeps from
fakes instead."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

from shared.config import Settings
from shared.connections.breaker import BreakerPolicy, BreakerState
from shared.store.client import db
from shared.sync.api import ChunkResult
from shared.sync.models import ChunkTask, Run, Trigger
from shared.sync.planner import LEASE_TTL_S
from shared.sync.queues import queue_name
from shared.sync.worker import ConnectionContext, WorkerDeps

if TYPE_CHECKING:
    from google.cloud.firestore import Client

    from shared.connections.models import Connection
    from shared.vendors.connector import Connector
    from shared.vendors.http import VendorClient

WORKER_FUNCTION = "sync-worker"
#: sync-worker's timeout is 300 s; fetching may use 180 s of it, saving and committing the rest
WORKER_TIME_BUDGET_S = 180.0


class ChunkEnqueuer(Protocol):
    """Enqueue a chunk, optionally to run no sooner than `at`; False when its name exists."""

    def __call__(self, task: ChunkTask, at: datetime | None = None) -> bool: ...


def chunk_enqueuer(settings: Settings, vendor: str | Callable[[str], str]) -> ChunkEnqueuer:
    """Enqueue a chunk on its vendor's queue under a deterministic name (replays dedupe).
    `vendor` is the vendor, or how to find a connection's vendor (the worker serves all)."""
    from shared.tasks import enqueue, task_id_for, tasks_client

    client = tasks_client(settings.cloud_tasks_emulator_host)
    url = settings.function_url(WORKER_FUNCTION)

    def enqueue_chunk(task: ChunkTask, at: datetime | None = None) -> bool:
        return enqueue(
            client,
            project=settings.project_id,
            location=settings.queue_location,
            queue=queue_name(vendor if isinstance(vendor, str) else vendor(task.connection_id)),
            task_id=task_id_for(task.connection_id, task.run_id, task.chain_id, str(task.page), f"g{task.generation}"),
            url=url,
            payload=task.model_dump(mode="json"),
            oidc_service_account=settings.tasks_service_account,
            audience=url,
            schedule_time=at,
        )

    return enqueue_chunk


def open_vendor_client(database: Client, settings: Settings, connection: Connection,
                       connector: Connector | None = None, *, live: bool = False) -> VendorClient:
    """A vendor client for one unit of work of a connection: its host, its credentials
    (refreshed when they are OAuth tokens), its rate budget's pacing. `connector`: the
    registry's as a caller adjusted it (the outbox: no inline retries). `live`: a call made
    for a person (proxy, actions, live reads, a push, a webhook's fetch), booked where the
    sync can see it and allowed to spend the daily reserve a sync leaves."""
    from shared.connections.oauth import request_auth
    from shared.crypto import keyring_from_settings
    from shared.sync.budgets import gate_for
    from shared.sync.registry import connector as connector_for
    from shared.vendors.clients import pooled_http, vendor_client

    connector = connector or connector_for(connection.vendor)
    config = connector.validate_config(connection.config, environment=settings.environment)
    auth = request_auth(database, keyring_from_settings(settings), connection, connector,
                        pooled_http(connector, config.base_url))
    return vendor_client(connector, config, auth, connection.id,
                         gate_for(database, connector, connection.id, settings.rate_time_scale, live=live))


def connection_context(database: Client, settings: Settings, connection_id: str) -> ConnectionContext:
    """The connection as the worker sees it (NotFound when it was deleted)."""
    from shared.connections.store import get_connection
    from shared.sync.registry import connector as connector_for

    connection = get_connection(database, connection_id)
    if connection.status.value == "deleting":
        from shared.errors import NotFound

        raise NotFound("The connection is being deleted.", code="connection_not_found")
    connector = connector_for(connection.vendor)
    return ConnectionContext(
        connection_id=connection.id,
        connector=connector,
        config=connector.validate_config(connection.config, environment=settings.environment),
        open_client=lambda: open_vendor_client(database, settings, connection, live=False),
        selected=connection.selection.includes,
        breaker=connection.breaker or BreakerState(),
    )


_vendors: dict[str, str] = {}


def vendor_of(database: Client, connection_id: str) -> str:
    """A connection's vendor never changes: looked up once per process."""
    if connection_id not in _vendors:
        from shared.connections.store import get_connection

        _vendors[connection_id] = get_connection(database, connection_id).vendor
    return _vendors[connection_id]


def worker_deps(settings: Settings) -> WorkerDeps:
    database = db(settings)
    enqueue = chunk_enqueuer(settings, lambda connection_id: vendor_of(database, connection_id))
    return WorkerDeps(
        db=database,
        enqueue=enqueue,
        enqueue_at=enqueue,
        breaker_policy=BreakerPolicy(threshold=settings.breaker_threshold, base_cooldown_s=settings.breaker_cooldown_s,
                                     max_cooldown_s=settings.breaker_max_cooldown_s),
        context=lambda connection_id: connection_context(database, settings, connection_id),
        lease_ttl_s=LEASE_TTL_S,
        time_budget_s=WORKER_TIME_BUDGET_S,
    )


def start_sync(
    settings: Settings,
    connection: Connection,
    *,
    mode: Literal["auto", "full"],
    trigger: Trigger,
    requested_by: str | None = None,
    now: datetime | None = None,
) -> Run:
    """Plan and fan out a run of one connection (sync-now and the scheduler)."""
    from shared.errors import Conflict
    from shared.sync.planner import plan_run
    from shared.sync.registry import connector

    if connection.status.value in ("disabled", "pending", "deleting", "needs_reauth"):
        raise Conflict(f"The connection is {connection.status.value}.", code=f"connection_{connection.status.value}")
    return plan_run(
        db(settings),
        connector(connection.vendor),
        chunk_enqueuer(settings, connection.vendor),
        connection_id=connection.id,
        trigger=trigger,
        requested_by=requested_by,
        mode=mode,
        selected=connection.selection.includes,
        now=now,
    )


def work_chunk(settings: Settings, task: ChunkTask, *, retries: int) -> ChunkResult:
    """sync-worker's body: run the chunk; a transient failure becomes 503 with Retry-After
    so Cloud Tasks backs off (the last attempt records any failure instead)."""
    from shared.errors import ServiceUnavailable
    from shared.sync.queues import MAX_ATTEMPTS
    from shared.sync.worker import RetryLater, run_chunk

    try:
        outcome = run_chunk(task, worker_deps(settings), last_attempt=retries + 1 >= MAX_ATTEMPTS)
    except RetryLater as exc:
        headers = {"Retry-After": str(round(exc.retry_after_s))} if exc.retry_after_s else {}
        raise ServiceUnavailable(exc.reason, code="retry_later", headers=headers) from exc
    return ChunkResult(status=outcome.status, counts=outcome.counts, next_page=outcome.next_page)
