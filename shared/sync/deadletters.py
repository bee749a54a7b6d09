"""Reading dead letters for people: newest first, one stream or all."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.store import records
from shared.store.client import condition
from shared.sync.api import DeadLetter

if TYPE_CHECKING:
    from google.cloud.firestore import Client


def newest(db: Client, connection_id: str, stream: str | None, limit: int) -> list[DeadLetter]:
    """Ordered by `at`, descending (a composite index with `stream` in firestore.indexes.json)."""
    from google.cloud.firestore import Query

    query = records.dead_letters(db, connection_id)
    if stream:
        query = query.where(filter=condition("stream", "==", stream))
    query = query.order_by("at", direction=Query.DESCENDING).limit(limit)
    found = []
    for snap in query.stream():
        data = snap.to_dict() or {}
        found.append(DeadLetter(id=snap.id, stream=data.get("stream", ""), reason=data.get("reason", ""),
                                raw=data.get("raw", ""), parent_id=data.get("parent_id"),
                                run_id=data.get("run_id"), at=data["at"]))
    return found
