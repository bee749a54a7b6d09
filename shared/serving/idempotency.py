"""Idempotency-Key: a retried write-back never acts twice.

The first request with a key claims it (a document created in a transaction, with a lease)
and, once it has an answer, stores that answer under the key; a retry with the same key
and the same request gets the stored answer back (Idempotent-Replayed: true) without
acting again. The same key with another request is 422 idempotency_key_reused; a duplicate
that arrives while the first is still running is 409 in_progress. Keys are per caller and
per action, and expire (TTL on `_expires_at`) after KEY_TTL.

An answer is stored once the vendor may have acted, whatever it was (a 200, a 409, a 502):
the retry must not act again. A failure before the action was sent to the vendor (a stale
If-Match, a claim held by another change, the vendor's newer version found on reading it)
releases the key, so a retry decides afresh (and gets the same 409 while it still holds). A key whose holder died mid-flight (its lease lapsed) is
taken over by the next retry; the action's version check (If-Match against the stored
record, and the vendor's own version read first) keeps that retry from repeating a change
the first attempt made.

    connections/{connection}/_idempotency/{sha256(uid, action, key)}
        state in_progress|done, fingerprint, lease_until, response {status, body, etag},
        created_at, _expires_at
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from shared.connections.refs import connection_ref
from shared.errors import BadRequest, Conflict, Unprocessable

if TYPE_CHECKING:
    from google.cloud.firestore import Client, DocumentReference, Transaction

HEADER = "Idempotency-Key"
COLLECTION = "_idempotency"
KEY_TTL = timedelta(hours=24)
LEASE = timedelta(seconds=120)
_KEY = re.compile(r"[\x21-\x7e]{1,255}")


class InvalidIdempotencyKey(BadRequest):
    default_code = "invalid_idempotency_key"
    default_message = "Idempotency-Key must be 1 to 255 visible ASCII characters."


class IdempotencyKeyReused(Unprocessable):
    default_code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was used with another request."


class InProgress(Conflict):
    default_code = "in_progress"
    default_message = "A request with this Idempotency-Key is still in progress; retry later."


@dataclass(frozen=True)
class Stored:
    status: int
    body: Any
    etag: str | None = None


@dataclass(frozen=True)
class Claimed:
    """A key this request holds (replay is None) or an answer to give back (replay set)."""

    ref: DocumentReference
    replay: Stored | None = None


def key_of(header: str | None) -> str | None:
    if header is None:
        return None
    if not _KEY.fullmatch(header):
        raise InvalidIdempotencyKey()
    return header


def fingerprint(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str, separators=(",", ":")).encode()).hexdigest()


def _ref(
    db: Client, connection_id: str, uid: str, action: str, key: str, parent: DocumentReference | None = None
) -> DocumentReference:
    doc_id = hashlib.sha256(json.dumps([uid, action, key]).encode()).hexdigest()[:40]
    home = parent if parent is not None else connection_ref(db, connection_id)
    return home.collection(COLLECTION).document(doc_id)


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def begin(
    db: Client,
    connection_id: str,
    uid: str,
    action: str,
    key: str,
    print_: str,
    now: datetime | None = None,
    *,
    parent: DocumentReference | None = None,
) -> Claimed:
    """Claim the key, or answer what a request with it already got (422/409 as above).

    Keys live under the connection; `parent` puts them under another document instead
    (records this store owns, which have no connection: shared.crm)."""
    from shared.errors import ServiceUnavailable
    from shared.store.txn import Contention, run_transaction

    ref = _ref(db, connection_id, uid, action, key, parent)
    now = now or datetime.now(timezone.utc)

    def txn(transaction: Transaction) -> Claimed:
        snap = ref.get(transaction=transaction)
        data = (snap.to_dict() or {}) if snap.exists else None
        if data is not None:
            if data.get("fingerprint") != print_:
                raise IdempotencyKeyReused()
            if data.get("state") == "done":
                answer = data.get("response") or {}
                return Claimed(ref, Stored(int(answer["status"]), json.loads(answer["body"]), answer.get("etag")))
            lease = _utc(data.get("lease_until"))
            if lease is not None and lease > now:
                raise InProgress(headers={"Retry-After": str(max(1, int((lease - now).total_seconds())))})
        transaction.set(
            ref,
            {
                "state": "in_progress",
                "fingerprint": print_,
                "action": action,
                "lease_until": now + LEASE,
                "created_at": (data or {}).get("created_at", now),
                "_expires_at": now + KEY_TTL,
                "attempts": int((data or {}).get("attempts", 0)) + 1,
            },
        )
        return Claimed(ref)

    try:
        return run_transaction(db, txn)
    except Contention:
        raise ServiceUnavailable(
            "Too many requests with this Idempotency-Key at once; retry.", code="contention"
        ) from None


def finish(ref: DocumentReference, answer: Stored) -> None:
    ref.update(
        {
            "state": "done",
            "response": {
                "status": answer.status,
                "body": json.dumps(answer.body, default=str),
                "etag": answer.etag,
            },
        }
    )


def release(ref: DocumentReference) -> None:
    """Nothing reached the vendor: forget the key so a retry can act."""
    ref.delete()
