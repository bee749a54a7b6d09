"""What webhook-worker does with one remembered delivery: hand it to the ingest path.

    upsert  the record the event carried -> shared.sync.ingest.ingest (validated, mapped,
            dead-lettered if it does not fit, newer-wins by the stream's cursor field)
    delete  a tombstone versioned by the event's time -> shared.sync.ingest.tombstone
    fetch   the record as the vendor has it now -> ingest; a 404 -> tombstone
    children  the record's children as the vendor has them now (every child stream of the
            event's stream, read as a sync reads them) -> ingest_children, so children the
            parent no longer has are tombstoned (HubSpot's associationChange)

The same code path as a sync page, with provenance (webhook, delivery id, topic). Running a
delivery twice changes nothing: a processed record is skipped, and a crash between the
write and the mark re-runs an upsert the store recognises as its own. Order does not
matter: an event older than what is stored is skipped by the upsert's version check, and a
tombstone carries the deletion's time, so an update delivered after it stays dead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shared import logging as tlog
from shared.store.records import Provenance
from shared.sync.ingest import IngestResult, ingest, ingest_children, tombstone
from shared.sync.models import Counts
from shared.vendors.errors import VendorError, VendorNotFound
from shared.vendors.pagination import PageRequest
from shared.webhooks import deliveries
from shared.webhooks.models import ProcessResult, WebhookTask

if TYPE_CHECKING:
    from google.cloud.firestore import Client

    from shared.connections.models import Connection
    from shared.vendors.connector import Connector, Stream
    from shared.vendors.http import VendorClient

log = tlog.get_logger("tributary.webhooks.worker")


class RetryLater(Exception):
    """Transient trouble (the vendor or the store): Cloud Tasks retries the delivery."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


@dataclass
class ProcessDeps:
    db: Client
    #: connection id -> the connection (shared.errors.NotFound once it is deleted)
    connection: Callable[[str], Connection]
    connector: Callable[[str], Connector]
    open_client: Callable[[Connection], VendorClient]


def process(task: WebhookTask, deps: ProcessDeps, *, last_attempt: bool) -> ProcessResult:
    from google.api_core import exceptions as gexc

    from shared.errors import NotFound
    from shared.store.records import StaleWriteRace

    ref = deliveries.delivery_ref(deps.db, task.connection_id, task.delivery_id)
    snapshot = ref.get()
    if not snapshot.exists:
        return ProcessResult(status="gone")
    data: dict[str, Any] = snapshot.to_dict() or {}
    if data.get("status") in deliveries.DONE:
        return ProcessResult(status="replay", action=data.get("action"))
    try:
        connection = deps.connection(task.connection_id)
    except NotFound:
        ref.delete()  # accepted just before its connection was deleted: nothing to keep it for
        return ProcessResult(status="gone")
    if connection.status.value in ("deleting", "disabled", "pending"):
        deliveries.finish(ref, "ignored", {"reason": f"connection {connection.status.value}"})
        return ProcessResult(status="ignored", action=data.get("action"))
    connector = deps.connector(connection.vendor)
    try:
        result = _apply(deps, connection, connector, task.delivery_id, data)
    except (gexc.Aborted, gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.InternalServerError,
            StaleWriteRace) as exc:
        gave_up = _retry_or_fail(ref, data, f"Firestore is busy: {type(exc).__name__}", last_attempt)
        if gave_up is None:
            raise RetryLater(f"Firestore is busy: {type(exc).__name__}") from exc
        return gave_up
    except VendorError as exc:
        if exc.transient:
            failed = _retry_or_fail(ref, data, exc.message, last_attempt)
            if failed is None:
                raise RetryLater(exc.message, getattr(exc, "retry_after_s", None)) from exc
            return failed
        deliveries.finish(ref, "failed", {"error": exc.code, "message": exc.message})
        log.warning("webhook fetch refused", extra={"connection_id": connection.id, "code": exc.code})
        return ProcessResult(status="failed", action=data.get("action"))
    counts = result.counts
    deliveries.finish(ref, "processed", {"action": data.get("action"), **counts.model_dump()})
    return ProcessResult(status="processed", action=data.get("action"), counts=counts)


def _retry_or_fail(ref: Any, data: dict[str, Any], reason: str, last_attempt: bool) -> ProcessResult | None:
    """None: let Cloud Tasks retry. On the last attempt the delivery is marked failed (the
    next full sync reconciles the record) so it never retries forever."""
    if not last_attempt:
        return None
    deliveries.finish(ref, "failed", {"error": "retries_exhausted", "message": reason[:500]})
    return ProcessResult(status="failed", action=data.get("action"))


def _apply(deps: ProcessDeps, connection: Connection, connector: Connector, delivery_id: str,
           data: dict[str, Any]) -> IngestResult:
    stream = connector.stream(str(data["stream"]))
    source = Provenance("webhook", delivery_id, unit=str(data.get("topic") or ""))
    action = data.get("action")
    record_id = str(data.get("record_id"))
    occurred_at = data.get("occurred_at")
    version = float(occurred_at) if isinstance(occurred_at, (int, float)) else None
    if action == "upsert":
        item = deliveries.item_of(data)
        if item is not None:
            return ingest(deps.db, connection.id, stream, [item], source)
        action = "fetch"  # kept too large: ask the vendor
    if action == "delete":
        return tombstone(deps.db, connection.id, stream, [_key(stream, record_id)], source, version=version)
    if action == "fetch":
        return _fetch(deps, connection, connector, stream, record_id, source, version)
    if action == "children":
        return _children(deps, connection, connector, stream, record_id, source)
    raise ValueError(f"unknown webhook action {action!r}")


def _key(stream: Stream[Any], record_id: str) -> str:
    key = stream.record_key({stream.primary_key: record_id})
    return key if key is not None else record_id


def _fetch(deps: ProcessDeps, connection: Connection, connector: Connector, stream: Stream[Any], record_id: str,
           source: Provenance, version: float | None) -> IngestResult:
    scheme = connector.webhooks
    template = scheme.fetch_paths.get(stream.name) if scheme is not None else None
    if scheme is None or template is None:
        raise ValueError(f"{connector.vendor} declares no fetch path for {stream.name}")
    if scheme.fetch_request is not None:
        request = scheme.fetch_request(stream.name, quote(record_id, safe=""), connection.config)
    else:
        request = PageRequest(path=template.replace("{id}", quote(record_id, safe="")))
    try:
        with deps.open_client(connection) as client:
            raw = client.fetch(request)
    except VendorNotFound:
        return tombstone(deps.db, connection.id, stream, [_key(stream, record_id)], source, version=version)
    return ingest(deps.db, connection.id, stream, [raw], source)


def _children(deps: ProcessDeps, connection: Connection, connector: Connector, stream: Stream[Any], record_id: str,
              source: Provenance) -> IngestResult:
    """Re-read one parent's children in every child stream of `stream`, as a sync does."""
    from shared.sync.worker import read_children

    config = connector.config_model.model_validate(connection.config)
    counts = Counts()
    with deps.open_client(connection) as client:
        for child in connector.children(stream.name):
            if not connection.selection.includes(child.name):
                continue
            found, partial = read_children(client, child, {}, config, [record_id])
            counts = counts.add(ingest_children(deps.db, connection.id, child, found, source).counts)
            if partial:
                counts = counts.add(ingest_children(deps.db, connection.id, child, partial, source, whole=False).counts)
    return IngestResult(counts)


def deps_for(settings: Any) -> ProcessDeps:
    from shared.connections.store import get_connection
    from shared.store.client import db
    from shared.sync.registry import connector as find_connector
    from shared.sync.runtime import open_vendor_client

    database = db(settings)
    return ProcessDeps(
        db=database,
        connection=lambda cid: get_connection(database, cid),
        connector=lambda vendor: find_connector(vendor),
        open_client=lambda connection: open_vendor_client(database, settings, connection, live=True),
    )
