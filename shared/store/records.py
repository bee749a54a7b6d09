"""Synced records: keyed by the vendor's primary key, so a replay rewrites nothing.

A record's stored form carries `_sync.hash`, the hash of its mapped content. An upsert
first reads the hashes of the page's documents and writes only what changed, so a sync
with no vendor changes costs reads but no writes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.cloud.firestore import Client, CollectionReference

BATCH_LIMIT = 400  # Firestore allows 500 writes per batch; leave headroom


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
    payload = json.dumps(doc, sort_keys=True, default=_canonical, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def safe_doc_id(key: str) -> str:
    """Firestore ids cannot contain '/' or be '.'/'..'; vendor ids rarely do, but keep it total."""
    if "/" in key or key in (".", "..") or key.startswith("__"):
        return "k_" + hashlib.sha256(key.encode()).hexdigest()[:40]
    return key


@dataclass(frozen=True)
class UpsertResult:
    written: int
    unchanged: int


def upsert(
    db: Client,
    connection_id: str,
    stream: str,
    docs: dict[str, dict[str, Any]],
    *,
    run_id: str,
    synced_at: datetime,
) -> UpsertResult:
    """Write the documents (key -> mapped content) whose content changed.

    `written` counts the documents this run has written (now or in an earlier attempt of
    the same page), `unchanged` those already stored with the same content.
    """
    if not docs:
        return UpsertResult(0, 0)
    coll = records_collection(db, connection_id, stream)
    refs = {key: coll.document(safe_doc_id(key)) for key in docs}
    existing: dict[str, dict[str, Any]] = {
        snap.id: ((snap.to_dict() or {}).get("_sync") or {}) if snap.exists else {}
        for snap in db.get_all(list(refs.values()), field_paths=["_sync.hash", "_sync.run_id"])
    }
    batch = db.batch()
    pending = written = unchanged = 0
    for key, content in docs.items():
        digest = content_hash(content)
        ref = refs[key]
        stored = existing.get(ref.id) or {}
        if stored.get("hash") == digest:
            # Written by this same run in an attempt that died before its checkpoint: it
            # counts as this run's write, so counts stay exact across retries.
            if stored.get("run_id") == run_id:
                written += 1
            else:
                unchanged += 1
            continue
        batch.set(ref, {**content, "_sync": {"hash": digest, "run_id": run_id, "synced_at": synced_at}})
        pending += 1
        written += 1
        if pending >= BATCH_LIMIT:
            batch.commit()
            batch, pending = db.batch(), 0
    if pending:
        batch.commit()
    return UpsertResult(written, unchanged)


def dead_letter(
    db: Client,
    connection_id: str,
    stream: str,
    raw: dict[str, Any],
    reason: str,
    *,
    run_id: str,
    at: datetime,
) -> None:
    """Keep a record that failed validation, with why; keyed so a replay does not duplicate it."""
    body = json.dumps(raw, sort_keys=True, default=str)
    doc_id = hashlib.sha256(f"{stream}:{body}".encode()).hexdigest()[:40]
    db.collection("connections").document(connection_id).collection("dead_letters").document(doc_id).set(
        {"stream": stream, "reason": reason[:2000], "raw": body[:100_000], "run_id": run_id, "at": at}
    )
