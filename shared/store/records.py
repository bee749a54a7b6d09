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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

from pydantic_core import to_json

from shared.connections.refs import COLLECTION, connection_ref

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
    return f"{COLLECTION}/{connection_id}/{stream}"


def records_collection(db: Client, connection_id: str, stream: str) -> CollectionReference:
    return connection_ref(db, connection_id).collection(stream)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot hash {type(value).__name__}")


_SETS = frozenset({set, frozenset})


def content_hash(doc: dict[str, Any]) -> str:
    """sha256 of the content's JSON; ValueError or TypeError for content that cannot be
    stored as JSON (NaN and infinities included).

    Serialized by pydantic-core (Rust: a fifth of the standard library's cost, which was
    a tenth of the worker's CPU per record) in the content's own key order: a mapper builds
    its document in a fixed order and a vendor's payload keeps the order the vendor sent,
    so the same content gives the same hash; content that reaches us in another key order
    is at worst written once more, never taken for unchanged when it changed."""
    if not _SETS.isdisjoint(map(type, doc.values())):  # json refused them; to_json does not
        raise TypeError("a set has no stable order: cannot hash or store it")
    payload = to_json(doc, inf_nan_mode="constants")
    if b"NaN" in payload or b"Infinity" in payload:  # rare: tell a NaN from the text "NaN"
        json.dumps(doc, default=_canonical, allow_nan=False)
    return hashlib.sha256(payload).hexdigest()


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
    #: units of the same source whose writes count as this one's: the page a dead attempt
    #: of a scroll stored but never committed. Read again after the restart, its records
    #: are written once more under this unit (so no later restart counts them again)
    adopts: frozenset[str] = frozenset()

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
        by = stored.get("source") or {}
        if by == source.as_dict():
            return "written", None
        if not (by.get("unit") in source.adopts and by.get("kind") == source.kind and by.get("id") == source.id):
            return "unchanged", None
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
    announce: Callable[[list[str]], None] | None = None,
) -> UpsertResult:
    """Store the items whose content or deletion is new and not older than what is stored.

    Re-reads and re-decides when a concurrent writer wins a race (never overwrites it).
    `announce` hears the keys about to be written once they are decided, before their
    commit (the worker queues their children meanwhile; such a batch is always read first);
    a race that re-decides announces again, so the keys announced may be more than those
    finally written, never fewer.
    """
    from google.api_core import exceptions as gexc

    for attempt in range(WRITE_ATTEMPTS):
        try:
            return _upsert_once(db, connection_id, stream, items, source, tombstone_ttl_s, announce)
        except (gexc.FailedPrecondition, gexc.AlreadyExists, gexc.NotFound) as exc:
            if attempt == WRITE_ATTEMPTS - 1:
                raise StaleWriteRace(f"{stream}: concurrent writers kept winning") from exc
    raise AssertionError("unreachable")


#: (connection, stream) pairs whose last batch read found none of its records stored, in
#: this process: their next batch is first written blind (see `_create_all`)
_fresh: set[tuple[str, str]] = set()
_FRESH_LIMIT = 10_000


def _upsert_once(
    db: Client, connection_id: str, stream: str, items: list[Incoming], source: Provenance, ttl_s: int,
    announce: Callable[[list[str]], None] | None = None,
) -> UpsertResult:
    from shared.store import wire

    result = UpsertResult()
    if not items:
        return result
    latest: dict[str, Incoming] = {}
    for item in items:  # the same key twice in one page: the newer (or later) one
        prior = latest.get(item.key)
        if prior is None or (item.version or 0) >= (prior.version or 0):
            latest[item.key] = item
    # a key seen twice in the input is one record: the duplicates count as unchanged
    result.unchanged += len(items) - len(latest)
    # document paths, not references: building a DocumentReference (and checking its
    # path) per record cost more than hashing it
    base = f"{db._database_string}/documents/{collection_path(connection_id, stream)}/"
    paths = {key: base + safe_doc_id(key) for key in latest}
    fresh = (connection_id, stream)
    # a blind create knows what it wrote only after its commit: a batch whose writes are
    # announced (a parent page) is read and decided first, so exactly those are announced
    if fresh in _fresh and announce is None:
        if _create_all(db, latest, paths, source, ttl_s):
            result.written += list(latest)
            return result
        _fresh.discard(fresh)  # some exist after all: read them and decide, as below
    snaps = wire.read(db, list(paths.values()), ["_sync", "_deleted"])
    if any(snap.exists for snap in snaps.values()):
        _fresh.discard(fresh)
    else:
        if len(_fresh) >= _FRESH_LIMIT:
            _fresh.clear()
        _fresh.add(fresh)
    writes = wire.CommitWrites(db, BATCH_LIMIT)
    for key, item in latest.items():
        path = paths[key]
        snap = snaps[path.rsplit("/", 1)[1]]
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
            _build(writes, path, doc, snap.update_time if snap.exists else None)
            result.written.append(key)
    if announce is not None and result.written:
        announce(list(result.written))
    writes.commit()
    return result


def _build(writes: Any, path: str, doc: dict[str, Any], read_at: datetime | None) -> None:
    """The record's write, built in the commit that sends it: created (must not exist) or,
    when it was read, replaced under the precondition that it is unchanged since."""
    from shared.store import wire

    into = writes.add()
    try:
        if read_at is not None:
            wire.update_write(path, doc, read_at, COMMIT_TIME_FIELDS, into=into)
        else:
            wire.create_write(path, doc, COMMIT_TIME_FIELDS, into=into)
    except BaseException:
        writes.discard_last()
        raise


def _create_all(db: Client, latest: dict[str, Incoming], paths: dict[str, str], source: Provenance,
                ttl_s: int) -> bool:
    """Write every item as a new document, each on the precondition that it does not exist,
    without reading first: a first import's batch read (a tenth of the worker's CPU per
    record) finds nothing. A commit is atomic, so when any record exists it writes nothing
    and this answers False: the caller reads and decides as ever (a commit of this call
    that went through is then recognised as this unit's own write)."""
    from google.api_core import exceptions as gexc

    from shared.store import wire

    missing = wire.Stored("", False)
    keys = list(latest)
    for start in range(0, len(keys), BATCH_LIMIT):
        writes = wire.CommitWrites(db, BATCH_LIMIT)
        for key in keys[start:start + BATCH_LIMIT]:
            verdict, doc = _decide(latest[key], missing, source, ttl_s)
            assert verdict == "write" and doc is not None
            _build(writes, paths[key], doc, None)
        try:
            writes.commit()
        except (gexc.AlreadyExists, gexc.FailedPrecondition):
            return False
    return True


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
    return connection_ref(db, connection_id).collection("dead_letters")
