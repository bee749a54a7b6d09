"""GET /views/{connection_id}/{view}: a view a connector declares (Intercom's conversation
statistics), kept precomputed until its stream changes; ETag and 304 for pollers."""

from __future__ import annotations

from flask import Response

from shared.api import Call, Endpoint, Users
from shared.api.openapi import documented

endpoint = Endpoint("views", summary="Views over a connection's records", tags=("records",))


@endpoint.route("GET", "/{connection_id}/{view}", auth=Users(), errors=(404,))
@documented("shared.serving.openapi:view_variants")
def view(call: Call) -> Response:
    """The view's answer for the query; 304 while the records it reads are unchanged."""
    from shared.views.runner import serve

    return serve(call)


handle = endpoint.entry_point()
