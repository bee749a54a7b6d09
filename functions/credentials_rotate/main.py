"""POST /credentials-rotate (admin): rewrap every stored credential under the current key.

Run it after putting a new key first in CREDENTIALS_KEYS (docs/deploy.md, key rotation).
"""

from __future__ import annotations

from shared.api import Deployment, Endpoint, Users
from shared.connections import api as h
from shared.crypto import KEK_SECRET

endpoint = Endpoint(
    "credentials-rotate",
    summary="Rewrap credentials under the current key",
    tags=("connections",),
    deployment=Deployment(secrets=(KEK_SECRET,), timeout_s=540),
)
endpoint.route("POST", "/", auth=Users(role="admin"), response=h.Rotated)(h.rotate_credentials)

handle = endpoint.entry_point()
