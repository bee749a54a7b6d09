"""PATCH a contact's custom attributes: Intercom first, then the store, never a lost update.

The version of a contact is its stored content hash (`_sync.hash`), served as its ETag.
A change must name the version it is based on (If-Match, or the contact's updated_at in
the body). Then:

1. claim (transaction): the stored version must still be the one named, and no other
   change may hold a live claim on the contact; a `_write_claim` {id, until} is set. Two
   concurrent changes from the same version: one claims, the other gets 409 before it
   reaches Intercom, so Intercom never sees two writes racing from one version.
2. Intercom: the contact is read first; if Intercom's updated_at is not the stored one,
   the contact changed in Intercom since the last sync: the store takes Intercom's version
   and the caller gets 409 (re-read, then retry with the new ETag). Otherwise
   PUT /contacts/{id} with the attributes; Intercom answers with the updated contact.
3. commit (transaction): the stored version must still be the claimed one and the claim
   still ours (a sync that wrote new content in between wiped it); then the mapped contact
   is stored with its new hash, which is the new ETag. Otherwise 409: Intercom has the
   change, and the next sync brings the store up to date with it.

A failure between 1 and 3 releases the claim; a crashed instance's claim expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from shared.errors import BadRequest, Conflict, NotFound, PreconditionRequired
from shared.intercom_api import CONNECTION_ID

if TYPE_CHECKING:
    from google.cloud.firestore import Client, DocumentReference, Transaction

CLAIM_TTL = timedelta(seconds=60)
CLAIM_FIELD = "_write_claim"


@dataclass(frozen=True)
class Updated:
    contact: dict[str, Any]
    etag: str


def format_etag(version: str) -> str:
    return f'"{version}"'


def parse_if_match(header: str | None) -> str | None:
    """The version an If-Match header names (strong, single), or None when absent."""
    if header is None or not header.strip():
        return None
    value = header.strip()
    if value == "*":
        raise PreconditionRequired("If-Match must name the contact's ETag; '*' is not accepted here.")
    if value.startswith("W/"):
        raise BadRequest("If-Match needs a strong ETag.", code="invalid_if_match")
    if "," in value:
        raise BadRequest("If-Match must name exactly one ETag.", code="invalid_if_match")
    value = value.strip('"')
    if not value or len(value) > 128:
        raise BadRequest("If-Match is not an ETag of this API.", code="invalid_if_match")
    return value


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _conflict(message: str, current: str | None) -> Conflict:
    details = {"current_etag": format_etag(current)} if current else None
    return Conflict(message, code="version_conflict", details=details)


def _transactional(fn):  # type: ignore[no-untyped-def]
    from google.cloud import firestore

    return firestore.transactional(fn)


def _ref(db: Client, contact_id: str) -> DocumentReference:
    from shared.store.records import records_collection, safe_doc_id

    return records_collection(db, CONNECTION_ID, "contacts").document(safe_doc_id(contact_id))


def _claim(
    db: Client, ref: DocumentReference, claim_id: str, if_match: str | None, expected: datetime | None, now: datetime
) -> dict[str, Any]:
    def txn(transaction: Transaction) -> dict[str, Any]:
        snap = ref.get(transaction=transaction)
        if not snap.exists:
            raise NotFound(f"No contact {ref.id!r}.")
        doc = snap.to_dict() or {}
        version = (doc.get("_sync") or {}).get("hash")
        if if_match is not None and if_match != version:
            raise _conflict("The contact changed since you read it (ETag mismatch).", version)
        if expected is not None and _utc(doc.get("updated_at")) != expected:
            raise _conflict("The contact changed since you read it (updated_at mismatch).", version)
        claim = doc.get(CLAIM_FIELD) or {}
        until = _utc(claim.get("until"))
        if claim.get("id") not in (None, claim_id) and until is not None and until > now:
            raise _conflict("Another change to this contact is in progress.", version)
        transaction.update(ref, {CLAIM_FIELD: {"id": claim_id, "until": now + CLAIM_TTL}})
        return doc

    return _transactional(txn)(db.transaction())


def _release(db: Client, ref: DocumentReference, claim_id: str) -> None:
    from google.cloud.firestore import DELETE_FIELD

    def txn(transaction: Transaction) -> None:
        snap = ref.get(transaction=transaction)
        if snap.exists and ((snap.to_dict() or {}).get(CLAIM_FIELD) or {}).get("id") == claim_id:
            transaction.update(ref, {CLAIM_FIELD: DELETE_FIELD})

    try:
        _transactional(txn)(db.transaction())
    except Exception:  # best effort: the claim expires anyway
        pass


def _commit(
    db: Client, ref: DocumentReference, claim_id: str, version: str, content: dict[str, Any], run_id: str,
    now: datetime,
) -> str:
    from shared.store.records import content_hash

    digest = content_hash(content)

    def txn(transaction: Transaction) -> str:
        snap = ref.get(transaction=transaction)
        doc = (snap.to_dict() or {}) if snap.exists else {}
        current = (doc.get("_sync") or {}).get("hash")
        if current != version or (doc.get(CLAIM_FIELD) or {}).get("id") != claim_id:
            raise _conflict(
                "The contact changed while the update was in flight; Intercom has the change and "
                "the next sync brings it here. Re-read the contact.",
                current,
            )
        transaction.set(ref, {**content, "_sync": {"hash": digest, "run_id": run_id, "synced_at": now}})
        return digest

    return _transactional(txn)(db.transaction())


def update_custom_attributes(
    db: Client,
    contact_id: str,
    attributes: dict[str, Any],
    *,
    if_match: str | None,
    expected_updated_at: datetime | None,
    request_id: str,
) -> Updated:
    from shared.intercom_api import live

    if if_match is None and expected_updated_at is None:
        raise PreconditionRequired(
            "Send the contact's ETag in If-Match (or expected_updated_at in the body) to change it."
        )
    ref = _ref(db, contact_id)
    claim_id = f"api-{request_id}"
    run_id = f"api:{request_id}"
    now = datetime.now(timezone.utc)
    doc = _claim(db, ref, claim_id, if_match, _utc(expected_updated_at), now)
    version = (doc.get("_sync") or {}).get("hash")
    try:
        current = live.get_contact(contact_id)
        if _utc(current.get("updated_at")) != _utc(doc.get("updated_at")):
            refreshed = _commit(db, ref, claim_id, version, current, run_id, now)
            raise _conflict("The contact changed in Intercom since the last sync; re-read it and retry.", refreshed)
        updated = live.put_custom_attributes(contact_id, attributes)
    except Exception:
        _release(db, ref, claim_id)
        raise
    digest = _commit(db, ref, claim_id, version, updated, run_id, datetime.now(timezone.utc))
    return Updated(contact=updated, etag=format_etag(digest))
