"""Connections and records for the serving tests, written the way the product writes them:
a connection document (shared.connections.models.Connection's fields) with its credentials,
and records through the one ingest path.

The connection document is written with a fixed id (tests name their connections); its
credentials go through the real store, encrypted under the tests' keyring, exactly as the
connections function stores them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from shared.store.records import Provenance
from shared.sync.ingest import IngestResult, ingest
from shared.sync.registry import connector


def create_connection(
    db: Any,
    connection_id: str,
    vendor: str,
    *,
    base_url: str,
    credentials: dict[str, Any],
    owner_uid: str | None = None,
    name: str | None = None,
) -> None:
    """An org connection, or a personal one of `owner_uid`, with its credentials."""
    from shared import crypto
    from shared.connections import store
    from tests.conftest import TEST_CREDENTIALS_KEYS

    owner = {"kind": "user", "uid": owner_uid, "email": owner_uid} if owner_uid else {"kind": "org"}
    now = datetime.now(timezone.utc)
    db.collection("connections").document(connection_id).set(
        {
            "id": connection_id,
            "vendor": vendor,
            "owner": owner,
            "name": name or connection_id,
            "config": {"base_url": base_url},
            "selection": {"streams": None, "fields": {}},
            "status": "connected",
            "created_at": now,
            "updated_at": now,
            "has_credentials": True,
        }
    )
    store.save_credentials(db, crypto.Keyring.parse(TEST_CREDENTIALS_KEYS), connection_id, credentials)


def seed(
    db: Any, connection_id: str, vendor: str, stream: str, raws: list[dict[str, Any]], run_id: str = "seed"
) -> IngestResult:
    """Store raw vendor records as a sync page would (validate, map, newer-wins upsert)."""
    result = ingest(db, connection_id, connector(vendor).stream(stream), raws, Provenance("sync", run_id, "seed"))
    assert result.counts.failed == 0, result
    return result
