"""Serve a view: computed once per state of its stream, then read back as one document.

    GET /views/{connection_id}/{view}?...

A view's answer depends only on its stream's records, so it is keyed by (view, query) and
stored beside the records with the stream's change marker (shared.serving.records): while
the marker is unchanged, the stored answer is the answer (one read instead of a scan of a
year of conversations). The answer carries an ETag bound to the caller, the query and the
marker, like a records list: a dashboard polling with If-None-Match gets 304 after the
marker read alone.

    connections/{connection}/_views/{view}-{sha256(query)}   marker, body, _expires_at
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from shared.connections.refs import connection_ref

if TYPE_CHECKING:
    from flask import Response
    from google.cloud.firestore import Client

    from shared.api import Call
    from shared.vendors.connector import View

COLLECTION = "_views"
#: stored answers nobody asks for again expire (TTL on `_expires_at`)
KEEP = timedelta(days=7)


def answer(db: Client, connection_id: str, view: View, query: Any, marker: str) -> dict[str, Any]:
    """The view's answer for `query`: the stored one if the stream has not changed since."""
    canonical = json.dumps(query.model_dump(mode="json", by_alias=True), sort_keys=True)
    doc_id = f"{view.name}-{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"
    ref = connection_ref(db, connection_id).collection(COLLECTION).document(doc_id)
    snap = ref.get()
    stored = snap.to_dict() if snap.exists else None
    if stored and stored.get("marker") == marker:
        kept: dict[str, Any] = json.loads(stored["body"])
        return kept
    body = view.compute(db, connection_id, query).model_dump(mode="json", by_alias=True)
    now = datetime.now(timezone.utc)
    ref.set(
        {
            "view": view.name,
            "marker": marker,
            "body": json.dumps(body),
            "computed_at": now,
            "_expires_at": now + KEEP,
        }
    )
    return body


def serve(call: Call[Any, Any]) -> Response:
    """The views function's handler."""
    from shared.api.endpoint import json_response
    from shared.connections.access import readable
    from shared.serving import catalog, etags
    from shared.serving.handlers import REVALIDATE, not_modified, parse_query
    from shared.serving.records import newest_change
    from shared.store.client import db

    client = db(call.settings)
    connection_id, name = call.path["connection_id"], call.path["view"]
    principal = call.principal
    # the view's stream is not known before the connection is read: the marker of every
    # stream a view of that name may read is part of the ETag (one read per candidate)
    streams = sorted({v.stream for c in catalog.all_connectors() for v in c.views if v.name == name})
    markers = {s: newest_change(client, connection_id, s) for s in streams}
    etag = etags.list_etag(
        uid=principal.subject,
        role=principal.role,
        connection_id=connection_id,
        stream=f"view:{name}",
        params=call.request.args.items(multi=True),
        marker="|".join(markers.values()),
    )
    if etags.none_match(call.request.headers.get("If-None-Match"), etag):
        return not_modified(call, etag)
    connection = readable(client, principal, connection_id)
    view = catalog.view_of(catalog.connector_for(connection.vendor), name)
    query = parse_query(view.query_model, call.request)
    body = answer(client, connection.id, view, query, markers[view.stream])
    return json_response(body, 200, call.request_id, {"ETag": etag, "Cache-Control": REVALIDATE})
