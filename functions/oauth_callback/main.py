"""GET /oauth-callback: the vendor redirects the browser here with code and state.

Public (the browser carries no token): the single-use, 10-minute state is the proof that a
person allowed to manage the connection started this install.
"""

from __future__ import annotations

from shared.api import PUBLIC, Deployment, Endpoint
from shared.connections import api as h
from shared.crypto import KEK_SECRET

endpoint = Endpoint(
    "oauth-callback",
    summary="Finish an OAuth install",
    tags=("connections",),
    deployment=Deployment(secrets=(KEK_SECRET,)),
)
endpoint.route("GET", "/", auth=PUBLIC, query=h.CallbackQuery, response=h.Installed, errors=(404, 409, 502))(
    h.finish_install
)

handle = endpoint.entry_point()
