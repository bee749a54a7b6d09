"""Store reads of the records function: keyset pages without deleted records, one record,
and the per-stream change marker.

The change marker is the newest commit in the stream: every write of a record through the
ingest path sets `_sync.committed_at` to the commit's server time (shared.store.records),
so one query ordered by it, limited to one document, answers "did anything in this stream
change?" for the price of one document read (an empty stream costs the same one read).
Firestore serializes commits, so a commit that lands after the marker was read always
carries a later time and changes the marker: there is no window where a change is missed.
No document is written for it, so the sync path gets no hot document to contend on.

Pages: deleted records (tombstones, `_deleted`) are hidden unless asked for; they are few
(they expire after 30 days), so they are dropped after the query rather than filtered in
it, which would double every composite index. A page that lost records to that is topped
up from where it stopped (a few rounds at most), and its cursor points after the last
document read, so nothing is skipped or repeated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.errors import NotFound
from shared.store.queries import PageQuery, cursor_position, page_cursor, position_after

if TYPE_CHECKING:
    from google.cloud.firestore import Client

MARKER_FIELD = "_sync.committed_at"
#: queries one page may take to fill itself past deleted records
MAX_ROUNDS = 3


@dataclass
class RecordsPage:
    docs: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None


def newest_change(db: Client, connection_id: str, stream: str) -> str:
    """The stream's change marker: the newest commit time and its document, or 'empty'."""
    from google.cloud.firestore import Query

    from shared.store.records import records_collection

    query = (
        records_collection(db, connection_id, stream)
        .order_by(MARKER_FIELD, direction=Query.DESCENDING)
        .limit(1)
        .select([MARKER_FIELD])
    )
    for snap in query.stream():
        committed = ((snap.to_dict() or {}).get("_sync") or {}).get("committed_at")
        stamp = committed.isoformat() if isinstance(committed, datetime) else str(committed)
        return f"{stamp}|{snap.id}"
    return "empty"


def served(doc: dict[str, Any], doc_id: str) -> dict[str, Any]:
    """A stored document as the response models read it (a tombstone keeps only its id)."""
    return {**doc, "id": doc.get("id") or doc_id, "deleted": bool(doc.get("_deleted"))}


def page(
    db: Client, connection_id: str, stream: str, spec: PageQuery, cursor: str | None, *, include_deleted: bool
) -> RecordsPage:
    from shared.store.queries import ordered_query

    position = cursor_position(spec, cursor) if cursor else None
    result = RecordsPage()
    last: tuple[dict[str, Any], str] | None = None
    for _ in range(MAX_ROUNDS):
        want = spec.limit - len(result.docs)
        snaps = list(ordered_query(db, connection_id, stream, spec, position).limit(want + 1).stream())
        for snap in snaps[:want]:
            data = snap.to_dict() or {}
            last = (data, snap.id)
            if include_deleted or not data.get("_deleted"):
                result.docs.append(served(data, snap.id))
        if len(snaps) <= want:
            return result  # the query is exhausted: no next page
        assert last is not None
        if len(result.docs) >= spec.limit:
            break
        position = position_after(spec, *last)
    assert last is not None
    result.next_cursor = page_cursor(spec, *last)
    return result


def get(db: Client, connection_id: str, stream: str, key: str, *, include_deleted: bool = False) -> dict[str, Any]:
    """One record by its vendor key (404 when absent, or deleted and not asked for)."""
    from shared.store.records import get_record, safe_doc_id

    doc = get_record(db, connection_id, stream, key, include_deleted=include_deleted)
    if doc is None:
        raise NotFound(f"No {stream} record {key!r}.")
    return served(doc, safe_doc_id(key))
