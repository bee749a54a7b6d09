"""Delivery records: one per event a vendor delivered, keyed by the vendor's delivery id.

    connections/{id}/webhook_deliveries/{delivery id}
        topic, stream, action, record_id, occurred_at   what the event is (WebhookEvent)
        item                                            the record it carried, as JSON text
        status          pending -> processed | failed   (ignored: the connection was paused)
        received_at, processed_at, outcome, attempts
        expires_at      Firestore's TTL removes the record after RETENTION

Creating the record is the dedupe: a second delivery of the same id finds it. While it is
pending the task is enqueued again under the same name (Cloud Tasks refuses the copy, or
runs it if the first enqueue was lost); once processed, a duplicate is acknowledged and
dropped. The record outlives the vendor's retry horizon (Intercom's notifications older
than 3 days are refused as stale, records are kept 7), so a duplicate is always recognised.

Items are kept as JSON text: a vendor record's keys are not always valid Firestore field
names, and nesting is bounded there. An item too large to keep is dropped and the event
becomes a fetch (the worker asks the vendor for the record), never a failure.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from shared.connections.refs import connection_ref
from shared.store.records import safe_doc_id
from shared.vendors.webhooks import WebhookEvent

if TYPE_CHECKING:
    from google.cloud.firestore import Client, DocumentReference

COLLECTION = "webhook_deliveries"
RETENTION = timedelta(days=7)
#: items above this many characters are fetched instead of kept (Firestore's 1 MiB document)
MAX_ITEM_CHARS = 600_000
DONE = ("processed", "failed", "ignored")

Recorded = Literal["new", "pending", "done"]


def delivery_ref(db: Client, connection_id: str, delivery_id: str) -> DocumentReference:
    ref: DocumentReference = (
        connection_ref(db, connection_id).collection(COLLECTION).document(safe_doc_id(delivery_id))
    )
    return ref


def document(event: WebhookEvent, received_at: datetime) -> dict[str, Any]:
    action = event.action
    item_text: str | None = None
    if event.item is not None:
        item_text = json.dumps(event.item, separators=(",", ":"), sort_keys=True)
        if len(item_text) > MAX_ITEM_CHARS:
            item_text, action = None, "fetch"
    return {
        "delivery_id": event.delivery_id,
        "topic": event.topic,
        "stream": event.stream,
        "action": action,
        "record_id": event.record_id,
        "occurred_at": event.occurred_at,
        "item": item_text,
        "status": "pending",
        "received_at": received_at,
        "expires_at": received_at + RETENTION,
        "attempts": 0,
    }


def record(db: Client, connection_id: str, event: WebhookEvent, received_at: datetime | None = None) -> Recorded:
    """Remember the event (new), or say what became of an earlier delivery of it."""
    from google.api_core import exceptions as gexc

    ref = delivery_ref(db, connection_id, event.delivery_id)
    try:
        ref.create(document(event, received_at or datetime.now(UTC)))
        return "new"
    except gexc.AlreadyExists:
        snapshot = ref.get(["status"])
    status = (snapshot.to_dict() or {}).get("status") if snapshot.exists else None
    return "done" if status in DONE else "pending"


def item_of(data: dict[str, Any]) -> dict[str, Any] | None:
    text = data.get("item")
    if not text:
        return None
    item = json.loads(text)
    return item if isinstance(item, dict) else None


def finish(ref: DocumentReference, status: Literal["processed", "failed", "ignored"], outcome: dict[str, Any]) -> None:
    ref.update({"status": status, "processed_at": datetime.now(UTC), "outcome": outcome})
