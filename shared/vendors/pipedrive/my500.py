""""My 500": the caller's 500 warmest contacts, searchable, filterable, sortable, paged.

A personal connection holds one salesperson's Pipedrive data, so the connection's persons
are the caller's; the views function already answers 404 to anyone but its owner and
admins. The 500 are read in one query ordered by `priority_at` (warmest first; Firestore's
automatic single-field index serves it), then searched, filtered, sorted and paged in
memory: 500 documents are small, and the answer is stored until the persons change.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.connections.refs import connection_ref
from shared.vendors.connector import View
from shared.vendors.pipedrive import warmness
from shared.vendors.pipedrive.serving import Person

if TYPE_CHECKING:
    from google.cloud.firestore import Client

TOP = 500


class My500Query(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(None, max_length=100, description="Name or email contains (any case)")
    warm: bool | None = Field(None, description="Only warm (or only not warm) contacts")
    added_to_campaign: bool | None = None
    org_id: int | None = None
    sort: Literal["priority", "name", "last_contacted_at", "last_activity_at", "updated_at"] = "priority"
    order: Literal["asc", "desc"] = "desc"
    offset: int = Field(0, ge=0, lt=TOP, description="Where the page starts in the filtered list")
    limit: int = Field(50, ge=1, le=200)


class My500Page(BaseModel):
    items: list[Person]
    total: int = Field(description="Contacts among the 500 that match the filters")
    next_offset: int | None = None
    computed_at: datetime


def top(db: Client, connection_id: str, limit: int = TOP) -> list[dict[str, Any]]:
    """The `limit` warmest live persons (deleted ones are skipped, topped up from after them)."""
    from google.cloud.firestore import Query

    from shared.store.records import records_collection

    coll = records_collection(db, connection_id, "persons")
    found: list[dict[str, Any]] = []
    query = coll.order_by("priority_at", direction=Query.DESCENDING)
    last = None
    while len(found) < limit:
        page = query.start_after(last) if last is not None else query
        snaps = list(page.limit(limit - len(found) + 20).stream())
        for snap in snaps:
            data = snap.to_dict() or {}
            if not data.get("_deleted") and len(found) < limit:
                found.append({**data, "id": data.get("id") or snap.id})
        if len(snaps) < limit - len(found) + 20 or not snaps:
            break
        last = snaps[-1]
    return found


def _sort_key(field: str, doc: dict[str, Any]) -> Any:
    value = doc.get("name_lower" if field == "name" else field)
    return (value is not None, value if value is not None else "")


def compute(db: Client, connection_id: str, q: My500Query) -> My500Page:
    now = datetime.now(timezone.utc)
    snap = connection_ref(db, connection_id).get()
    stored = ((snap.to_dict() or {}) if snap.exists else {}).get("config") or {}
    config = warmness.WarmnessConfig.model_validate(stored.get("warmness") or {})
    docs = top(db, connection_id)
    needle = (q.q or "").lower()
    if needle:
        docs = [d for d in docs if needle in (d.get("name_lower") or "") or needle in " ".join(d.get("emails") or []).lower()]
    if q.warm is not None:
        docs = [d for d in docs if warmness.is_warm(d.get("priority_at"), config, now) == q.warm]
    if q.added_to_campaign is not None:
        docs = [d for d in docs if bool(d.get("added_to_campaign")) == q.added_to_campaign]
    if q.org_id is not None:
        docs = [d for d in docs if d.get("org_id") == q.org_id]
    field = "priority_at" if q.sort == "priority" else q.sort
    docs.sort(key=lambda d: _sort_key(field, d), reverse=q.order == "desc")
    page = docs[q.offset : q.offset + q.limit]
    more = q.offset + q.limit < len(docs)
    return My500Page(
        items=[Person.model_validate({**d, "deleted": False}) for d in page],
        total=len(docs),
        next_offset=q.offset + q.limit if more else None,
        computed_at=now,
    )


MY_500 = View(
    name="my-500",
    stream="persons",
    query_model=My500Query,
    response_model=My500Page,
    compute=compute,
    summary="The caller's 500 warmest contacts: search (q), filters, sort, pages (offset)",
)
