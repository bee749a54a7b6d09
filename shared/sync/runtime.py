"""Wire the engine to the real world from settings: Firestore, Cloud Tasks, connections and
their credentials, vendor clients. Functions call these; tests may build WorkerDeps from
fakes instead."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, Protocol

from shared.config import Settings
from shared.connections.breaker import BreakerPolicy, BreakerState
from shared.store.client import db
from shared.sync.api import ChunkResult
from shared.sync.models import ChunkTask, Run, Trigger
from shared.sync.planner import LEASE_TTL_S
from shared.sync.queues import queue_for
from shared.sync.worker import ConnectionContext, ContextReader, WorkerDeps

if TYPE_CHECKING:
    from google.cloud.firestore import Client

    from shared.connections.models import Connection
    from shared.vendors.auth import RequestAuth
    from shared.vendors.connector import ConnectionConfig, Connector
    from shared.vendors.http import VendorClient

WORKER_FUNCTION = "sync-worker"
#: sync-worker's timeout is 300 s; fetching may use 180 s of it, saving and committing the rest
WORKER_TIME_BUDGET_S = 180.0


class ChunkEnqueuer(Protocol):
    """Enqueue a chunk, optionally to run no sooner than `at`; False when its name exists."""

    def __call__(self, task: ChunkTask, at: datetime | None = None) -> bool: ...


def chunk_enqueuer(settings: Settings, vendor: str | Callable[[str], str]) -> ChunkEnqueuer:
    """Enqueue a chunk on its vendor's queue (a child stream's on its children's where the
    vendor has one: queues.queue_for) under a deterministic name (replays dedupe).
    `vendor` is the vendor, or how to find a connection's vendor (the worker serves all)."""
    from shared.sync.registry import connector
    from shared.tasks import enqueue, task_id_for, tasks_client

    client = tasks_client(settings.cloud_tasks_emulator_host)
    url = settings.function_url(WORKER_FUNCTION)

    def enqueue_chunk(task: ChunkTask, at: datetime | None = None) -> bool:
        return enqueue(
            client,
            project=settings.project_id,
            location=settings.queue_location,
            queue=queue_for(connector(vendor if isinstance(vendor, str) else vendor(task.connection_id)), task.stream),
            task_id=task_id_for(task.connection_id, task.run_id, task.chain_id, str(task.page), f"g{task.generation}"),
            url=url,
            payload=task.model_dump(mode="json"),
            oidc_service_account=settings.tasks_service_account,
            audience=url,
            schedule_time=at,
        )

    return enqueue_chunk


def open_vendor_client(database: Client, settings: Settings, connection: Connection,
                       connector: Connector | None = None, *, live: bool = False,
                       auth: RequestAuth | None = None) -> VendorClient:
    """A vendor client for one unit of work of a connection: its host, its credentials
    (refreshed when they are OAuth tokens), its rate budget's pacing. `connector`: the
    registry's as a caller adjusted it (the outbox: no inline retries). `live`: a call made
    for a person (proxy, actions, live reads, a push, a webhook's fetch), booked where the
    sync can see it and allowed to spend the daily reserve a sync leaves. `auth`: the
    connection's, already opened (`context_reader`'s cache); read and decrypted otherwise."""
    from shared.connections.oauth import request_auth
    from shared.crypto import keyring_from_settings
    from shared.sync.budgets import gate_for
    from shared.sync.registry import connector as connector_for
    from shared.vendors.clients import pooled_http, vendor_client

    connector = connector or connector_for(connection.vendor)
    config = connector.validate_config(connection.config, environment=settings.environment)
    auth = auth or request_auth(database, keyring_from_settings(settings), connection, connector,
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


#: connection id -> (its document's update time, its credentials' update time, the context)
_contexts: dict[str, tuple[Any, Any, ConnectionContext]] = {}
_CONTEXTS_LIMIT = 1_000


def context_reader(database: Client, settings: Settings) -> ContextReader:
    """Connection contexts from the task's one batch get (the connection document is read
    for the lease anyway; the credentials document is read with it), reused while both
    documents are unchanged: their update times are the check, so a task neither parses the
    connection nor decrypts its credentials again (one decryption per connection and
    credentials version per process). An OAuth connection's tokens are read by its own
    refreshing auth per unit of work, as before."""
    from shared.connections.refs import connection_ref

    def refs(connection_id: str) -> list[Any]:
        return [_credentials_ref(database, connection_id)]

    def build(connection_id: str, docs: dict[str, Any]) -> ConnectionContext:
        conn = docs.get(connection_ref(database, connection_id).path)
        creds = docs.get(_credentials_ref(database, connection_id).path)
        cached = _contexts.get(connection_id)
        versions = (getattr(conn, "update_time", None), getattr(creds, "update_time", None))
        if cached is not None and versions[0] is not None and cached[:2] == versions:
            return cached[2]
        context = _context_of(database, settings, connection_id, conn, creds)
        if len(_contexts) >= _CONTEXTS_LIMIT:
            _contexts.clear()
        _contexts[connection_id] = (*versions, context)
        return context

    return ContextReader(refs, build)


@lru_cache(maxsize=4_096)
def _credentials_ref(database: Client, connection_id: str) -> Any:
    from shared.connections.refs import credentials_ref

    return credentials_ref(database, connection_id)


def _context_of(database: Client, settings: Settings, connection_id: str, conn: Any, creds: Any) -> ConnectionContext:
    from shared.connections.models import Connection
    from shared.connections.oauth import request_auth
    from shared.crypto import keyring_from_settings
    from shared.errors import NotFound
    from shared.sync.registry import connector as connector_for
    from shared.vendors.auth import OAuth2
    from shared.vendors.clients import pooled_http

    data = conn.to_dict() if conn is not None and conn.exists else None
    if not data or "vendor" not in data or "owner" not in data:
        raise NotFound(f"No connection {connection_id!r}.", code="connection_not_found")
    connection = Connection.model_validate({**data, "id": connection_id})
    if connection.status.value == "deleting":
        raise NotFound("The connection is being deleted.", code="connection_not_found")
    connector = connector_for(connection.vendor)
    opened: list[RequestAuth] = []

    def open_client() -> VendorClient:
        # decrypted on the first use, as open_vendor_client would (a pending or revoked
        # connection still fails there), then kept with the context
        if not opened and not isinstance(connector.auth, OAuth2):
            config = connector.validate_config(connection.config, environment=settings.environment)
            opened.append(request_auth(database, keyring_from_settings(settings), connection, connector,
                                       pooled_http(connector, config.base_url), stored=creds))
        return open_vendor_client(database, settings, connection, live=False, auth=opened[0] if opened else None)

    return ConnectionContext(
        connection_id=connection.id,
        connector=connector,
        config=connector.validate_config(connection.config, environment=settings.environment),
        open_client=open_client,
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
        context_reader=context_reader(database, settings),
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
    vendor = connector(connection.vendor)
    enqueue = chunk_enqueuer(settings, connection.vendor)
    return plan_run(
        db(settings),
        vendor,
        enqueue,
        connection_id=connection.id,
        trigger=trigger,
        requested_by=requested_by,
        mode=mode,
        selected=connection.selection.includes,
        now=now,
        enqueue_at=enqueue,
        config=_config_for_spacing(vendor, connection, settings),
        rate_scale=settings.rate_time_scale,
    )


def _config_for_spacing(vendor: Connector, connection: Connection, settings: Settings) -> ConnectionConfig | None:
    """The config the planner builds first requests from to space them by their booked
    budgets (planner.first_page_delays): None where the queue alone paces the vendor, or
    where the config is not valid (the run goes ahead as before; its tasks record why)."""
    from shared.sync.budgets import queue_paced
    from shared.vendors.connector import InvalidConfig

    if queue_paced(vendor):
        return None
    try:
        return vendor.validate_config(connection.config, environment=settings.environment)
    except InvalidConfig:
        return None


def work_chunk(settings: Settings, task: ChunkTask, *, retries: int) -> ChunkResult:
    """sync-worker's body: run the chunk; a transient failure becomes 503 with Retry-After
    so Cloud Tasks backs off (the last attempt records any failure instead)."""
    from shared.errors import ServiceUnavailable
    from shared.sync.queues import MAX_ATTEMPTS
    from shared.sync.worker import RetryLater, run_chunk

    try:
        outcome = run_chunk(task, worker_deps(settings), last_attempt=retries + 1 >= MAX_ATTEMPTS,
                            retried=retries > 0)
    except RetryLater as exc:
        headers = {"Retry-After": str(round(exc.retry_after_s))} if exc.retry_after_s else {}
        raise ServiceUnavailable(exc.reason, code="retry_later", headers=headers) from exc
    finally:
        _freeze_heap_once()
    return ChunkResult(status=outcome.status, counts=outcome.counts, next_page=outcome.next_page)


_heap_frozen = False


def _freeze_heap_once() -> None:
    """After the instance's first task its imports and per-process caches exist (some
    hundred thousand objects, most of them the Google client libraries'): they are moved out
    of the cyclic collector's reach (gc.freeze), so its full collections, which a page of
    records sets off, no longer walk them every time (a tenth of the worker's CPU in #16's
    benchmark). Reference counting still frees any of them."""
    global _heap_frozen
    if _heap_frozen:
        return
    _heap_frozen = True
    import gc

    gc.collect()
    gc.freeze()
