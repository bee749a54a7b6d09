"""POST /oauth-start: the vendor URL that starts a connection's OAuth install."""

from __future__ import annotations

from shared.api import Deployment, Endpoint, Users
from shared.connections import api as h
from shared.crypto import KEK_SECRET

endpoint = Endpoint(
    "oauth-start",
    summary="Start an OAuth install",
    tags=("connections",),
    deployment=Deployment(secrets=(KEK_SECRET,)),
)
endpoint.route("POST", "/", auth=Users(), body=h.InstallStart, response=h.InstallStarted, errors=(404,))(
    h.start_install
)

handle = endpoint.entry_point()
