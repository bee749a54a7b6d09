"""STUB - to be replaced by the connections work (shared/connections/oauth.py on its branch).

`request_auth` as shared.sync.runtime.open_vendor_client calls it: the connection's stored
credentials on the wire (no OAuth refresh in this stub).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.vendors.auth import RequestAuth, StaticAuth

if TYPE_CHECKING:
    import httpx
    from google.cloud.firestore import Client

    from shared.config import Settings
    from shared.connections.models import Connection
    from shared.vendors.connector import Connector


def request_auth(
    db: Client, settings: Settings, connection: Connection, connector: Connector, http_client: httpx.Client
) -> RequestAuth:
    from shared.connections.store import load_credentials

    return StaticAuth(connector.auth.wire(load_credentials(db, connection.id)))
