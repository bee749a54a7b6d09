"""HTTP handlers of the customers and contacts functions (one set, per Kind).

    POST   /                  create (Idempotency-Key: a replay answers the first result)
    GET    /                  list: filters, sort, 50 a page, cursor; changes_since; ETag/304
    GET    /{id}              one record; ETag "v<version>"; 304 on If-None-Match
    PATCH  /{id}              change fields; If-Match required (428), 409 + current when stale
    DELETE /{id}              soft delete (creator or admin); If-Match; answers the tombstone
    POST   /{id}/restore      undo a delete within the window; If-Match
    GET    /{id}/audit        who changed what

Polling an unchanged list costs one document read: the ETag binds the caller, the query
and the collection's change marker, and every signed-in member may read every record, so
no other read is needed before answering 304.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.crm import models
from shared.crm.kinds import Kind
from shared.errors import PreconditionRequired
from shared.serving import etags

if TYPE_CHECKING:
    from flask import Response

    from shared.api import Call

REVALIDATE = "private, no-cache"


def _db(call: Call[Any, Any]) -> Any:
    from shared.store.client import db

    return db(call.settings)


def _answer(call: Call[Any, Any], kind: Kind, doc: dict[str, Any], status: int = 200) -> Response:
    from shared.api.endpoint import json_response
    from shared.crm.store import etag_of

    body = kind.response_model.model_validate(doc).model_dump(mode="json")
    return json_response(body, status, call.request_id, {"ETag": etag_of(doc), "Cache-Control": REVALIDATE})


def _not_modified(call: Call[Any, Any], etag: str) -> Response:
    from shared.serving.handlers import not_modified

    return not_modified(call, etag)


def _if_match(call: Call[Any, Any]) -> int:
    from shared.crm.store import version_of

    value = etags.parse_if_match(call.request.headers.get("If-Match"))
    if value is None:
        raise PreconditionRequired("Send the record's ETag in If-Match (the version your change is based on).")
    return version_of(value)


def create(call: Call[Any, Any], kind: Kind) -> Response:
    from shared.api.endpoint import json_response
    from shared.crm import store
    from shared.serving import idempotency

    client = _db(call)
    key = idempotency.key_of(call.request.headers.get(idempotency.HEADER))
    claimed = None
    if key is not None:
        print_ = idempotency.fingerprint(call.body.model_dump(mode="json"))
        claimed = idempotency.begin(
            client, "", call.principal.subject, f"create-{kind.singular}", key, print_, parent=store.root(client)
        )
        if claimed.replay is not None:
            headers = {"Idempotent-Replayed": "true", **({"ETag": claimed.replay.etag} if claimed.replay.etag else {})}
            return json_response(claimed.replay.body, claimed.replay.status, call.request_id, headers)
    try:
        doc = store.create(client, kind, call.principal, call.body)
    except Exception:
        if claimed is not None:
            idempotency.release(claimed.ref)  # nothing was written: a retry creates afresh
        raise
    response = _answer(call, kind, doc, 201)
    if claimed is not None:
        idempotency.finish(claimed.ref, idempotency.Stored(201, response.get_json(), store.etag_of(doc)))
    return response


def get_one(call: Call[Any, Any], kind: Kind) -> Response:
    from shared.crm import store

    doc = store.get(_db(call), kind, call.path["record_id"], include_deleted=call.query.include_deleted)
    etag = store.etag_of(doc)
    if etags.none_match(call.request.headers.get("If-None-Match"), etag):
        return _not_modified(call, etag)
    return _answer(call, kind, doc)


def list_all(call: Call[Any, Any], kind: Kind) -> Response:
    from shared.api.endpoint import json_response
    from shared.crm import reads

    client = _db(call)
    marker = reads.newest(client, kind)
    etag = etags.list_etag(
        uid=call.principal.subject,
        role=call.principal.role,
        connection_id="crm",
        stream=kind.name,
        params=call.request.args.items(multi=True),
        marker=reads.marker_text(marker),
    )
    if etags.none_match(call.request.headers.get("If-None-Match"), etag):
        return _not_modified(call, etag)
    query: models.ListQuery = call.query
    if query.changes_since is not None:
        answer = reads.changes(client, kind, query.changes_since, query.limit)
    else:
        answer = reads.page(client, kind, query, marker)
    items = [kind.response_model.model_validate(doc).model_dump(mode="json") for doc in answer.docs]
    body = models.Page(items=items, next_cursor=answer.next_cursor, sync_token=answer.sync_token)
    return json_response(body.model_dump(mode="json"), 200, call.request_id, {"ETag": etag, "Cache-Control": REVALIDATE})


def update(call: Call[Any, Any], kind: Kind) -> Response:
    from shared.crm import store

    version = _if_match(call)
    return _answer(call, kind, store.update(_db(call), kind, call.principal, call.path["record_id"], version, call.body))


def delete(call: Call[Any, Any], kind: Kind) -> Response:
    from shared.crm import store

    version = _if_match(call)
    return _answer(call, kind, store.delete(_db(call), kind, call.principal, call.path["record_id"], version))


def restore(call: Call[Any, Any], kind: Kind) -> Response:
    from shared.crm import store

    version = _if_match(call)
    return _answer(call, kind, store.restore(_db(call), kind, call.principal, call.path["record_id"], version))


def audit(call: Call[Any, Any], kind: Kind) -> models.AuditPage:
    from shared.crm import store

    entries = store.audit(_db(call), kind, call.path["record_id"])
    return models.AuditPage(items=[models.AuditEntry.model_validate(e) for e in entries])


def convert_lead(call: Call[Any, Any]) -> Response:
    """A synced lead becomes a contact (once: a second conversion is 409 already_converted)."""
    from shared.connections.access import readable
    from shared.crm import leads
    from shared.crm.kinds import CONTACTS

    client = _db(call)
    readable(client, call.principal, call.body.connection_id)
    return _answer(call, CONTACTS, leads.convert(client, call.principal, call.body), 201)
