"""The records function: list a stream of a connection (store or live), get one record.

    GET /records/{connection_id}/{stream}          filters, sort, order, limit, cursor,
                                                   live, include_deleted (per stream)
    GET /records/{connection_id}/{stream}/{key}    one record, ETag; 304 on If-None-Match

A stored list answers with an ETag derived from the stream's change marker (etags.py); a
poll sending it back in If-None-Match is answered 304 after reading only the marker: the
access check, the connection and the page are read only when something changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from shared.serving import etags

if TYPE_CHECKING:
    from flask import Request, Response

    from shared.api import Call

#: dashboards poll: let them revalidate with If-None-Match instead of caching blindly
REVALIDATE = "private, no-cache"


def parse_query(model: type[BaseModel], request: Request) -> Any:
    """The request's query string as `model`, as strictly as the Endpoint parses a route's
    (unknown parameters and instants that do not exist in UTC are a 400)."""
    from shared.api.endpoint import validate_request_model

    raw: dict[str, Any] = {}
    for key in request.args:
        values = request.args.getlist(key)
        raw[key] = values if len(values) > 1 else values[0]
    return validate_request_model(model, raw, "The query parameters are not valid.")


def not_modified(call: Call[Any, Any], etag: str) -> Response:
    from flask import Response

    response = Response(status=304)
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = REVALIDATE
    response.headers["X-Request-Id"] = call.request_id
    return response


def _list_etag(call: Call[Any, Any], connection_id: str, stream: str, marker: str) -> str:
    return etags.list_etag(
        uid=call.principal.subject,
        role=call.principal.role,
        connection_id=connection_id,
        stream=stream,
        params=call.request.args.items(multi=True),
        marker=marker,
    )


def list_records(call: Call[Any, Any]) -> Response:
    from shared.api.endpoint import json_response
    from shared.connections.access import readable
    from shared.serving import catalog, queries, records
    from shared.store.client import db

    client = db(call.settings)
    connection_id, stream_name = call.path["connection_id"], call.path["stream"]
    live = call.request.args.get("live", "").lower() in ("true", "1", "yes")
    etag = None
    if not live:
        etag = _list_etag(call, connection_id, stream_name, records.newest_change(client, connection_id, stream_name))
        if etags.none_match(call.request.headers.get("If-None-Match"), etag):
            return not_modified(call, etag)
    connection = readable(client, call.principal, connection_id)
    connector = catalog.connector_for(connection.vendor)
    stream = catalog.served_stream(connector, stream_name)
    assert stream.serving is not None
    query = parse_query(catalog.query_model(connector.vendor, stream.name), call.request)
    criteria = queries.criteria(stream.serving, query)
    page_model = catalog.page_model(connector.vendor, stream.name)
    if query.live:
        from shared.serving.live import live_page
        from shared.sync.runtime import open_vendor_client

        with open_vendor_client(client, call.settings, connection, live=True) as vendor:
            docs, next_cursor = live_page(vendor, connector.vendor, connector.title, stream, criteria, query.cursor)
        body = page_model(items=docs, next_cursor=next_cursor)
        return json_response(body.model_dump(mode="json", exclude=_lean(query)), 200, call.request_id)
    queries.served_combination(stream.serving, criteria)
    spec = queries.page_query(stream.serving, criteria)
    found = records.page(client, connection.id, stream.name, spec, query.cursor, include_deleted=query.include_deleted)
    body = page_model(items=found.docs, next_cursor=found.next_cursor)
    headers = {"ETag": etag or "", "Cache-Control": REVALIDATE}
    return json_response(body.model_dump(mode="json", exclude=_lean(query)), 200, call.request_id, headers)


def _lean(query: Any) -> Any:
    """Leave the vendor's payload out of a page unless it was asked for (it is large)."""
    return None if getattr(query, "include_raw", False) else {"items": {"__all__": {"raw"}}}


class OneQuery(BaseModel):
    model_config = {"extra": "forbid"}

    include_deleted: bool = False
    #: streams that keep the vendor's payload answer it under `raw` when asked
    include_raw: bool = False


def get_record(call: Call[Any, Any]) -> Response:
    from shared.api.endpoint import json_response
    from shared.connections.access import readable
    from shared.serving import catalog, records
    from shared.store.client import db

    client = db(call.settings)
    connection = readable(client, call.principal, call.path["connection_id"])
    connector = catalog.connector_for(connection.vendor)
    stream = catalog.served_stream(connector, call.path["stream"])
    query = parse_query(OneQuery, call.request)
    doc = records.get(client, connection.id, stream.name, call.path["key"], include_deleted=query.include_deleted)
    etag = etags.record_etag(doc)
    if etags.none_match(call.request.headers.get("If-None-Match"), etag):
        return not_modified(call, etag)
    body = catalog.record_model(connector.vendor, stream.name).model_validate(doc)
    return json_response(
        body.model_dump(mode="json", exclude=None if query.include_raw else {"raw"}), 200, call.request_id, {"ETag": etag, "Cache-Control": REVALIDATE}
    )
