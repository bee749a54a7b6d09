"""Write-backs declared by connectors: the vendor first, then the store, never a lost update.

    POST /actions/{connection_id}/{action}   body {key, ...the action's input}
                                             If-Match: the record's ETag (428 without it)
                                             Idempotency-Key: optional, see idempotency.py

The version of a record is its stored content hash (`_sync.hash`, its ETag). Then:

1. claim (transaction): the stored version must still be the one named, and no other
   change may hold a live claim on the record; a `_write_claim` {id, until} is set. Two
   concurrent changes from one version: one claims, the others get 409 before any reaches
   the vendor, so the vendor never sees two writes racing from one version.
2. vendor: when the action declares `read`, the record is read from the vendor first; if
   the vendor's version is not the stored one, it changed there since the last sync: the
   store takes the vendor's version (through the ingest path) and the caller gets 409 with
   the new ETag (re-read, then retry). Otherwise the action is performed; the vendor
   answers with the changed record.
3. store: the answer goes through the ingest path (Provenance kind "write_back"), whose
   newer-wins rule settles a race with a sync; the claim is released and the stored
   record, with its new ETag, is the answer. If a newer version won in between, 409: the
   vendor has the change and the store has something newer still.

A failure between 1 and 3 releases the claim; a crashed instance's claim expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from shared.errors import (
    Conflict,
    NotFound,
    PreconditionRequired,
    TributaryError,
    UnsupportedMediaType,
    UpstreamError,
)
from shared.serving import etags, idempotency

if TYPE_CHECKING:
    from flask import Request, Response
    from google.cloud.firestore import Client, DocumentReference, Transaction

    from shared.api import Call
    from shared.connections.models import Connection
    from shared.vendors.connector import Action, Connector, MapContext, Stream

CLAIM_TTL = timedelta(seconds=60)
CLAIM_FIELD = "_write_claim"


def parse_body(model: type[BaseModel], request: Request, max_bytes: int) -> BaseModel:
    """The JSON body as `model`, as the Endpoint parses a route's (415 not JSON, 413 too
    large, 400 malformed or invalid)."""
    from shared.api.body import parse_json, read_body
    from shared.api.endpoint import validate_request_model

    mimetype = (request.mimetype or "").lower()
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaType(details={"content_type": request.mimetype or None})
    return validate_request_model(model, parse_json(read_body(request, max_bytes)))


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return value


def _conflict(message: str, current: str | None) -> Conflict:
    return Conflict(
        message,
        code="version_conflict",
        details={"current_etag": etags.format_etag(current)} if current else None,
    )


@dataclass(frozen=True)
class Precondition:
    """What the caller says the change is based on: an ETag, or stored field values."""

    etag: str | None
    fields: dict[str, Any]


def _claim(db: Client, ref: DocumentReference, claim_id: str, pre: Precondition, now: datetime) -> dict[str, Any]:
    from shared.store.txn import run_transaction

    def txn(transaction: Transaction) -> dict[str, Any]:
        snap = ref.get(transaction=transaction)
        doc = (snap.to_dict() or {}) if snap.exists else {}
        if not snap.exists or doc.get("_deleted"):
            raise NotFound(f"No record {ref.id!r}.")
        version = (doc.get("_sync") or {}).get("hash")
        if pre.etag is not None and pre.etag != version:
            raise _conflict("The record changed since you read it (ETag mismatch).", version)
        for stored_field, expected in pre.fields.items():
            if _utc(doc.get(stored_field)) != _utc(expected):
                raise _conflict(f"The record changed since you read it ({stored_field} mismatch).", version)
        claim = doc.get(CLAIM_FIELD) or {}
        until = _utc(claim.get("until"))
        if claim.get("id") not in (None, claim_id) and until is not None and until > now:
            raise _conflict("Another change to this record is in progress.", version)
        transaction.update(ref, {CLAIM_FIELD: {"id": claim_id, "until": now + CLAIM_TTL}})
        return doc

    return run_transaction(db, txn)


def _release(db: Client, ref: DocumentReference, claim_id: str) -> None:
    """Drop our claim (a lost race to delete it only means it expires by itself)."""
    from google.api_core import exceptions as gexc
    from google.cloud.firestore import DELETE_FIELD

    from shared.store.txn import Contention, run_transaction

    def txn(transaction: Transaction) -> None:
        snap = ref.get(transaction=transaction)
        if snap.exists and ((snap.to_dict() or {}).get(CLAIM_FIELD) or {}).get("id") == claim_id:
            transaction.update(ref, {CLAIM_FIELD: DELETE_FIELD})

    try:
        run_transaction(db, txn)
    except (Contention, gexc.GoogleAPIError) as exc:
        import logging

        logging.getLogger("tributary.serving.actions").warning(
            "claim not released (it expires)", extra={"error": type(exc).__name__}
        )


@dataclass
class Outcome:
    record: dict[str, Any]
    etag: str


class Attempt:
    """One action run; `acted` turns True once a request may have reached the vendor."""

    def __init__(self) -> None:
        self.acted = False


def _vendor_version_differs(
    stream: Stream[Any], current_raw: dict[str, Any], stored: dict[str, Any], context: MapContext | None = None
) -> bool:
    """Whether the vendor has another version than the store: by the stream's version field
    when it has one, else by content."""
    from shared.store.records import content_hash
    from shared.sync.ingest import prepare

    sync = stored.get("_sync") or {}
    if stream.cursor_field:
        return stream.cursor_value(current_raw) != sync.get("version")
    prepared = prepare(stream, [current_raw], context=context)
    return not prepared.items or content_hash(prepared.items[0].content or {}) != sync.get("hash")


def perform(
    db: Client,
    settings: Any,
    connection: Connection,
    connector: Connector,
    action: Action,
    key: str,
    change: BaseModel,
    pre: Precondition,
    request_id: str,
    attempt: Attempt,
) -> Outcome:
    from shared.store.records import Provenance, content_hash, get_record, records_collection, safe_doc_id
    from shared.sync.ingest import ingest, map_context, prepare
    from shared.sync.runtime import open_vendor_client

    stream = connector.stream(action.stream)
    context = map_context(db, connection.id, stream) if stream.refine is not None else None
    ref = records_collection(db, connection.id, stream.name).document(safe_doc_id(key))
    claim_id = f"action-{request_id}"
    stored = _claim(db, ref, claim_id, pre, datetime.now(timezone.utc))
    try:
        with open_vendor_client(db, settings, connection, live=True) as vendor:
            if action.read is not None:
                current = action.read(vendor, key)
                if _vendor_version_differs(stream, current, stored, context):
                    ingest(
                        db,
                        connection.id,
                        stream,
                        [current],
                        Provenance("write_back", request_id, f"{action.name}:read"),
                    )
                    fresh = get_record(db, connection.id, stream.name, key) or {}
                    raise _conflict(
                        f"The record changed in {connector.title} since the last sync; re-read it and retry.",
                        (fresh.get("_sync") or {}).get("hash"),
                    )
            attempt.acted = True
            answer = action.perform(vendor, key, change)
        result = ingest(db, connection.id, stream, [answer], Provenance("write_back", request_id, action.name))
    finally:
        _release(db, ref, claim_id)
    mine = prepare(stream, [answer], context=context).items
    if not mine:
        raise UpstreamError(f"{connector.title} answered with a record we cannot read.", code="vendor_invalid_record")
    doc = get_record(db, connection.id, stream.name, key)
    stored_hash = ((doc or {}).get("_sync") or {}).get("hash")
    if doc is None or (key not in result.written and stored_hash != content_hash(mine[0].content or {})):
        raise _conflict(
            f"The record changed while the change was in flight; {connector.title} has the change, and the store "
            "has a newer version still. Re-read the record.",
            stored_hash,
        )
    return Outcome(doc, etags.record_etag(doc))


def settle_failure(claimed: idempotency.Claimed, exc: Exception, attempt: Attempt, request_id: str) -> None:
    """Once the vendor may have acted, the failure is the key's answer (a retry must not act
    again); before that, the key is released so a retry can proceed."""
    from shared.api.endpoint import error_body

    if not attempt.acted:
        idempotency.release(claimed.ref)
        return
    if isinstance(exc, TributaryError):
        answer = idempotency.Stored(exc.status, error_body(exc.code, exc.message, exc.details, request_id))
    else:
        answer = idempotency.Stored(500, error_body("internal", "Internal error.", None, request_id))
    idempotency.finish(claimed.ref, answer)


def run(call: Call[Any, Any]) -> Response:
    """The actions function's handler."""
    from shared.api.endpoint import json_response
    from shared.connections.access import manageable
    from shared.serving import catalog, records
    from shared.store.client import db

    client = db(call.settings)
    connection = manageable(client, call.principal, call.path["connection_id"])
    connector = catalog.connector_for(connection.vendor)
    action = catalog.action_of(connector, call.path["action"])
    body = parse_body(catalog.action_model(connector.vendor, action.name), call.request, call.settings.max_body_bytes)
    assert isinstance(body, catalog.ActionBody)
    key = body.key
    pre = Precondition(
        etag=etags.parse_if_match(call.request.headers.get("If-Match")),
        fields={
            stored: getattr(body, given)
            for given, stored in action.alt_preconditions.items()
            if getattr(body, given, None) is not None
        },
    )
    if pre.etag is None and not pre.fields:
        raise PreconditionRequired("Send the record's ETag in If-Match to change it.")
    idem_key = idempotency.key_of(call.request.headers.get(idempotency.HEADER))
    claimed = None
    if idem_key is not None:
        print_ = idempotency.fingerprint([body.model_dump(mode="json"), pre.etag])
        claimed = idempotency.begin(client, connection.id, call.principal.subject, action.name, idem_key, print_)
        if claimed.replay is not None:
            headers = {
                "Idempotent-Replayed": "true",
                **({"ETag": claimed.replay.etag} if claimed.replay.etag else {}),
            }
            return json_response(claimed.replay.body, claimed.replay.status, call.request_id, headers)
    attempt = Attempt()
    try:
        outcome = perform(
            client, call.settings, connection, connector, action, key, body, pre, call.request_id, attempt
        )
    except Exception as exc:
        if claimed is not None:
            settle_failure(claimed, exc, attempt, call.request_id)
        raise
    model = catalog.record_model(connector.vendor, action.stream)
    payload = model.model_validate(records.served(outcome.record, key)).model_dump(mode="json", exclude={"raw"})
    if claimed is not None:
        idempotency.finish(claimed.ref, idempotency.Stored(200, payload, outcome.etag))
    return json_response(payload, 200, call.request_id, {"ETag": outcome.etag})
