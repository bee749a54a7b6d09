"""The acknowledgement path: verify, map, remember, enqueue, answer; nothing else.

Vendors deprioritise or pause slow endpoints (Intercom: answers past 500 ms are delivered
with a lower priority), so no vendor call and no record write happens here: two store
round trips (the delivery record, and the connection and secret when not cached) and one
enqueue per event.

Order matters:
  1. the connection and its vendor's scheme (404 when either is missing);
  2. the raw bytes are verified before anything parses them (401, nothing written);
  3. the payload is parsed (strict JSON) and mapped to events (400 if signed but malformed);
  4. an event older than the scheme's max age is refused as stale (401, nothing written);
  5. each event is remembered by its delivery id, and enqueued unless already processed.

A failure in 5 answers 503: the vendor delivers again, the record dedupes, and the task
name dedupes the enqueue, so a retried delivery never runs twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from shared import logging as tlog
from shared.api.body import parse_json
from shared.connections.models import Connection, ConnectionStatus
from shared.errors import NotFound, ServiceUnavailable
from shared.vendors.webhooks import SignedRequest, WebhookEvent, WebhookRejected, WebhookScheme
from shared.webhooks import deliveries
from shared.webhooks import secrets as webhook_secrets
from shared.webhooks.models import Ack

if TYPE_CHECKING:
    from google.cloud.firestore import Client

    from shared.config import Settings
    from shared.crypto import Keyring
    from shared.vendors.connector import Connector

log = tlog.get_logger("tributary.webhooks")

#: statuses whose deliveries are stored; a paused or unfinished connection's are acknowledged
#: and dropped (its next full sync catches up)
ACCEPTING = (ConnectionStatus.connected, ConnectionStatus.degraded, ConnectionStatus.needs_reauth)
CONNECTION_TTL_S = 30.0


@dataclass
class ReceiveDeps:
    db: Client
    keyring: Callable[[], Keyring]
    connection: Callable[[str], Connection]
    connector: Callable[[str], Connector]
    #: (vendor, connection id, delivery id) -> created (False: the task exists already)
    enqueue: Callable[[str, str, str], bool]


class ConnectionCache:
    """Connections for half a minute per process: a delivery burst reads each once.
    A pause or delete applies within CONNECTION_TTL_S (deliveries accepted meanwhile are
    dropped by the worker when it finds the connection gone)."""

    def __init__(self, ttl_s: float = CONNECTION_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[float, Connection]] = {}
        self._lock = threading.Lock()

    def get(self, connection_id: str, loader: Callable[[str], Connection]) -> Connection:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(connection_id)
        if entry is not None and now - entry[0] < self.ttl_s:
            return entry[1]
        connection = loader(connection_id)
        with self._lock:
            self._entries[connection_id] = (now, connection)
        return connection

    def forget(self, connection_id: str) -> None:
        with self._lock:
            self._entries.pop(connection_id, None)


CONNECTIONS = ConnectionCache()


def scheme_of(connector: Connector) -> WebhookScheme:
    if connector.webhooks is None:
        raise NotFound(f"{connector.title} sends no webhooks.", code="webhooks_not_supported")
    return connector.webhooks


def verify(deps: ReceiveDeps, scheme: WebhookScheme, connection_id: str, request: SignedRequest) -> None:
    """The verifier against the cached secrets; after a mismatch, once against fresh ones."""

    def loader() -> dict[str, str]:
        return webhook_secrets.load(deps.db, deps.keyring(), connection_id)

    values = webhook_secrets.CACHE.get(connection_id, loader)
    try:
        scheme.verifier.verify(request, values)
    except WebhookRejected as rejected:
        if rejected.code not in ("signature_invalid", "webhook_secret_missing"):
            raise
        fresh = webhook_secrets.CACHE.refreshed(connection_id, loader)
        if fresh is None or fresh == values:
            raise
        scheme.verifier.verify(request, fresh)


def receive(deps: ReceiveDeps, connection_id: str, request: SignedRequest) -> Ack:
    connection = deps.connection(connection_id)
    if connection.status is ConnectionStatus.deleting:
        raise NotFound(f"No connection {connection_id!r}.", code="connection_not_found")
    scheme = scheme_of(deps.connector(connection.vendor))
    verify(deps, scheme, connection_id, request)
    events = scheme.events(parse_json(request.body))
    stale = [e for e in events if scheme.stale(e, request.received_at)]
    if stale:
        raise WebhookRejected(
            "The event is older than the vendor ever delivers: refused as a replay.",
            code="signature_stale",
            details={"max_age_s": scheme.max_age_s, "delivery_id": stale[0].delivery_id},
        )
    wanted = [e for e in events if _wanted(connection, e)]
    if connection.status not in ACCEPTING:
        log.info("webhook dropped: connection not accepting", extra={"connection_id": connection_id,
                                                                    "status": connection.status.value})
        wanted = []
    accepted = duplicates = 0
    for event in wanted:
        if _remember(deps, connection, event):
            accepted += 1
        else:
            duplicates += 1
    ignored = len(events) - accepted - duplicates
    status = "accepted" if accepted else ("duplicate" if duplicates else "ignored")
    return Ack(status=status, events=len(events), accepted=accepted, duplicates=duplicates, ignored=ignored)


def _wanted(connection: Connection, event: WebhookEvent) -> bool:
    return event.action != "ignore" and event.stream is not None and connection.selection.includes(event.stream)


def _remember(deps: ReceiveDeps, connection: Connection, event: WebhookEvent) -> bool:
    """True for an event new to us; False for a duplicate (re-enqueued while pending)."""
    from google.api_core import exceptions as gexc

    try:
        recorded = deliveries.record(deps.db, connection.id, event)
        if recorded != "done":
            deps.enqueue(connection.vendor, connection.id, event.delivery_id)
    except (gexc.GoogleAPICallError, gexc.RetryError) as exc:
        raise ServiceUnavailable("The delivery could not be stored; deliver it again.",
                                 code="webhook_store_unavailable") from exc
    return recorded == "new"


# -- wiring -------------------------------------------------------------------------------------


@lru_cache(maxsize=2)
def _keyring(keys: str) -> Keyring:
    from shared.crypto import Keyring

    return Keyring.parse(keys)


def deps_for(settings: Settings) -> ReceiveDeps:
    from shared.connections.store import get_connection
    from shared.crypto import CredentialsKeysMissing
    from shared.store.client import db
    from shared.sync.registry import connector as find_connector

    database = db(settings)

    def keyring() -> Keyring:
        if settings.credentials_keys is None:
            raise CredentialsKeysMissing()
        return _keyring(settings.credentials_keys.get_secret_value())

    return ReceiveDeps(
        db=database,
        keyring=keyring,
        connection=lambda cid: CONNECTIONS.get(cid, lambda c: get_connection(database, c)),
        connector=lambda vendor: find_connector(vendor),
        enqueue=delivery_enqueuer(settings),
    )


def delivery_enqueuer(settings: Settings) -> Callable[[str, str, str], bool]:
    """Enqueue a delivery's task on its vendor's webhook queue, named by the delivery."""
    from shared.tasks import enqueue, tasks_client
    from shared.webhooks.queues import WORKER_FUNCTION, queue_name, task_id

    client = tasks_client(settings.cloud_tasks_emulator_host)
    url = settings.function_url(WORKER_FUNCTION)

    def enqueue_delivery(vendor: str, connection_id: str, delivery_id: str) -> bool:
        return enqueue(
            client,
            project=settings.project_id,
            location=settings.queue_location,
            queue=queue_name(vendor),
            task_id=task_id(connection_id, delivery_id),
            url=url,
            payload={"connection_id": connection_id, "delivery_id": delivery_id},
            oidc_service_account=settings.tasks_service_account,
            audience=url,
        )

    return enqueue_delivery
