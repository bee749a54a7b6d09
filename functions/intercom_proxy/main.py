"""GET /intercom-proxy/{path}: read-only, allow-listed pass-through to Intercom (admins)."""

from __future__ import annotations

from flask import Response

from shared.api import Call, Deployment, Endpoint, Users
from shared.intercom_api.proxy import CATCH_ALL

#: live calls to Intercom need its access token (Secret Manager, mounted as an env var)
INTERCOM = Deployment()
endpoint = Endpoint("intercom-proxy", summary="Read-only Intercom proxy", tags=("intercom",), deployment=INTERCOM)


@endpoint.route("GET", "/{path}", auth=Users(role="admin"), errors=(429, 502, 503), params={"path": str})
def proxy(call: Call) -> Response:
    """Intercom's JSON for /contacts/{id}, /companies/{id}, /conversations/{id}, /admins[/{id}],
    /tags, /teams, /data_attributes; anything else is 403 path_not_allowed."""
    from shared.api.endpoint import json_response
    from shared.intercom_api.proxy import allowed, forward, query_params

    path = allowed(call.path["path"])
    status, body = forward(path, query_params(list(call.request.args.items(multi=True))))
    return json_response(body, status, call.request_id)


# The router matches one segment per parameter; the proxy takes any path and lets its
# allow-list decide (403 path_not_allowed rather than a 404 that says nothing).
endpoint.routes[-1].pattern = CATCH_ALL

handle = endpoint.entry_point()
