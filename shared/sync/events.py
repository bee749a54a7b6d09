"""Sync events: what notifications read (a run ended, a connection's breaker opened or
closed), one document each, listed oldest first after a `since` time with a keyset cursor.

    sync_events/{id}   kind, connection_id, vendor, name, owner_kind, owner_uid, at,
                       run_id, status, counts, reason {code, message}, detail,
                       repeats, last_at

A failing connection does not flood them: a failure kind (run_failed, run_partial,
breaker_opened) is written once per episode; while that episode lasts (no recovery event
of its family yet: run_succeeded, breaker_closed), further failures of the kind add to the
first event's `repeats` and move its `last_at` instead of writing new events. The open
episodes are kept on the connection document (`open_events`, kind -> event id), read and
written in the same transaction as the run's or the breaker's own change, so an event is
written exactly once per change.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.sync.models import Counts

if TYPE_CHECKING:
    from google.cloud.firestore import Client, DocumentReference, Transaction, WriteBatch

    from shared.api.policies import Principal

COLLECTION = "sync_events"
OPEN_FIELD = "open_events"

EventKind = Literal["run_succeeded", "run_partial", "run_failed", "breaker_opened", "breaker_closed"]
#: a failure kind -> the kinds that end its episode
EPISODES: dict[str, tuple[str, ...]] = {
    "run_failed": ("run_succeeded", "run_partial"),
    "run_partial": ("run_succeeded", "run_failed"),
    "breaker_opened": ("breaker_closed",),
}


class EventReason(BaseModel):
    code: str
    message: str


class SyncEvent(BaseModel):
    id: str
    kind: EventKind
    connection_id: str
    vendor: str | None = None
    name: str | None = None
    at: datetime
    run_id: str | None = None
    counts: Counts | None = None
    reason: EventReason | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    #: further occurrences of this failure folded into this event (0: it happened once)
    repeats: int = 0
    last_at: datetime


class EventList(BaseModel):
    events: list[SyncEvent]
    #: where this page ended: pass it back as `cursor` for the next page, and keep polling
    #: with it for what happens next (None only when nothing was ever read)
    next_cursor: str | None = None
    #: True when more events were already there past this page
    more: bool = False


class EventQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: datetime | None = Field(None, description="only events at or after this time")
    connection_id: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
    cursor: str | None = Field(None, max_length=2000, description="next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=200)
    order: Literal["asc", "desc"] = Field(
        "asc", description="asc: oldest first (what a poller wants); desc: newest first (what a person reads)")


def event_ref(db: Client, event_id: str) -> DocumentReference:
    ref: DocumentReference = db.collection(COLLECTION).document(event_id)
    return ref


def new_event_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}"


def add_in(transaction: Transaction | WriteBatch, db: Client, connection_id: str, connection: dict[str, Any], kind: EventKind,
           now: datetime, *, run_id: str | None = None, counts: Counts | None = None,
           reason: dict[str, str] | None = None, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write (or fold) the event inside the caller's transaction (or compare-and-set batch),
    whose reads are done and which read `connection` (the connection document). Returns the fields the caller must
    merge into its update of the connection document."""
    from google.cloud.firestore import DELETE_FIELD, Increment

    open_events: dict[str, str] = dict(connection.get(OPEN_FIELD) or {})
    update: dict[str, Any] = {}
    for failure, enders in EPISODES.items():
        if kind in enders and failure in open_events:
            update[f"{OPEN_FIELD}.{failure}"] = DELETE_FIELD
    if kind in EPISODES and kind in open_events:
        transaction.update(event_ref(db, open_events[kind]), {
            "repeats": Increment(1), "last_at": now, "run_id": run_id,
            "reason": reason, "counts": counts.model_dump() if counts else None})
        return update
    event_id = new_event_id(now)
    owner = connection.get("owner") or {}
    transaction.set(event_ref(db, event_id), {
        "kind": kind, "connection_id": connection_id, "vendor": connection.get("vendor"),
        "name": connection.get("name"), "owner_kind": owner.get("kind"), "owner_uid": owner.get("uid"),
        "at": now, "last_at": now, "run_id": run_id, "counts": counts.model_dump() if counts else None,
        "reason": reason, "detail": detail or {}, "repeats": 0,
    })
    if kind in EPISODES:
        update[f"{OPEN_FIELD}.{kind}"] = event_id
    return update


def run_event_kind(status: str) -> EventKind:
    return {"succeeded": "run_succeeded", "partial": "run_partial"}.get(status, "run_failed")  # type: ignore[return-value]


def list_events(db: Client, principal: Principal, query: EventQuery) -> EventList:
    """Events the caller may see (admins: all; members: organization connections and their
    own), oldest first (newest first with order=desc; the cursor then pages back in time).
    A member's page is filled by reading on past hidden events."""
    from shared.connections.access import is_admin
    from shared.store.client import condition
    from shared.store.queries import decode_cursor, encode_cursor

    base = db.collection(COLLECTION)
    if query.connection_id:
        base = base.where(filter=condition("connection_id", "==", query.connection_id))
    if query.since:
        base = base.where(filter=condition("at", ">=", query.since))
    direction = "DESCENDING" if query.order == "desc" else "ASCENDING"
    base = base.order_by("at", direction=direction).order_by("__name__", direction=direction)
    start: list[Any] | None = None
    if query.cursor:
        position = decode_cursor(query.cursor)
        start = [datetime.fromisoformat(str(position.get("at"))), event_ref(db, str(position.get("id")))]
    admin = is_admin(principal)
    found: list[SyncEvent] = []
    last: tuple[datetime, str] | None = None
    exhausted = False
    while len(found) < query.limit and not exhausted:
        page = base.start_after(start) if start else base
        snaps = list(page.limit(query.limit).stream())
        exhausted = len(snaps) < query.limit
        for snap in snaps:
            data = snap.to_dict() or {}
            last = (data["at"], snap.id)
            start = [data["at"], snap.reference]
            if admin or data.get("owner_kind") == "org" or (data.get("owner_uid") and data["owner_uid"] == principal.subject):
                found.append(SyncEvent.model_validate({**data, "id": snap.id}))
                if len(found) == query.limit:
                    break
    cursor = encode_cursor({"at": last[0].isoformat(), "id": last[1]}) if last else query.cursor
    return EventList(events=found, next_cursor=cursor, more=len(found) == query.limit and not exhausted)
