"""Registering a connection's webhook with its vendor, where the vendor's API allows it.

When a connection is made (and connected: an OAuth connection registers once installed,
through POST /webhooks/{id}/register): if its vendor's verifier uses secrets we choose (basic
credentials), they are generated and stored; if the scheme has a registrar, the webhook is
registered with the vendor (our URL, those secrets, the scheme's topics) and what the vendor
answered (its subscription ids) is kept on the connection to remove it later. When the
connection is deleted, the registration is removed first (best effort: the connection is
deleted even when the vendor is unreachable; its deliveries then answer 404).

Vendors without such an API (Intercom: Developer Hub only) are configured by hand from
GET /webhooks/{id}/setup. A registration failure never fails the connection's creation: it
is recorded (webhook.registration_error) and retried with POST /webhooks/{id}/register.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared import logging as tlog
from shared.errors import Conflict, TributaryError
from shared.webhooks import secrets as webhook_secrets
from shared.webhooks.queues import RECEIVER_FUNCTION

if TYPE_CHECKING:
    from google.cloud.firestore import Client

    from shared.config import Settings
    from shared.connections.models import Connection
    from shared.crypto import Keyring
    from shared.vendors.connector import Connector
    from shared.vendors.http import VendorClient

#: (connection) -> a vendor client for it; None: shared.sync.runtime.open_vendor_client
OpenClient = Callable[["Connection"], "VendorClient"]

log = tlog.get_logger("tributary.webhooks.registration")
FIELD = "webhook"


def endpoint_url(settings: Settings, connection_id: str) -> str:
    """The URL a vendor delivers this connection's webhooks to."""
    return f"{settings.function_url(RECEIVER_FUNCTION)}/{connection_id}"


def state(db: Client, connection_id: str) -> dict[str, Any]:
    from shared.connections.refs import connection_ref

    snapshot = connection_ref(db, connection_id).get([FIELD])
    data = (snapshot.to_dict() or {}) if snapshot.exists else {}
    value = data.get(FIELD)
    return value if isinstance(value, dict) else {}


def after_create(settings: Settings, db: Client, keyring: Keyring, connector: Connector, connection: Connection,
                 open_client: OpenClient | None = None) -> None:
    """Generate our secrets and register, where the scheme says so; never raises for the vendor."""
    scheme = connector.webhooks
    if scheme is None:
        return
    if scheme.verifier.generated:
        webhook_secrets.save(db, keyring, connection.id, {f: webhook_secrets.generate() for f in scheme.verifier.secret_fields})
    if scheme.registrar is not None and connection.status.value == "connected":
        register(settings, db, keyring, connector, connection, open_client)


def _opener(settings: Settings, db: Client, open_client: OpenClient | None) -> OpenClient:
    if open_client is not None:
        return open_client
    from shared.sync.runtime import open_vendor_client

    return lambda connection: open_vendor_client(db, settings, connection, live=True)


def register(settings: Settings, db: Client, keyring: Keyring, connector: Connector, connection: Connection,
             open_client: OpenClient | None = None) -> dict[str, Any]:
    """Register (again) with the vendor; the outcome is kept on the connection and returned."""
    from shared.connections.refs import connection_ref

    scheme = connector.webhooks
    if scheme is None or scheme.registrar is None:
        raise Conflict(f"{connector.title} webhooks are configured in its console, not through its API.",
                       code="registration_manual")
    values = webhook_secrets.load(db, keyring, connection.id)
    url = endpoint_url(settings, connection.id)
    now = datetime.now(UTC)
    try:
        with _opener(settings, db, open_client)(connection) as client:
            registration = scheme.registrar.register(client, url, values, scheme.subscribed_topics)
        outcome: dict[str, Any] = {"registered": True, "registration": registration, "error": None, "at": now}
    except TributaryError as exc:  # the vendor refused, or the credentials cannot be used yet
        log.warning("webhook registration failed", extra={"connection_id": connection.id, "code": exc.code})
        outcome = {"registered": False, "registration": None, "error": f"{exc.code}: {exc.message}", "at": now}
    connection_ref(db, connection.id).update({FIELD: outcome})
    return outcome


def before_delete(settings: Settings, db: Client, connector: Connector, connection: Connection,
                  open_client: OpenClient | None = None) -> None:
    """Remove the vendor's subscription, best effort (the delete goes on regardless)."""
    scheme = connector.webhooks
    if scheme is None or scheme.registrar is None:
        return
    registration = state(db, connection.id).get("registration")
    if not registration:
        return
    try:
        with _opener(settings, db, open_client)(connection) as client:
            scheme.registrar.unregister(client, registration)
    except TributaryError as exc:
        log.warning("webhook unregistration failed", extra={"connection_id": connection.id, "code": exc.code})
