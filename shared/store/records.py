"""Synced records: keyed by the vendor's primary key, newer versions win, replays change
nothing, deletes are tombstones that expire.

A stored record is the mapped content plus:

    _sync.hash        hash of the mapped content: unchanged content is never rewritten
    _sync.version     the record's version (its cursor field, unix seconds) where it has one:
                      an older version never replaces a newer one
    _sync.source      where the current version came from: {kind: sync|webhook|write_back|
                      redrive, id: run/delivery/request id, unit: chain page or event}
    _sync.synced_at   when this version was written (the writer's clock, at the unit's start)
    _sync.committed_at  the commit's server time: the newest one in a stream is its change
                      marker (shared.serving.records.newest_change: one read tells a
                      dashboard whether anything in the stream changed)
    _deleted          True once the vendor deleted it (reads hide it unless asked)
    _expires_at       when Firestore's TTL removes a tombstone (None while alive)

Writes are optimistic: documents are read, then written with a precondition on the read
(update time, or "does not exist"), so a concurrent newer write makes the batch fail and
the page is re-read and re-decided rather than overwritten.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from google.cloud.firestore import Client, CollectionReference, DocumentReference

    from shared.store.wire import Stored

BATCH_LIMIT = 400  # Firestore allows 500 writes per commit; leave headroom
WRITE_ATTEMPTS = 5
DEFAULT_TOMBSTONE_TTL_S = 30 * 86_400
SourceKind = Literal["sync", "webhook", "write_back", "redrive"]
#: set to the commit's server time on every write
COMMIT_TIME_FIELDS = ("_sync.committed_at",)


def collection_path(connection_id: str, stream: str) -> str:
    return f"connections/{connection_id}/{stream}"


def records_collection(db: Client, connection_id: str, stream: str) -> CollectionReference:
    return db.collection("connections").document(connection_id).collection(stream)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot hash {type(value).__name__}")


def content_hash(doc: dict[str, Any]) -> str:
    """sha256 of the canonical JSON; TypeError for content that cannot be stored as JSON."""
    payload = json.dumps(doc, sort_keys=True, default=_canonical, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def safe_doc_id(key: str) -> str:
    """Firestore ids cannot contain '/' or be '.'/'..'/__x__; vendor ids rarely do, but keep it total."""
    if "/" in key or key in (".", "..") or key.startswith("__") or len(key.encode()) > 1000:
        return "k_" + hashlib.sha256(key.encode()).hexdigest()[:40]
    return key


@dataclass(frozen=True)
class Provenance:
    """Where a version of a record came from."""

    kind: SourceKind
    id: str
    #: the unit of work inside it (a chain's page, an event): a retry of the same unit
    #: counts its earlier writes as its own
    unit: str = ""
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id, "unit": self.unit}


@dataclass(frozen=True)
class Incoming:
    """One record to store: its key, mapped content (None: the vendor deleted it), version."""

    key: str
    content: dict[str, Any] | None
    version: float | None = None
    #: content_hash(content) when the caller has it already (ingest computes it once)
    digest: str | None = None


@dataclass
class UpsertResult:
    #: keys whose stored version is this unit's (written now or by an earlier attempt of it)
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    #: older than what is stored: skipped
    stale: int = 0


class StaleWriteRace(Exception):
    """Another writer changed a record between our read and our write (re-read and decide)."""


def _decide(item: Incoming, snap: Stored, source: Provenance, ttl_s: int) -> tuple[str, dict[str, Any] | None]:
    """('written'|'unchanged'|'stale'|'write', document to write)."""
    data = (snap.to_dict() or {}) if snap.exists else {}
    stored = data.get("_sync") or {}
    stored_version = stored.get("version")
    if item.version is not None and stored_version is not None and item.version < stored_version:
        return "stale", None
    deleted = item.content is None
    digest = "deleted" if deleted else (item.digest or content_hash(item.content or {}))
    if snap.exists and stored.get("hash") == digest and bool(data.get("_deleted")) == deleted:
        mine = (stored.get("source") or {}) == source.as_dict()
        return ("written" if mine else "unchanged"), None
    meta = {
        "hash": digest,
        "version": item.version if item.version is not None else stored_version,
        "source": source.as_dict(),
        "synced_at": source.at,
    }
    if deleted:
        expires = source.at + timedelta(seconds=ttl_s)
        return "write", {"_sync": {**meta, "deleted_at": source.at}, "_deleted": True, "_expires_at": expires}
    return "write", {**(item.content or {}), "_sync": meta, "_deleted": False, "_expires_at": None}


def upsert(
    db: Client,
    connection_id: str,
    stream: str,
    items: list[Incoming],
    source: Provenance,
    *,
    tombstone_ttl_s: int = DEFAULT_TOMBSTONE_TTL_S,
) -> UpsertResult:
    """Store the items whose content or deletion is new and not older than what is stored.

    Re-reads and re-decides when a concurrent writer wins a race (never overwrites it).
    """
    from google.api_core import exceptions as gexc

    for attempt in range(WRITE_ATTEMPTS):
        try:
            return _upsert_once(db, connection_id, stream, items, source, tombstone_ttl_s)
        except (gexc.FailedPrecondition, gexc.AlreadyExists, gexc.NotFound) as exc:
            if attempt == WRITE_ATTEMPTS - 1:
                raise StaleWriteRace(f"{stream}: concurrent writers kept winning") from exc
    raise AssertionError("unreachable")


def _upsert_once(
    db: Client, connection_id: str, stream: str, items: list[Incoming], source: Provenance, ttl_s: int
) -> UpsertResult:
    from shared.store import wire

    result = UpsertResult()
    if not items:
        return result
    coll = records_collection(db, connection_id, stream)
    latest: dict[str, Incoming] = {}
    for item in items:  # the same key twice in one page: the newer (or later) one
        prior = latest.get(item.key)
        if prior is None or (item.version or 0) >= (prior.version or 0):
            latest[item.key] = item
    refs = {key: coll.document(safe_doc_id(key)) for key in latest}
    snaps = wire.read(db, list(refs.values()), ["_sync", "_deleted"])
    batch, pending = db.batch(), 0
    for key, item in latest.items():
        ref = refs[key]
        snap = snaps[ref.id]
        verdict, doc = _decide(item, snap, source, ttl_s)
        if verdict == "written":
            result.written.append(key)
        elif verdict == "unchanged":
            result.unchanged += 1
        elif verdict == "stale":
            result.stale += 1
        else:
            assert doc is not None
            # built as raw protobuf: the library's per-value encoding was most of a sync's CPU
            if snap.exists:
                write = wire.update_write(ref._document_path, doc, snap.update_time, COMMIT_TIME_FIELDS)
            else:
                write = wire.create_write(ref._document_path, doc, COMMIT_TIME_FIELDS)
            wire.add(batch, write)
            result.written.append(key)
            pending += 1
            if pending >= BATCH_LIMIT:
                batch.commit()
                batch, pending = db.batch(), 0
    if pending:
        batch.commit()
    # a key seen twice in the input is one record: the duplicates count as unchanged
    result.unchanged += len(items) - len(latest)
    return result


def get_record(db: Client, connection_id: str, stream: str, key: str, *, include_deleted: bool = False) -> dict[str, Any] | None:
    snap = records_collection(db, connection_id, stream).document(safe_doc_id(key)).get()
    if not snap.exists:
        return None
    data = snap.to_dict() or {}
    if data.get("_deleted") and not include_deleted:
        return None
    return data


#: documents per page of the sweep's candidate query (a cursor resumes it: memory stays flat)
SWEEP_PAGE = 1000


def live_keys_before(db: Client, connection_id: str, stream: str, before: datetime,
                     *, not_by: str | None = None) -> Iterator[tuple[str, DocumentReference]]:
    """(doc id, ref) of live records last written before `before` (the sweep's candidates),
    except those whose current version sync run `not_by` wrote (whatever the clocks say).

    Firestore filters on `_sync.synced_at` (every stored version has one), so records written
    since `before` are never read; the rest come in pages resumed from a cursor."""
    from shared.store.client import condition

    query = (records_collection(db, connection_id, stream)
             .where(filter=condition("_sync.synced_at", "<", before))
             .order_by("_sync.synced_at").order_by("__name__")
             .select(["_sync.synced_at", "_sync.source", "_deleted"]).limit(SWEEP_PAGE))
    cursor = None
    while True:
        page = list((query.start_after(cursor) if cursor is not None else query).stream())
        for snap in page:
            data = snap.to_dict() or {}
            source = (data.get("_sync") or {}).get("source") or {}
            if data.get("_deleted") or (not_by is not None and source.get("kind") == "sync" and source.get("id") == not_by):
                continue
            yield snap.id, snap.reference
        if len(page) < SWEEP_PAGE:
            return
        cursor = page[-1]


def dead_letter(
    db: Client,
    connection_id: str,
    stream: str,
    raw: Any,
    reason: str,
    *,
    source: Provenance,
    parent_id: str | None = None,
) -> None:
    """Keep a record that could not be stored, with why; keyed so a replay does not duplicate it."""
    body = json.dumps(raw, sort_keys=True, default=str)
    doc_id = hashlib.sha256(f"{stream}:{parent_id}:{body}".encode()).hexdigest()[:40]
    dead_letters(db, connection_id).document(doc_id).set(
        {
            "stream": stream,
            "reason": reason[:2000],
            "raw": body[:100_000],
            "parent_id": parent_id,
            "source": source.as_dict(),
            "run_id": source.id if source.kind == "sync" else None,
            "at": source.at,
        }
    )


def dead_letters(db: Client, connection_id: str) -> CollectionReference:
    return db.collection("connections").document(connection_id).collection("dead_letters")
