"""Re-drive dead letters through the ingest path after a fix (a mapper bug, a model that
was too strict): each record is stored or dead-lettered again with its new reason."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from shared.store import records
from shared.store.client import condition
from shared.store.records import Provenance
from shared.sync.api import RedriveResult
from shared.sync.ingest import ingest
from shared.vendors.connector import Connector

if TYPE_CHECKING:
    from google.cloud.firestore import Client

MAX_REDRIVE = 2000


def redrive(db: Client, connector: Connector, connection_id: str, *, request_id: str, stream: str | None = None) -> RedriveResult:
    query = records.dead_letters(db, connection_id)
    if stream:
        query = query.where(filter=condition("stream", "==", stream))
    attempted = stored = 0
    for snap in query.limit(MAX_REDRIVE).stream():
        letter = snap.to_dict() or {}
        try:
            target = connector.stream(letter["stream"])
            raw = json.loads(letter["raw"])
        except (KeyError, ValueError):
            continue  # a letter of a stream the connector no longer has, or cut short: keep it
        attempted += 1
        source = Provenance("redrive", request_id, unit=snap.id)
        result = ingest(db, connection_id, target, [raw], source, parent_id=letter.get("parent_id"))
        if result.counts.failed == 0:
            snap.reference.delete()
            stored += 1
    return RedriveResult(attempted=attempted, stored=stored, still_failing=attempted - stored)
