"""The outbox over HTTP and Cloud Tasks (the outbox itself: shared/serving/outbox.py).

    POST /creates/{connection_id}/{create}     body {key, ...the create's input}; Idempotency-Key
                                               required. 201 (stored; `pending` when it goes to
                                               the vendor, `skipped` when not), 200 on a replay
    GET  /creates/{connection_id}              the caller's items (an admin's: everyone's)
    GET  /creates/{connection_id}/{create}/{id}   one item: state, attempts, vendor_id, last_error
    POST /outbox-worker                        Cloud Tasks only: one delivery attempt

Who: the connection's manager (a personal connection's owner, or an admin) logs; a personal
connection is nobody else's (404). A pending item is a task on the vendor's `outbox-<vendor>`
queue, named after the item (a replayed enqueue is refused by Cloud Tasks); a failed attempt
answers 503, so the queue's backoff brings the next one, and the item records its last error.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.connections.refs import connection_ref
from shared.errors import BadRequest, NotFound, ServiceUnavailable, TributaryError
from shared.tasks import QueueSpec, task_id_for

if TYPE_CHECKING:
    from flask import Response

    from shared.api import Call
    from shared.config import Settings
    from shared.vendors.connector import Connector

WORKER_FUNCTION = "outbox-worker"
MAX_ATTEMPTS = 20
#: a create is one small request: an attempt that takes longer is given up (and later adopted
#: through its marker if the vendor did accept it)
ATTEMPT_TIMEOUT_S = 8.0
CONNECTION_ID = r"^[a-z0-9-]{1,80}$"
LIST_SCAN = 500


class CreateTask(BaseModel):
    """An outbox-worker task: where the item is (never its content)."""

    model_config = ConfigDict(extra="forbid")

    connection_id: str = Field(pattern=CONNECTION_ID)
    outbox_id: str = Field(pattern=r"^[0-9a-f]{40}$")


class OutboxItem(BaseModel):
    id: str
    create: str
    key: str = Field(description="The record it was logged on")
    input: dict[str, Any]
    uid: str
    state: Literal["pending", "skipped", "delivered"]
    attempts: int = 0
    created_at: datetime
    delivered_at: datetime | None = None
    vendor_id: str | None = Field(None, description="The vendor's id once it accepted it")
    record_key: str | None = Field(None, description="The logged record's key in the create's stream "
                                                     "(records/{connection}/{stream}/{record_key}), from the moment it is logged")
    adopted: bool = Field(False, description="Found in the vendor after an attempt that timed out")
    last_error: str | None = None


class OutboxList(BaseModel):
    items: list[OutboxItem]


class DeliveryResult(BaseModel):
    status: Literal["delivered", "skipped", "gone"]
    vendor_id: str | None = None


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(50, ge=1, le=200)


def queue_name(vendor: str) -> str:
    return f"outbox-{vendor}"


def queue_spec(connector: Connector) -> QueueSpec:
    """Slow and patient: few creates, each retried with doubling backoff for about a day."""
    return QueueSpec(
        name=queue_name(connector.vendor),
        max_dispatches_per_second=max(1.0, round(connector.rate_limit.per_second / 4, 3)),
        max_concurrent_dispatches=4,
        max_burst_size=None,
        max_attempts=MAX_ATTEMPTS,
        min_backoff_seconds=2.0,
        max_backoff_seconds=3600.0,
        max_doublings=8,
        max_retry_duration_seconds=None,
    )


def outbox_connectors(connectors: list[Connector]) -> list[Connector]:
    return [c for c in connectors if c.creates]


def enqueuer(settings: Settings, vendor: str, connection_id: str) -> Any:
    from shared.tasks import enqueue, tasks_client

    url = settings.function_url(WORKER_FUNCTION)

    def enqueue_item(outbox_id: str) -> bool:
        return enqueue(
            tasks_client(settings.cloud_tasks_emulator_host),
            project=settings.project_id,
            location=settings.queue_location,
            queue=queue_name(vendor),
            task_id=task_id_for("outbox", connection_id, outbox_id),
            url=url,
            payload={"connection_id": connection_id, "outbox_id": outbox_id},
            oidc_service_account=settings.tasks_service_account,
            audience=url,
        )

    return enqueue_item


def _item(doc: dict[str, Any]) -> OutboxItem:
    return OutboxItem.model_validate({k: v for k, v in doc.items() if k in OutboxItem.model_fields})


def submit(call: Call[Any, Any]) -> Response:
    """POST /creates/{connection_id}/{create}."""
    from shared.api.body import parse_json, read_body
    from shared.api.endpoint import json_response, validate_request_model
    from shared.connections.access import manageable
    from shared.serving import catalog, idempotency, outbox
    from shared.store.client import db

    client = db(call.settings)
    connection = manageable(client, call.principal, call.path["connection_id"])
    connector = catalog.connector_for(connection.vendor)
    try:
        create = connector.create(call.path["create"])
    except KeyError as exc:
        raise NotFound(f"{connector.title} has no create {call.path['create']!r}.") from exc
    idem_key = idempotency.key_of(call.request.headers.get(idempotency.HEADER))
    if idem_key is None:
        raise BadRequest("Send an Idempotency-Key header: a retried request must not log twice.",
                         code="idempotency_key_required")
    body = parse_json(read_body(call.request, call.settings.max_body_bytes))
    if not isinstance(body, dict) or not isinstance(body.get("key"), str) or not body["key"]:
        raise BadRequest("The body is an object with `key`, the record it is logged on.", code="validation_failed")
    key = body.pop("key")
    change = validate_request_model(create.input_model, body)
    doc, replayed = outbox.submit(client, connection.id, create, key, change, uid=call.principal.subject,
                                  idem_key=idem_key, enqueue=enqueuer(call.settings, connector.vendor, connection.id))
    payload = _item(doc).model_dump(mode="json")
    return json_response(payload, 200 if replayed else 201, call.request_id,
                         {"Idempotent-Replayed": "true"} if replayed else None)


def list_items(call: Call[ListQuery, Any]) -> OutboxList:
    """GET /creates/{connection_id}: the caller's own items (admins: all), newest first
    (a member's are sorted here, at most LIST_SCAN of them: no composite index for it)."""
    from shared.connections.access import readable
    from shared.serving.outbox import COLLECTION
    from shared.store.client import db

    client = db(call.settings)
    connection = readable(client, call.principal, call.path["connection_id"])
    query: Any = connection_ref(client, connection.id).collection(COLLECTION)
    if call.principal.role != "admin":
        query = query.where("uid", "==", call.principal.subject)
    docs = [d.to_dict() or {} for d in query.limit(LIST_SCAN).stream()]
    docs.sort(key=lambda d: d["created_at"], reverse=True)
    return OutboxList(items=[_item(d) for d in docs[: call.query.limit]])


def get_item(call: Call[Any, Any]) -> OutboxItem:
    """GET /creates/{connection_id}/{create}/{item_id}: one of the caller's items."""
    from shared.connections.access import readable
    from shared.serving.outbox import COLLECTION
    from shared.store.client import db

    client = db(call.settings)
    connection = readable(client, call.principal, call.path["connection_id"])
    snap = connection_ref(client, connection.id).collection(COLLECTION).document(
        call.path["item_id"]).get()
    doc = (snap.to_dict() or {}) if snap.exists else {}
    if not doc or doc.get("create") != call.path["create"] or (
            call.principal.role != "admin" and doc.get("uid") != call.principal.subject):
        raise NotFound("No such item.")
    return _item(doc)


def deliver(call: Call[Any, CreateTask]) -> DeliveryResult:
    """POST /outbox-worker: one attempt; 503 (Cloud Tasks retries with backoff) when it failed."""
    from shared.connections.store import get_connection
    from shared.serving import outbox
    from shared.store.client import db
    from shared.sync.registry import connector as connector_for
    from shared.sync.runtime import open_vendor_client

    client = db(call.settings)
    task: CreateTask = call.body
    try:
        connection = get_connection(client, task.connection_id)
    except NotFound:
        return DeliveryResult(status="gone")
    connector = outbox.no_inline_retries(connector_for(connection.vendor))

    def open_client() -> Any:
        vendor = open_vendor_client(client, call.settings, connection, connector=connector, live=True)
        vendor.config = vendor.config.model_copy(update={"timeout_s": min(vendor.config.timeout_s, ATTEMPT_TIMEOUT_S)})
        return vendor

    try:
        doc = outbox.deliver(client, connection.id, connector, task.outbox_id, open_client)
    except NotFound:
        return DeliveryResult(status="gone")
    except (TributaryError, OSError) as exc:
        raise ServiceUnavailable(f"The vendor did not accept it yet: {type(exc).__name__}.",
                                 code="retry_later") from exc
    return DeliveryResult(status=doc["state"] if doc["state"] != "pending" else "delivered",
                          vendor_id=doc.get("vendor_id"))
