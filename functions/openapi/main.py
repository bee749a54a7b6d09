"""GET /openapi: the OpenAPI 3.1 document of every HTTP function."""

from __future__ import annotations

from shared.api import PUBLIC, Call, Endpoint
from shared.api.openapi import load_document

endpoint = Endpoint("openapi", summary="OpenAPI 3.1 document of the HTTP API", tags=("platform",))


@endpoint.route("GET", "/", auth=PUBLIC)
def openapi(call: Call) -> dict:
    """The generated document (see devtools.openapi)."""
    return load_document()


handle = endpoint.entry_point()
