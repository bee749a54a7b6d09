"""Whose credentials a connection holds, learned from the vendor (Connector.identify).

A personal connection's token may see more than its owner's records (a Pipedrive user whose
visibility is the whole company). What the connector learns about the token's own user
(Pipedrive: GET /api/v1/users/me -> its user id) is kept in the connection's config, so
its requests ask for the owner's records only and ingest leaves others out
(Stream.owned). Learned when the connection is made and whenever its credentials change;
a failure is logged and retried at the next change, never fails the connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shared import logging as tlog
from shared.errors import TributaryError

if TYPE_CHECKING:
    from google.cloud.firestore import Client

    from shared.config import Settings
    from shared.connections.models import Connection
    from shared.vendors.connector import Connector
    from shared.vendors.http import VendorClient

log = tlog.get_logger("tributary.connections.identity")


def learn(settings: Settings, db: Client, connector: Connector, connection: Connection,
          open_client: Callable[[Connection], VendorClient] | None = None) -> dict[str, Any]:
    """Ask the vendor, keep the answer in the connection's config; {} when there is nothing to learn."""
    from shared.connections.refs import connection_ref
    from shared.sync.ingest import forget_contexts

    if connector.identify is None or connection.status.value != "connected":
        return {}
    if open_client is None:
        from shared.sync.runtime import open_vendor_client

        def open_client(c: Connection) -> VendorClient:
            return open_vendor_client(db, settings, c, live=True)

    try:
        with open_client(connection) as client:
            learned = connector.identify(client)
    except TributaryError as exc:
        log.warning("could not learn whose credentials these are", extra={"connection_id": connection.id,
                                                                            "code": exc.code})
        return {}
    connection_ref(db, connection.id).update({f"config.{k}": v for k, v in learned.items()})
    connection.config.update(learned)
    forget_contexts()
    return learned
