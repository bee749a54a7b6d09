"""STUB - to be replaced by the connections work (shared/connections/store.py on its branch).

Reads connection documents (connections/{id}, the fields of shared.connections.models.
Connection) and, for this stub only, credentials kept in plain text at
connections/{id}/private/credentials. The real store encrypts them (envelope encryption);
tests create connections through tests/e2e/serving_world.py, which uses the real API
once it exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.connections.models import Connection
from shared.errors import NotFound

if TYPE_CHECKING:
    from google.cloud.firestore import Client, DocumentSnapshot

COLLECTION = "connections"


def _not_found(connection_id: str) -> NotFound:
    return NotFound(f"No connection {connection_id!r}.", code="connection_not_found")


def from_snapshot(snapshot: DocumentSnapshot) -> Connection | None:
    data = snapshot.to_dict() if snapshot.exists else None
    if not data or "vendor" not in data or "owner" not in data:
        return None
    return Connection.model_validate({**data, "id": snapshot.id})


def get_connection(db: Client, connection_id: str) -> Connection:
    if not connection_id or "/" in connection_id or connection_id in (".", "..") or connection_id.startswith("__"):
        raise _not_found(connection_id)
    connection = from_snapshot(db.collection(COLLECTION).document(connection_id).get())
    if connection is None:
        raise _not_found(connection_id)
    return connection


def list_connections(db: Client) -> list[Connection]:
    found = (from_snapshot(snap) for snap in db.collection(COLLECTION).stream())
    return [c for c in found if c is not None]


def load_credentials(db: Client, connection_id: str) -> dict[str, Any]:
    snap = db.collection(COLLECTION).document(connection_id).collection("private").document("credentials").get()
    return (snap.to_dict() or {}) if snap.exists else {}


def save_credentials(db: Client, connection_id: str, credentials: dict[str, Any]) -> None:
    db.collection(COLLECTION).document(connection_id).collection("private").document("credentials").set(credentials)
