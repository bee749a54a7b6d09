"""Versioned writes of owned records, each in one Firestore transaction with its audit entry.

    crm/org/crm_{customers|contacts}/{id}      the record: fields, version, who and when,
                                               `changed_at` (commit time: the change marker)
    crm/org/crm_{kind}/{id}/audit/{version:08d}    who changed what (before/after per field)
    crm/org/_idempotency/{hash}                create replays (shared.serving.idempotency)

An update or delete names the version it is based on; the transaction reads the record
and compares, so of two clients sending the same version at once exactly one commits and
the other gets 409 with the record as it now is (Firestore retries the loser's
transaction, which then sees the new version). Nothing is ever overwritten silently.

Deletes are soft: the record stays, marked deleted, restorable for UNDO_WINDOW, and its
`changed_at` moves so pollers see the deletion in changes_since; after the window a TTL
policy on `_expires_at` purges it. Who may delete: the record's creator or an admin
(any member may edit; a delete hides the record from everyone, so it is narrower).
Restoring is allowed to whoever may delete.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from shared.crm.kinds import CONTACTS, CUSTOMERS, Kind
from shared.errors import Conflict, Forbidden, NotFound, TributaryError, ValidationFailed

if TYPE_CHECKING:
    from google.cloud.firestore import Client, CollectionReference, DocumentReference, Transaction

    from shared.api.policies import Principal

UNDO_WINDOW = timedelta(days=30)
#: internal fields never answered
INTERNAL = ("changed_at", "_expires_at", "name_lower")


class VersionConflict(Conflict):
    default_code = "version_conflict"
    default_message = "The record changed since the version you sent; here it is as it is now."


class Gone(TributaryError):
    status = 410
    default_code = "gone"
    default_message = "This is no longer available."


def root(db: Client) -> DocumentReference:
    return db.collection("crm").document("org")


def collection(db: Client, kind: Kind) -> CollectionReference:
    return root(db).collection(kind.collection)


def new_id(kind: Kind) -> str:
    return f"{kind.singular[:4]}_{secrets.token_hex(8)}"


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as answered (internal fields dropped)."""
    return {k: v for k, v in doc.items() if k not in INTERNAL}


def etag_of(doc: dict[str, Any]) -> str:
    return f'"v{int(doc.get("version") or 0)}"'


def version_of(if_match: str) -> int:
    """The version an If-Match names ("v7" or "7")."""
    raw = if_match.removeprefix("v")
    if not raw.isdigit() or len(raw) > 12:
        raise ValidationFailed("If-Match must be an ETag of this record (\"v<version>\").", code="invalid_if_match")
    return int(raw)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _audit(
    transaction: Transaction,
    ref: DocumentReference,
    who: Principal,
    action: str,
    version: int,
    changes: dict[str, Any],
    now: datetime,
) -> None:
    transaction.set(
        ref.collection("audit").document(f"{version:08d}"),
        {"at": now, "by": who.subject, "by_email": who.email, "action": action, "version": version, "changes": changes},
    )


def run(db: Client, fn: Callable[[Transaction], dict[str, Any]]) -> dict[str, Any]:
    from shared.store.txn import run_transaction

    return run_transaction(db, fn, rounds=3)


def _check_customer(db: Client, transaction: Transaction, customer_id: str | None) -> None:
    if customer_id is None:
        return
    snap = collection(db, CUSTOMERS).document(customer_id).get(transaction=transaction)
    if not snap.exists or (snap.to_dict() or {}).get("deleted"):
        raise ValidationFailed(
            "customer_id names no customer.", details=[{"loc": ["customer_id"], "msg": "no such customer"}]
        )


def new_doc(
    db: Client,
    transaction: Transaction,
    kind: Kind,
    who: Principal,
    ref: DocumentReference,
    fields: BaseModel,
    extra: dict[str, Any] | None,
    now: datetime,
) -> dict[str, Any]:
    """Create `ref` (version 1) with its audit entry, inside `transaction`."""
    from google.cloud.firestore import SERVER_TIMESTAMP

    values = fields.model_dump(mode="json")
    if kind is CONTACTS:
        _check_customer(db, transaction, values.get("customer_id"))
    doc = {
        **values,
        **(extra or {}),
        "id": ref.id,
        "version": 1,
        "created_at": now,
        "created_by": who.email,
        "updated_at": now,
        "updated_by": who.email,
        "deleted": False,
        "deleted_at": None,
        "deleted_by": None,
        "restore_until": None,
        "_expires_at": None,
    }
    doc.update(kind.lower_copies(doc))
    transaction.create(ref, {**doc, "changed_at": SERVER_TIMESTAMP})
    _audit(transaction, ref, who, "create", 1, {k: {"before": None, "after": v} for k, v in values.items()}, now)
    return doc


def create(db: Client, kind: Kind, who: Principal, fields: BaseModel) -> dict[str, Any]:
    ref = collection(db, kind).document(new_id(kind))
    at = utcnow()
    return public(run(db, lambda transaction: new_doc(db, transaction, kind, who, ref, fields, None, at)))


def get(db: Client, kind: Kind, record_id: str, *, include_deleted: bool = False) -> dict[str, Any]:
    snap = collection(db, kind).document(record_id).get()
    doc = snap.to_dict() if snap.exists else None
    if doc is None or (doc.get("deleted") and not include_deleted):
        raise NotFound(f"No {kind.singular} {record_id!r}.")
    return public(doc)


def _current(
    db: Client, kind: Kind, transaction: Transaction, ref: DocumentReference, version: int
) -> dict[str, Any]:
    snap = ref.get(transaction=transaction)
    if not snap.exists:
        raise NotFound(f"No {kind.singular} {ref.id!r}.")
    doc = snap.to_dict() or {}
    if int(doc.get("version") or 0) != version:
        raise VersionConflict(details={"current": _jsonable(public(doc))}, headers={"ETag": etag_of(doc)})
    return doc


def _jsonable(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in doc.items()}


def _bump(doc: dict[str, Any], who: Principal, now: datetime) -> dict[str, Any]:
    return {**doc, "version": int(doc["version"]) + 1, "updated_at": now, "updated_by": who.email}


def update(db: Client, kind: Kind, who: Principal, record_id: str, version: int, patch: BaseModel) -> dict[str, Any]:
    """Apply the fields the patch sent; 409 when `version` is not the stored one."""
    from google.cloud.firestore import SERVER_TIMESTAMP

    sent = patch.model_dump(mode="json", include=patch.model_fields_set)
    ref = collection(db, kind).document(record_id)
    now = utcnow()

    def txn(transaction: Transaction) -> dict[str, Any]:
        doc = _current(db, kind, transaction, ref, version)
        if doc.get("deleted"):
            raise VersionConflict("The record is deleted; restore it first.", code="deleted",
                                  details={"current": _jsonable(public(doc))}, headers={"ETag": etag_of(doc)})
        changes = {k: {"before": doc.get(k), "after": v} for k, v in sent.items() if doc.get(k) != v}
        if not changes:
            return doc  # nothing new: no version, no write, no audit entry
        if kind is CONTACTS and "customer_id" in changes:
            _check_customer(db, transaction, sent.get("customer_id"))
        new = _bump({**doc, **sent}, who, now)
        new.update(kind.lower_copies(new))
        transaction.set(ref, {**new, "changed_at": SERVER_TIMESTAMP})
        _audit(transaction, ref, who, "update", new["version"], changes, now)
        return new

    return public(run(db, txn))


def _may_delete(who: Principal, doc: dict[str, Any]) -> None:
    if who.role != "admin" and doc.get("created_by") != who.email:
        raise Forbidden("Only its creator or an admin may delete or restore this record.")


def delete(db: Client, kind: Kind, who: Principal, record_id: str, version: int) -> dict[str, Any]:
    """Soft delete: hidden from lists, restorable until `restore_until`."""
    from google.cloud.firestore import SERVER_TIMESTAMP

    ref = collection(db, kind).document(record_id)
    now = utcnow()

    def txn(transaction: Transaction) -> dict[str, Any]:
        doc = _current(db, kind, transaction, ref, version)
        _may_delete(who, doc)
        if doc.get("deleted"):
            return doc
        until = now + UNDO_WINDOW
        new = _bump(doc, who, now)
        new.update(deleted=True, deleted_at=now, deleted_by=who.email, restore_until=until, _expires_at=until)
        transaction.set(ref, {**new, "changed_at": SERVER_TIMESTAMP})
        _audit(transaction, ref, who, "delete", new["version"], {"deleted": {"before": False, "after": True}}, now)
        return new

    return public(run(db, txn))


def restore(db: Client, kind: Kind, who: Principal, record_id: str, version: int) -> dict[str, Any]:
    """Undo a delete within the window (410 after it)."""
    from google.cloud.firestore import SERVER_TIMESTAMP

    ref = collection(db, kind).document(record_id)
    now = utcnow()

    def txn(transaction: Transaction) -> dict[str, Any]:
        doc = _current(db, kind, transaction, ref, version)
        _may_delete(who, doc)
        if not doc.get("deleted"):
            return doc
        until = doc.get("restore_until")
        if isinstance(until, datetime) and until <= now:
            raise Gone("The undo window of this delete has passed.", code="undo_expired")
        new = _bump(doc, who, now)
        new.update(deleted=False, deleted_at=None, deleted_by=None, restore_until=None, _expires_at=None)
        transaction.set(ref, {**new, "changed_at": SERVER_TIMESTAMP})
        _audit(transaction, ref, who, "restore", new["version"], {"deleted": {"before": True, "after": False}}, now)
        return new

    return public(run(db, txn))


def audit(db: Client, kind: Kind, record_id: str, limit: int = 100) -> list[dict[str, Any]]:
    from google.cloud.firestore import Query

    get(db, kind, record_id, include_deleted=True)
    query = collection(db, kind).document(record_id).collection("audit").order_by("version", direction=Query.DESCENDING)
    return [snap.to_dict() or {} for snap in query.limit(limit).stream()]
