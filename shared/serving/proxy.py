"""A read-only window onto a connection's vendor: GET only, the connector's allow-list only.

What it forwards: the method GET, an allow-listed path (each `{id}` segment one plain
token that is none of the connector's reserved words, so no '..', no encoded slash, no
other resource), and the caller's query parameters. What it never forwards: the caller's
headers (their Authorization above all); the request carries only the connection's own
credentials, applied by the vendor client.

What it returns: the vendor's JSON body and status for 2xx and 404, under our own headers
only (no vendor header is copied, so none can echo a credential), with every occurrence of
the connection's credentials in the body redacted. Every other answer becomes one of our
errors (the vendor client's retry policy applies first).
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import TYPE_CHECKING, Any

from shared.errors import Forbidden

if TYPE_CHECKING:
    from shared.vendors.connector import Connector, Proxy
    from shared.vendors.http import VendorClient

#: /{connection_id}[/{path...}] inside the proxy function: the allow-list, not the router, decides
CATCH_ALL = re.compile(r"^/(?P<connection_id>[^/]+)/?(?P<path>.*)$")
REDACTED = "[redacted]"
MAX_QUERY_PARAMS = 20
MAX_BODY_BYTES = 5_000_000
#: shorter strings are not worth redacting (and would mangle ordinary text)
MIN_SECRET_CHARS = 8


@cache
def patterns(proxy: Proxy) -> tuple[re.Pattern[str], ...]:
    reserved = "|".join(re.escape(word) for word in proxy.reserved)
    segment = (f"(?!(?:{reserved})$)" if reserved else "") + proxy.id_pattern
    return tuple(re.compile("^" + re.escape(t).replace(re.escape("{id}"), segment) + "$") for t in proxy.paths)


def allowed(connector: Connector, path: str | None) -> str:
    """The path to forward, or 403 path_not_allowed (listing the allowed templates)."""
    proxy = connector.proxy
    normalized = "/" + path.strip("/") if path else ""
    if proxy is not None and normalized and any(p.match(normalized) for p in patterns(proxy)):
        return normalized
    raise Forbidden(
        f"This {connector.title} path is not available through the proxy.",
        code="path_not_allowed",
        details={"allowed": sorted(proxy.paths) if proxy else []},
    )


def query_params(items: list[tuple[str, str]]) -> dict[str, list[str]]:
    if len(items) > MAX_QUERY_PARAMS:
        raise Forbidden("Too many query parameters for the proxy.", code="query_not_allowed")
    params: dict[str, list[str]] = {}
    for key, value in items:
        params.setdefault(key, []).append(value)
    return params


def secrets_of(client: VendorClient) -> list[str]:
    """Every credential the client puts on the wire (header values or their token part, params)."""
    wire = client.auth.current()
    found: list[str] = []
    for value in [*wire.headers.values(), *wire.params.values()]:
        # "Bearer <token>": the token is the secret (the scheme stays readable)
        found.append(value.split(" ", 1)[1] if " " in value else value)
    return sorted({s for s in found if len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)


def redact(body: Any, secrets: list[str]) -> Any:
    """The body with every occurrence of a secret in its strings (and keys) replaced."""
    text = json.dumps(body)
    redacted = text
    for secret in secrets:
        redacted = redacted.replace(json.dumps(secret)[1:-1], REDACTED)
    return body if redacted == text else json.loads(redacted)


def forward(client: VendorClient, path: str, params: dict[str, list[str]]) -> tuple[int, Any]:
    """GET `path` with the connection's credentials: (status, JSON body) for 2xx and 404."""
    from shared.vendors.errors import VendorRejected, VendorUnavailable
    from shared.vendors.pagination import PageRequest

    title = client.connector.title
    response = client.respond(PageRequest(path=path, params=params), passthrough=(404,))
    if len(response.content) > MAX_BODY_BYTES:
        raise VendorRejected(
            f"{title}'s answer is too large for the proxy.", details={"vendor_status": response.status_code}
        )
    try:
        body = response.json() if response.content else None
    except ValueError:
        raise VendorUnavailable(f"{title} sent a body that is not JSON.") from None
    return response.status_code, redact(body, secrets_of(client))


def proxy(call: Any) -> Any:
    """The proxy function's handler: manage rights on the connection, then forward."""
    from shared.api.endpoint import json_response
    from shared.connections.access import manageable
    from shared.serving.catalog import connector_for
    from shared.store.client import db
    from shared.sync.runtime import open_vendor_client

    client = db(call.settings)
    connection = manageable(client, call.principal, call.path["connection_id"])
    connector = connector_for(connection.vendor)
    path = allowed(connector, call.path.get("path"))
    params = query_params(list(call.request.args.items(multi=True)))
    with open_vendor_client(client, call.settings, connection, live=True) as vendor:
        status, body = forward(vendor, path, params)
    return json_response(body, status, call.request_id)
