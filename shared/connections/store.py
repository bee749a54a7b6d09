"""Connections in Firestore: CRUD, status transitions, scheduling, encrypted credentials.

    connections/{id}                       Connection fields (shared.connections.models),
                                           plus engine state the sync engine writes
    connections/{id}/private/credentials   the envelope only (shared.crypto): v, alg, kid,
                                           wrapped_key, nonce, ciphertext, updated_at, and
                                           while a token refresh runs, refresh_lock

Ids are ``<vendor>-<12 hex>``: readable in logs, unguessable enough not to enumerate, and
never reused. Access rules (who may see or change which connection) are not here but in
shared.connections.access; this module trusts its caller.

Deleting is a hard delete: the connection document and every subcollection under it (synced
records, runs, chains, dead letters, the credentials) go, with Firestore's recursive delete.
We do not keep soft-deleted data: a deleted connection's records are the customer's CRM
data, and keeping them after the customer asked us to delete them is the wrong default.
Before deleting, the document is marked ``deleting`` in a transaction so the engine (which
checks the status) stops planning and drops in-flight pages; if the recursive delete is
interrupted, the connection stays ``deleting`` and deleting again finishes the job.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from shared import crypto
from shared.connections import schedule as cron
from shared.connections import validate
from shared.connections.models import (
    Connection,
    ConnectionSchedule,
    ConnectionStatus,
    LastError,
    Owner,
    StreamSelection,
)
from shared.connections.refs import COLLECTION as COLLECTION
from shared.connections.refs import CREDENTIALS_DOC as CREDENTIALS_DOC
from shared.connections.refs import PRIVATE as PRIVATE
from shared.connections.refs import connection_ref as connection_ref
from shared.connections.refs import credentials_ref as credentials_ref
from shared.errors import Conflict, NotFound
from shared.store.txn import Contention, run_transaction

if TYPE_CHECKING:
    from google.cloud.firestore import Client, DocumentReference, DocumentSnapshot, Transaction

    from shared.store.wire import Stored
    from shared.vendors.connector import Connector

T = TypeVar("T")

#: every envelope under private/, all rewrapped by a key rotation and bound to the connection
#: id: the credentials, and the webhook secrets (shared.webhooks.secrets)
ENVELOPE_DOCS = (CREDENTIALS_DOC, "webhook")
#: Firestore retries a contended transaction this many times
#: statuses the engine may plan runs for (the others wait for a person)
#: (degraded: its breaker is open; the run's chunks wait out the cool-down, then probe)
SCHEDULABLE = (ConnectionStatus.connected, ConnectionStatus.degraded)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(vendor: str) -> str:
    return f"{vendor}-{secrets.token_hex(6)}"


StoreContention = Contention  # the store-wide contention error (shared.store.txn)


def _not_found(connection_id: str) -> NotFound:
    return NotFound(f"No connection {connection_id!r}.", code="connection_not_found")


def _document(connection: Connection) -> dict[str, Any]:
    data = connection.model_dump(mode="python")
    data["status"] = connection.status.value
    return data


def from_snapshot(snapshot: DocumentSnapshot) -> Connection | None:
    """The Connection a document holds, or None for engine-only documents (legacy
    per-vendor state written before connections were records)."""
    data = snapshot.to_dict() if snapshot.exists else None
    if not data or "vendor" not in data or "owner" not in data:
        return None
    return Connection.model_validate({**data, "id": snapshot.id})


def _read(snapshot: DocumentSnapshot, connection_id: str) -> Connection:
    connection = from_snapshot(snapshot)
    if connection is None:
        raise _not_found(connection_id)
    return connection


# -- credentials --------------------------------------------------------------------------


def _credentials_fields(
    keyring: crypto.Keyring, connection_id: str, creds: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    envelope = crypto.encrypt(keyring, creds, aad=connection_id)
    return {**envelope.to_dict(), "updated_at": now}


def envelope_of(data: Mapping[str, Any]) -> crypto.Envelope:
    return crypto.Envelope.from_dict(data)


def save_credentials(
    db: Client,
    keyring: crypto.Keyring,
    connection_id: str,
    creds: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> None:
    """Encrypt under the current KEK with a fresh data key; replaces what was stored
    (and any refresh lock: new credentials make an in-flight refresh moot)."""
    now = now or utcnow()
    batch = db.batch()
    batch.set(credentials_ref(db, connection_id), _credentials_fields(keyring, connection_id, creds, now))
    batch.update(connection_ref(db, connection_id), {"has_credentials": True, "updated_at": now})
    batch.commit()


def decrypt_snapshot(
    keyring: crypto.Keyring, connection_id: str, snapshot: DocumentSnapshot | Stored
) -> dict[str, Any]:
    data = snapshot.to_dict() if snapshot.exists else None
    if not data:
        raise NotFound(f"Connection {connection_id!r} has no credentials.", code="credentials_missing")
    return crypto.decrypt(keyring, envelope_of(data), aad=connection_id)


def load_credentials(db: Client, keyring: crypto.Keyring, connection_id: str) -> dict[str, Any]:
    """The decrypted credentials (only ever in memory), or 404 credentials_missing;
    crypto.UnknownKeyId / DecryptionFailed when the envelope cannot be opened."""
    return decrypt_snapshot(keyring, connection_id, credentials_ref(db, connection_id).get())


def rewrap_credentials(db: Client, keyring: crypto.Keyring) -> int:
    """Rewrap every stored data key under the keyring's current KEK; the ciphertexts are
    untouched. Returns how many were rewrapped (already-current ones are skipped, so running
    it twice is harmless). Each rewrap is a transaction, so a concurrent token refresh
    (which writes a whole new envelope) is never overwritten with stale data."""

    def rewrap_one(transaction: Transaction, ref: DocumentReference, connection_id: str) -> bool:
        snapshot = ref.get(transaction=transaction)
        data = snapshot.to_dict() if snapshot.exists else None
        if not data or data.get("kid") == keyring.current_kid:
            return False
        rewrapped = crypto.rewrap(keyring, envelope_of(data), aad=connection_id)
        transaction.update(
            ref, {"kid": rewrapped.kid, "wrapped_key": rewrapped.wrapped_key, "rewrapped_at": utcnow()}
        )
        return True

    count = 0
    for doc in db.collection(COLLECTION).list_documents():
        for name in ENVELOPE_DOCS:
            ref = connection_ref(db, doc.id).collection(PRIVATE).document(name)
            if run_transaction(db, functools.partial(rewrap_one, ref=ref, connection_id=doc.id), rounds=3):
                count += 1
    return count


# -- create, read, list ---------------------------------------------------------------------


def create_connection(
    db: Client,
    keyring: crypto.Keyring,
    connector: Connector,
    *,
    environment: str,
    name: str,
    owner: Owner,
    config: Mapping[str, Any],
    credentials: Mapping[str, Any],
    selection: StreamSelection | None = None,
    schedule: ConnectionSchedule | None = None,
    created_by: str | None = None,
    now: datetime | None = None,
) -> Connection:
    """Validate against the connector, then write the connection and its encrypted
    credentials in one batch. OAuth connections start `pending` (their install flow
    fetches the tokens); the others start `connected` with their first run scheduled."""
    from shared.vendors.auth import OAuth2

    now = now or utcnow()
    validate.ownership(connector, owner.kind)
    checked_config = validate.config(connector, config, environment=environment)
    checked_creds = validate.credentials(connector, credentials)
    chosen = validate.selection(connector, selection or StreamSelection())
    status = ConnectionStatus.pending if isinstance(connector.auth, OAuth2) else ConnectionStatus.connected
    connection = Connection(
        id=new_id(connector.vendor),
        vendor=connector.vendor,
        owner=owner,
        name=name,
        config=checked_config,
        selection=chosen,
        schedule=schedule,
        status=status,
        # a new connection's first import starts at the scheduler's next tick, not at its
        # first scheduled time (which may be a day away)
        next_run_at=now if status in SCHEDULABLE else None,
        created_at=now,
        created_by=created_by,
        updated_at=now,
        has_credentials=True,
    )
    batch = db.batch()
    batch.create(connection_ref(db, connection.id), _document(connection))
    batch.set(
        credentials_ref(db, connection.id), _credentials_fields(keyring, connection.id, checked_creds, now)
    )
    batch.commit()
    return connection


def get_connection(db: Client, connection_id: str) -> Connection:
    return _read(connection_ref(db, connection_id).get(), connection_id)


def list_connections(
    db: Client, *, vendor: str | None = None, owner_kind: str | None = None, owner_uid: str | None = None
) -> list[Connection]:
    """Oldest first. Filters are applied here rather than in the query: an organization has
    tens of connections, and this needs no composite index per combination."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query: Any = db.collection(COLLECTION)
    if vendor is not None:
        query = query.where(filter=FieldFilter("vendor", "==", vendor))
    found = []
    for snapshot in query.stream():
        connection = from_snapshot(snapshot)
        if connection is None:
            continue
        if owner_kind is not None and connection.owner.kind != owner_kind:
            continue
        if owner_uid is not None and connection.owner.uid != owner_uid:
            continue
        found.append(connection)
    return sorted(found, key=lambda c: (c.created_at, c.id))


# -- changes --------------------------------------------------------------------------------


def _mutate(
    db: Client,
    connection_id: str,
    change: Callable[[Connection, dict[str, Any]], dict[str, Any]],
    *,
    credentials: dict[str, Any] | None = None,
) -> Connection:
    """Read-check-write in a transaction: `change(current, raw)` returns the fields to update
    (or raises); `credentials` (envelope fields) are replaced in the same transaction.
    A connection being deleted is gone as far as changes go."""
    ref = connection_ref(db, connection_id)

    def step(transaction: Transaction) -> Connection:
        snapshot = ref.get(transaction=transaction)
        current = _read(snapshot, connection_id)
        if current.status is ConnectionStatus.deleting:
            raise _not_found(connection_id)
        fields = change(current, snapshot.to_dict() or {})
        if fields:
            transaction.update(ref, fields)
        if credentials is not None:
            transaction.set(credentials_ref(db, connection_id), credentials)
        return Connection.model_validate({**_document(current), **fields})

    return run_transaction(db, step)


def update_connection(
    db: Client,
    keyring: crypto.Keyring | None,
    connector: Connector,
    connection_id: str,
    changes: Mapping[str, Any],
    *,
    environment: str,
    now: datetime | None = None,
) -> Connection:
    """Apply `changes` (any of name, config, selection, schedule, credentials; a schedule of
    None means the connector's default; the keyring is needed only for credentials).
    Config and credentials are replaced whole, not merged, and validated as at create. New credentials of an OAuth connection mean a new
    install (status pending); of another kind, they clear needs_reauth."""
    from shared.vendors.auth import OAuth2

    now = now or utcnow()
    fields: dict[str, Any] = {}
    if "name" in changes:
        fields["name"] = changes["name"]
    if "config" in changes:
        fields["config"] = validate.config(connector, changes["config"], environment=environment)
    if "selection" in changes:
        fields["selection"] = validate.selection(
            connector, changes["selection"] or StreamSelection()
        ).model_dump()
    envelope_fields = None
    if "credentials" in changes:
        creds = validate.credentials(connector, changes["credentials"])
        if keyring is None:
            raise crypto.CredentialsKeysMissing()
        envelope_fields = _credentials_fields(keyring, connection_id, creds, now)

    def change(current: Connection, raw: dict[str, Any]) -> dict[str, Any]:
        update = {**fields, "updated_at": now}
        status = current.status
        if envelope_fields is not None:
            update["has_credentials"] = True
            update["last_error"] = None
            if isinstance(connector.auth, OAuth2):
                # new client credentials: the old tokens are theirs no more, install again
                if status is ConnectionStatus.disabled:
                    update["paused_from"] = ConnectionStatus.pending.value
                else:
                    status = ConnectionStatus.pending
            elif status is ConnectionStatus.disabled:
                update["paused_from"] = ConnectionStatus.connected.value
            elif status in (ConnectionStatus.needs_reauth, ConnectionStatus.pending):
                status = ConnectionStatus.connected
        schedule = current.schedule
        if "schedule" in changes:
            schedule = changes["schedule"]
            update["schedule"] = schedule.model_dump() if schedule is not None else None
        if status is not current.status:
            update["status"] = status.value
        if status in SCHEDULABLE:
            if "schedule" in changes or status is not current.status:
                update["next_run_at"] = cron.next_run_for(schedule, connector, now)
        else:
            update["next_run_at"] = None
        return update

    return _mutate(db, connection_id, change, credentials=envelope_fields)


def pause_connection(db: Client, connection_id: str, *, now: datetime | None = None) -> Connection:
    """Any status -> disabled (not scheduled, Sync Now refused). Pausing twice is a no-op.
    The status it had is kept so that resume can restore a pending install or needs_reauth."""
    now = now or utcnow()

    def change(current: Connection, raw: dict[str, Any]) -> dict[str, Any]:
        if current.status is ConnectionStatus.disabled:
            return {}
        return {
            "status": ConnectionStatus.disabled.value,
            "paused_from": current.status.value,
            "next_run_at": None,
            "updated_at": now,
        }

    return _mutate(db, connection_id, change)


def resume_connection(
    db: Client, connector: Connector, connection_id: str, *, now: datetime | None = None
) -> Connection:
    """disabled -> the status it was paused from (degraded resumes as connected: a person
    looked at it), with the next run computed from now. Resuming a running one is a no-op."""
    now = now or utcnow()

    def change(current: Connection, raw: dict[str, Any]) -> dict[str, Any]:
        if current.status is not ConnectionStatus.disabled:
            return {}
        previous = raw.get("paused_from") or ConnectionStatus.connected.value
        status = ConnectionStatus(previous)
        if status in (ConnectionStatus.degraded, ConnectionStatus.disabled, ConnectionStatus.deleting):
            status = ConnectionStatus.connected
        return {
            "status": status.value,
            "paused_from": None,
            "next_run_at": cron.next_run_for(current.schedule, connector, now)
            if status in SCHEDULABLE
            else None,
            "updated_at": now,
        }

    return _mutate(db, connection_id, change)


def set_status(
    db: Client,
    connection_id: str,
    status: ConnectionStatus,
    *,
    error: LastError | None = None,
    next_run_at: datetime | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """For the OAuth flow and the engine: a status change with its error (None clears it)."""
    fields: dict[str, Any] = {
        "status": status.value,
        "last_error": error.model_dump() if error else None,
        "updated_at": utcnow(),
        **(extra or {}),
    }
    if status in SCHEDULABLE:
        if next_run_at is not None:
            fields["next_run_at"] = next_run_at
    else:
        fields["next_run_at"] = None
    connection_ref(db, connection_id).update(fields)


def keep_allowance(db: Client, connection_id: str, limit: int, remaining: int) -> None:
    """The vendor's allowance as its last answer reported it, kept on the connection (one
    small field write, no transaction: the latest report wins)."""
    connection_ref(db, connection_id).update(
        {"vendor_allowance": {"limit": limit, "remaining": remaining, "at": utcnow()}}
    )


#: deletes to do again once every writer that was in flight at the delete has ended
PURGES = "connection_purges"
#: a writer that read the connection before its delete ends within its function's timeout
#: (sync-worker: 300 s; webhook-worker: 120 s; the rest less); a later one reads no
#: connection and writes nothing
PURGE_AFTER = timedelta(seconds=600)


def delete_connection(db: Client, connection_id: str, now: datetime | None = None) -> int:
    """Mark `deleting` (so the engine stops), then hard-delete the document and every
    subcollection (records, runs, dead letters, credentials). Returns documents deleted.

    A page or webhook in flight that read the connection before the mark still writes its
    records after the delete; the same transaction books a purge (`purge_deleted`, on the
    scheduler's tick) that deletes the connection's path again once such writers are done."""
    ref = connection_ref(db, connection_id)
    now = now or utcnow()

    def mark(transaction: Transaction) -> None:
        snapshot = ref.get(transaction=transaction)
        _read(snapshot, connection_id)
        transaction.update(ref, {"status": ConnectionStatus.deleting.value, "next_run_at": None, "updated_at": now})
        transaction.set(db.collection(PURGES).document(connection_id), {"purge_at": now + PURGE_AFTER, "deleted_at": now})

    run_transaction(db, mark)
    return int(db.recursive_delete(ref))


def purge_deleted(db: Client, now: datetime | None = None, *, limit: int = 100) -> int:
    """Delete again the paths of connections deleted at least PURGE_AFTER ago: the records
    their in-flight writers left behind (customer data we were asked to delete). Returns
    documents deleted; a purge that fails stays booked for the next tick."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    now = now or utcnow()
    due = db.collection(PURGES).where(filter=FieldFilter("purge_at", "<=", now)).limit(limit)
    deleted = 0
    for booked in due.stream():
        deleted += int(db.recursive_delete(connection_ref(db, booked.id)))
        booked.reference.delete()
    return deleted


# -- scheduling -----------------------------------------------------------------------------


def due_connections(db: Client, now: datetime, *, limit: int = 500) -> list[Connection]:
    """Connected connections whose next_run_at has come (the scheduler entry plans these,
    each after mark_planned said it won the race). Uses the (status, next_run_at) index."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        db.collection(COLLECTION)
        .where(filter=FieldFilter("status", "in", [s.value for s in SCHEDULABLE]))
        .where(filter=FieldFilter("next_run_at", "<=", now))
        .order_by("next_run_at")
        .limit(limit)
    )
    return [c for c in (from_snapshot(s) for s in query.stream()) if c is not None]


def mark_planned(
    db: Client, connection_id: str, now: datetime, connector: Connector | None = None
) -> datetime | None:
    """Advance next_run_at past `now` if the connection is still due; return the new time,
    or None when it is no longer due (another scheduler instance advanced it first, or it
    was paused): the caller plans a run only on a non-None answer, so two overlapping
    scheduler invocations never plan the same connection twice."""
    ref = connection_ref(db, connection_id)

    def step(transaction: Transaction) -> datetime | None:
        current = from_snapshot(ref.get(transaction=transaction))
        if current is None or current.status not in SCHEDULABLE:
            return None
        if current.next_run_at is None or current.next_run_at > now:
            return None
        found = connector
        if found is None:
            from shared.sync.registry import connector as registered

            found = registered(current.vendor)
        following = cron.next_run_for(current.schedule, found, now)
        transaction.update(ref, {"next_run_at": following})
        return following

    return run_transaction(db, step)


def require_status(connection: Connection, *allowed: ConnectionStatus) -> None:
    if connection.status not in allowed:
        raise Conflict(
            f"Connection {connection.id} is {connection.status.value}.",
            code="connection_state",
            details={"status": connection.status.value, "allowed": [s.value for s in allowed]},
        )
