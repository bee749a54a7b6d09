"""Re-drive dead letters through the ingest path after a fix (a mapper bug, a model that
was too strict): each record is stored or dead-lettered again with its new reason."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from shared.store import records
from shared.store.client import condition
from shared.store.records import Provenance
from shared.sync.api import DeadLetter, DeadLetterList, DeadLetterQuery, RedriveRequest, RedriveResult
from shared.sync.ingest import ingest
from shared.vendors.connector import Connector

if TYPE_CHECKING:
    from google.cloud.firestore import Client

    from shared.api.policies import Principal
    from shared.config import Settings

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


def list_dead_letters(settings: Settings, principal: Principal, query: DeadLetterQuery) -> DeadLetterList:
    from google.cloud.firestore import Query

    from shared.connections.access import readable
    from shared.store.client import db

    database = db(settings)
    connection = readable(database, principal, query.connection_id)
    ref = records.dead_letters(database, connection.id)
    if query.stream:
        ref = ref.where(filter=condition("stream", "==", query.stream))
    else:
        ref = ref.order_by("at", direction=Query.DESCENDING)
    letters = []
    for snap in ref.limit(query.limit).stream():
        data = snap.to_dict() or {}
        letters.append(DeadLetter(id=snap.id, stream=data.get("stream", ""), reason=data.get("reason", ""),
                                  raw=data.get("raw", ""), parent_id=data.get("parent_id"), run_id=data.get("run_id"),
                                  at=data["at"]))
    return DeadLetterList(dead_letters=letters)


def redrive_for(settings: Settings, principal: Principal, request: RedriveRequest, *, request_id: str) -> RedriveResult:
    from shared.connections.access import manageable
    from shared.store.client import db
    from shared.sync.registry import connector

    database = db(settings)
    connection = manageable(database, principal, request.connection_id)
    return redrive(database, connector(connection.vendor), connection.id, request_id=request_id, stream=request.stream)
