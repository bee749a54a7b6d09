"""The outbox: what a user logs on a record is stored first, then created in the vendor by
a Cloud Task that retries with backoff until the vendor accepts it; the vendor's id is
written back. The same Idempotency-Key never creates a second one, here or in the vendor.

    connections/{connection}/_outbox/{sha256(uid, create, idempotency key)[:40]}
        create, key (target record), input, uid, marker, record_key, state
        pending|skipped|delivered, attempts, created_at, last_error, vendor_id

The outbox item is the delivery's bookkeeping; the logged record itself is stored at once
in the create's stream through the ingest path (Create.local: pending or skipped, visible
to reads), keyed by the marker the vendor keeps, so the vendor's accepted record and every
later sync of it land on that same document (it gains the vendor's id, no second record).

submit   one transaction: the key's document exists -> it is the answer (replayed, nothing
         new); otherwise it is created (stored first), `pending` when the connector's
         `wanted` says the vendor should get it (a warm contact), else `skipped`; a pending
         one is handed to `enqueue` (a Cloud Task named after the document: deduplicated).
deliver  one attempt: delivered -> nothing to do. An attempt after the first may have
         reached the vendor (a timeout after it accepted), so the vendor is asked first
         for a record carrying the marker; found -> adopted. Otherwise pushed once, with
         no inline retry (a retried POST could create twice): a failure is raised, and
         Cloud Tasks' backoff brings the next attempt. The vendor's record goes through the
         ingest path; its id is written back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from shared.connections.refs import connection_ref
from shared.errors import NotFound

if TYPE_CHECKING:
    from collections.abc import Callable

    from google.cloud.firestore import Client, DocumentReference, Transaction
    from pydantic import BaseModel

    from shared.vendors.connector import Connector, Create
    from shared.vendors.http import VendorClient

COLLECTION = "_outbox"
#: how far before the first attempt the vendor is searched for the marker
FIND_SLACK = timedelta(minutes=10)


def outbox_ref(db: Client, connection_id: str, uid: str, create: str, idem_key: str) -> DocumentReference:
    doc_id = hashlib.sha256(json.dumps([uid, create, idem_key]).encode()).hexdigest()[:40]
    return connection_ref(db, connection_id).collection(COLLECTION).document(doc_id)


def submit(
    db: Client,
    connection_id: str,
    create: Create,
    key: str,
    change: BaseModel,
    *,
    uid: str,
    idem_key: str,
    enqueue: Callable[[str], object],
) -> tuple[dict[str, Any], bool]:
    """Store the logged item (or find the one this key already stored): (document, replayed)."""
    from shared.serving.idempotency import IdempotencyKeyReused, fingerprint
    from shared.store.records import get_record
    from shared.store.txn import run_transaction

    target = get_record(db, connection_id, create.target_stream, key)
    if target is None:
        raise NotFound(f"No {create.target_stream} record {key!r}.")
    conn = connection_ref(db, connection_id).get()
    conn_data = (conn.to_dict() or {}) if conn.exists else {}
    config = conn_data.get("config") or {}
    ref = outbox_ref(db, connection_id, uid, create.name, idem_key)
    payload = change.model_dump(mode="json")
    print_ = fingerprint([key, payload])
    now = datetime.now(timezone.utc)

    def txn(transaction: Transaction) -> tuple[dict[str, Any], bool]:
        snap = ref.get(transaction=transaction)
        if snap.exists:
            found = snap.to_dict() or {}
            if found.get("fingerprint") != print_:
                raise IdempotencyKeyReused()
            return found, True
        doc = {
            "id": ref.id,
            "create": create.name,
            "key": key,
            "input": payload,
            "uid": uid,
            "fingerprint": print_,
            "marker": f"trib-{ref.id[:24]}",
            # the logged record's key in `create.stream` (its marker: see Create.local)
            "record_key": f"trib-{ref.id[:24]}" if create.local is not None else None,
            "state": "pending" if create.wanted(target, config) else "skipped",
            "attempts": 0,
            "created_at": now,
            "vendor_id": None,
            "last_error": None,
        }
        transaction.create(ref, doc)
        return doc, False

    doc, replayed = run_transaction(db, txn)
    if create.local is not None and doc["state"] != "delivered":
        # the logged record itself, at once, through the one ingest path (a replay stores it
        # again unchanged, so a crash between the two steps is mended by the retry)
        from shared.store.records import Provenance
        from shared.sync.ingest import ingest
        from shared.sync.registry import connector as find_connector

        stream = find_connector(str(conn_data.get("vendor"))).stream(create.stream)
        raw = create.local(key, change, doc["marker"], doc["state"])
        ingest(db, connection_id, stream, [raw], Provenance("write_back", ref.id, create.name))
    if doc["state"] == "pending":
        enqueue(ref.id)  # a replay re-enqueues too: the task name deduplicates it
    return doc, replayed


def no_inline_retries(connector: Connector) -> Connector:
    """The connector as the outbox calls it: a failed create is never re-sent inline."""

    return dataclasses.replace(connector, retry=dataclasses.replace(connector.retry, max_attempts=1))


def deliver(
    db: Client, connection_id: str, connector: Connector, outbox_id: str, open_client: Callable[[], VendorClient]
) -> dict[str, Any]:
    """One delivery attempt (see the module docstring); raises when the vendor failed."""
    from shared.store.records import Provenance
    from shared.sync.ingest import ingest

    ref = connection_ref(db, connection_id).collection(COLLECTION).document(outbox_id)
    snap = ref.get()
    if not snap.exists:
        raise NotFound(f"No outbox item {outbox_id!r}.")
    doc = snap.to_dict() or {}
    if doc.get("state") != "pending":
        return doc
    create = connector.create(doc["create"])
    change = create.input_model.model_validate(doc["input"])
    attempts = int(doc.get("attempts") or 0)
    ref.update({"attempts": attempts + 1})
    since = (doc["created_at"] - FIND_SLACK).timestamp()
    try:
        with open_client() as client:
            found = create.find(client, doc["key"], change, doc["marker"], since) if attempts > 0 else None
            raw = found if found is not None else create.push(client, doc["key"], change, doc["marker"])
    except Exception as exc:
        ref.update({"last_error": f"{type(exc).__name__}: {str(exc)[:300]}"})
        raise
    ingest(db, connection_id, connector.stream(create.stream), [raw], Provenance("write_back", outbox_id, create.name))
    done = {"state": "delivered", "vendor_id": str(raw.get("id")), "adopted": found is not None,
            "delivered_at": datetime.now(timezone.utc), "last_error": None}
    ref.update(done)
    return {**doc, **done, "attempts": attempts + 1}
