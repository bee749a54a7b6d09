"""GET /health: is Firestore reachable, and which version is running."""

from __future__ import annotations

from pydantic import BaseModel

from shared import __version__
from shared.api import PUBLIC, Call, Endpoint
from shared.errors import ServiceUnavailable

endpoint = Endpoint("health", summary="Liveness and dependency check", tags=("platform",))


class Health(BaseModel):
    status: str
    version: str
    firestore: str


@endpoint.route("GET", "/", auth=PUBLIC, response=Health, errors=(503,))
def health(call: Call) -> Health:
    """Report the version and whether Firestore answers."""
    from shared.store.client import ping

    if not ping(call.settings):
        raise ServiceUnavailable("Firestore is not reachable.", code="firestore_unavailable")
    return Health(status="ok", version=__version__, firestore="ok")


handle = endpoint.entry_point()
