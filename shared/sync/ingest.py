"""The one way a vendor record reaches the store, whether a sync page, a webhook event, a
write-back's answer or a re-driven dead letter brought it.

validate (raw model) -> map -> key, version, hash -> newer-wins upsert with provenance.
Every record that cannot be stored is dead-lettered with its reason and counted; nothing
is dropped silently and no single record can fail the batch it came in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from shared.connections.refs import connection_ref
from shared.store import records
from shared.store.records import Incoming, Provenance
from shared.sync.models import Counts
from shared.vendors.connector import MapContext, ParentSet, Stream
from shared.vendors.pagination import as_unix

if TYPE_CHECKING:
    from google.cloud.firestore import Client

log = logging.getLogger("tributary.sync.ingest")

#: hears the keys of a batch about to be written, before their commit
Announce = Callable[[list[str]], None]


@dataclass
class IngestResult:
    counts: Counts = field(default_factory=Counts)
    #: keys whose stored version is now this source's (children are fetched for these)
    written: list[str] = field(default_factory=list)
    #: keys of every record that was read (a full pass's sweep compares against them)
    seen: list[str] = field(default_factory=list)
    #: the newest cursor among the records read (unix seconds)
    max_cursor: float | None = None


@dataclass(frozen=True)
class Prepared:
    items: list[Incoming]
    rejected: list[tuple[Any, str]]
    max_cursor: float | None
    #: records left out as not the connection owner's (Stream.owned)
    foreign: int = 0


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
    return f"{type(exc).__name__}: {exc}"


def prepare(
    stream: Stream[Any], raws: list[Any], *, parent_id: str | None = None, context: MapContext | None = None
) -> Prepared:
    """Validate, map (and refine, with the connection's context) and hash each record;
    any failure of one record rejects only it."""
    items: list[Incoming] = []
    rejected: list[tuple[Any, str]] = []
    max_cursor: float | None = None
    foreign = 0
    for raw in raws:
        if not isinstance(raw, dict):
            rejected.append(({"value": raw}, "record is not an object"))
            continue
        key = stream.record_key(raw, parent_id)
        if key is None:
            rejected.append((raw, f"missing primary key {stream.primary_key!r}"))
            continue
        try:
            content = stream.mapper(stream.raw_model.model_validate(raw))
            if stream.refine is not None:
                content = stream.refine(content, context or MapContext())
            if stream.owned is not None and not stream.owned(content, context or MapContext()):
                foreign += 1  # someone else's record this connection can see: not stored
                seen_at = stream.cursor_value(raw)  # it was read: the cursor may move past it
                if seen_at is not None and (max_cursor is None or seen_at > max_cursor):
                    max_cursor = seen_at
                continue
            if stream.keep_raw:
                content = {**content, "raw": raw}
            if parent_id is not None:
                content = {**content, "parent_id": parent_id}
            digest = records.content_hash(content)  # content that cannot be stored fails here, alone
        except Exception as exc:  # noqa: BLE001 - any mapper bug is this record's failure, kept with its reason
            rejected.append((raw, _reason(exc)))
            continue
        version = stream.cursor_value(raw)
        items.append(Incoming(key=key, content=content, version=version, digest=digest))
        if version is not None and (max_cursor is None or version > max_cursor):
            max_cursor = version
    return Prepared(items, rejected, max_cursor, foreign)


def ingest(
    db: Client,
    connection_id: str,
    stream: Stream[Any],
    raws: list[Any],
    source: Provenance,
    *,
    parent_id: str | None = None,
    announce: Announce | None = None,
) -> IngestResult:
    """Store a batch of raw vendor records through the one path; counts add up:
    fetched == written + unchanged + failed. `announce` hears the keys about to be written
    before they are committed (see records.upsert)."""
    return ingest_groups(db, connection_id, stream, [(parent_id, raws)], source, announce=announce)


def ingest_groups(
    db: Client, connection_id: str, stream: Stream[Any], groups: list[tuple[str | None, list[Any]]], source: Provenance,
    *, announce: Announce | None = None,
) -> IngestResult:
    """`ingest` for several parents' children at once: each group is prepared with its
    parent id, and the whole batch is read and written together (one read and one commit
    per batch instead of per parent)."""
    context = map_context(db, connection_id, stream) if stream.refine or stream.owned else None
    items: list[Incoming] = []
    rejected = foreign = 0
    max_cursor: float | None = None
    for parent_id, raws in groups:
        prepared = prepare(stream, raws, parent_id=parent_id, context=context)
        for raw, reason in prepared.rejected:
            records.dead_letter(db, connection_id, stream.name, raw, reason, source=source, parent_id=parent_id)
        items += prepared.items
        rejected += len(prepared.rejected)
        foreign += prepared.foreign
        if prepared.max_cursor is not None and (max_cursor is None or prepared.max_cursor > max_cursor):
            max_cursor = prepared.max_cursor
    saved = _store(db, connection_id, stream, items, source, announce)
    failed_keys = saved.pop("failed", [])
    written: list[str] = saved["written"]
    counts = Counts(
        fetched=sum(len(raws) for _, raws in groups) - foreign,
        written=len(written),
        unchanged=saved["unchanged"],
        failed=rejected + len(failed_keys),
    )
    return IngestResult(counts, written, [i.key for i in items], max_cursor)


def ingest_children(db: Client, connection_id: str, stream: Stream[Any], by_parent: Mapping[str, list[Any]],
                    source: Provenance, *, whole: bool = True) -> IngestResult:
    """Store the children of several parents in one upsert, each keyed under its parent.
    For a `ParentSet` stream each parent's read (when `whole`: every page of it) is its
    whole set: its stored children the read did not return become tombstones (not
    counted: counts cover the records read)."""
    result = ingest_groups(db, connection_id, stream, list(by_parent.items()), source)
    if whole and isinstance(stream.deletes, ParentSet) and by_parent:
        # a child that could not be stored was still returned: it is not removed
        read = {k for parent_id, raws in by_parent.items() for raw in raws
                if isinstance(raw, dict) and (k := stream.record_key(raw, parent_id))}
        gone = [key for key in _stored_children(db, connection_id, stream.name, list(by_parent)) if key not in read]
        for start in range(0, len(gone), records.BATCH_LIMIT):
            tombstone(db, connection_id, stream, gone[start:start + records.BATCH_LIMIT], source)
        if gone:
            log.info("children removed", extra={"stream": stream.name, "removed": len(gone)})
    return result


#: Firestore's `in` filter takes at most 30 values
_IN_LIMIT = 30


def _stored_children(db: Client, connection_id: str, stream: str, parents: list[str]) -> list[str]:
    """Keys of the live stored children of these parents (one query per 30 parents)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    from shared.store.records import records_collection

    keys: list[str] = []
    for start in range(0, len(parents), _IN_LIMIT):
        query = records_collection(db, connection_id, stream) \
            .where(filter=FieldFilter("parent_id", "in", parents[start:start + _IN_LIMIT])).select(["_deleted"])
        keys += [snap.id for snap in query.stream() if not (snap.to_dict() or {}).get("_deleted")]
    return keys


#: how long a process reuses a connection's mapping context (config, lookup streams)
CONTEXT_TTL_S = 30.0
_contexts: dict[tuple[str, str], tuple[float, MapContext]] = {}


def map_context(db: Client, connection_id: str, stream: Stream[Any]) -> MapContext:
    """The connection's stored config and the records of the streams `stream.lookups` names
    (small definition streams), cached briefly per process: one read per page otherwise."""
    import time

    from shared.store.records import records_collection

    cache_key = (connection_id, stream.name)
    cached = _contexts.get(cache_key)
    if cached is not None and time.monotonic() - cached[0] < CONTEXT_TTL_S:
        return cached[1]
    snap = connection_ref(db, connection_id).get()
    config = dict(((snap.to_dict() or {}) if snap.exists else {}).get("config") or {})
    lookups = {
        name: {
            s.id: data
            for s in records_collection(db, connection_id, name).stream()
            if not (data := s.to_dict() or {}).get("_deleted")
        }
        for name in stream.lookups
    }
    context = MapContext(config=config, lookups=lookups)
    _contexts[cache_key] = (time.monotonic(), context)
    return context


def forget_contexts() -> None:
    """Drop cached mapping contexts (tests, and after a connection's config changes)."""
    _contexts.clear()


def _store(db: Client, connection_id: str, stream: Stream[Any], items: list[Incoming], source: Provenance,
           announce: Announce | None = None) -> dict[str, Any]:
    """Upsert the batch; when the store refuses it for good (a document too large, a field
    Firestore cannot hold), store record by record and dead-letter the ones it refuses."""
    from google.api_core import exceptions as gexc

    try:
        result = records.upsert(db, connection_id, stream.name, items, source, announce=announce)
        return {"written": result.written, "unchanged": result.unchanged + result.stale}
    except (gexc.InvalidArgument, ValueError, TypeError) as exc:
        log.warning("batch refused by the store, storing one by one", extra={"stream": stream.name, "error": type(exc).__name__})
    written: list[str] = []
    unchanged = 0
    failed: list[str] = []
    for item in items:
        try:
            one = records.upsert(db, connection_id, stream.name, [item], source, announce=announce)
        except (gexc.InvalidArgument, ValueError, TypeError) as exc:
            records.dead_letter(db, connection_id, stream.name, item.content, f"store refused: {_reason(exc)}", source=source)
            failed.append(item.key)
            continue
        written += one.written
        unchanged += one.unchanged + one.stale
    return {"written": written, "unchanged": unchanged, "failed": failed}


def tombstone(db: Client, connection_id: str, stream: Stream[Any], keys: list[str], source: Provenance, *, version: float | None = None) -> IngestResult:
    """The vendor deleted these records (a delete event, a deleted-records listing, a sweep)."""
    items = [Incoming(key=key, content=None, version=version) for key in keys]
    result = records.upsert(db, connection_id, stream.name, items, source)
    counts = Counts(fetched=len(keys), written=len(result.written), unchanged=result.unchanged + result.stale)
    return IngestResult(counts, result.written, keys, None)


def tombstone_listed(db: Client, connection_id: str, listing: Stream[Any], target: Stream[Any], raws: list[Any],
                     source: Provenance) -> IngestResult:
    """A page of a tombstone stream (the vendor lists what it deleted): each listed record
    of `target` becomes a tombstone versioned by the listing's cursor field (the deletion's
    time), so a newer live version stored since is never hidden."""
    items: list[Incoming] = []
    max_cursor: float | None = None
    for raw in raws:
        key = listing.record_key(raw) if isinstance(raw, dict) else None
        if key is None:
            records.dead_letter(db, connection_id, listing.name, raw if isinstance(raw, dict) else {"value": raw},
                                f"missing primary key {listing.primary_key!r}", source=source)
            continue
        version = listing.cursor_value(raw)
        items.append(Incoming(key=key, content=None, version=version))
        if version is not None and (max_cursor is None or version > max_cursor):
            max_cursor = version
    result = records.upsert(db, connection_id, target.name, items, source)
    counts = Counts(fetched=len(raws), written=len(result.written), unchanged=result.unchanged + result.stale,
                    failed=len(raws) - len(items))
    return IngestResult(counts, result.written, [i.key for i in items], max_cursor)


def version_of(value: Any) -> float | None:
    return as_unix(value)
