"""The credit ledger in Firestore. Every change of a balance is one transaction that reads
the account, writes the new balance and appends its ledger entry, so the entries always
sum to the balance and concurrent spends never overdraw (a spend that lost the race is
re-run on the new balance, and refused if it no longer fits).

    credits/{org}                   included, purchased, included_per_period, billing_day,
                                    period_start (YYYY-MM-DD), updated_at
    credits/{org}/ledger/{id}       kind, delta_included, delta_purchased, included_after,
                                    purchased_after, at, by, reason, idempotency_key
                                    (ids sort by time: newest last)
    credits/{org}/spend_keys/{h}    a spend's Idempotency-Key (h = sha256(key)): its
                                    fingerprint and ledger entry, written with the spend

Spending takes included credits first, then purchased ones. The daily reset (reset_due)
sets included credits back to the plan's allowance on each organization's billing date;
purchased credits carry over.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from shared.credits.billing import next_period_start, period_start
from shared.credits.models import Balance, CreditsView, EntryKind, LedgerEntry, SpendResult
from shared.errors import Conflict, Unprocessable
from shared.store.txn import run_transaction

if TYPE_CHECKING:
    from google.cloud.firestore import Client, DocumentReference, Transaction

COLLECTION = "credits"
#: the deployment's organization (one per deployment; the store is keyed for more)
ORG = "org"
#: 50 spends racing for one account: the client's immediate retries and then paced rounds
SPEND_ATTEMPTS = 10
SPEND_ROUNDS = 8


class InsufficientCredits(Conflict):
    default_code = "insufficient_credits"
    default_message = "Not enough credits for this spend."


class IdempotencyKeyReused(Unprocessable):
    default_code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was used with another spend."


def utcnow() -> datetime:
    return datetime.now(UTC)


def account_ref(db: Client, org_id: str) -> DocumentReference:
    ref: DocumentReference = db.collection(COLLECTION).document(org_id)
    return ref


def new_entry_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}"


def balance_of(org_id: str, data: dict[str, Any], today: date | None = None) -> Balance:
    included, purchased = int(data.get("included", 0)), int(data.get("purchased", 0))
    day = int(data.get("billing_day", 1))
    start = data.get("period_start")
    return Balance(org_id=org_id, included=included, purchased=purchased, total=included + purchased,
                   included_per_period=int(data.get("included_per_period", 0)), billing_day=day,
                   period_start=date.fromisoformat(start) if start else None,
                   next_reset=next_period_start(today or utcnow().date(), day) if start else None)


def _entry(transaction: Transaction, ref: DocumentReference, data: dict[str, Any], kind: EntryKind, now: datetime,
           *, delta_included: int = 0, delta_purchased: int = 0, by: str | None = None, reason: str | None = None,
           idempotency_key: str | None = None, extra: dict[str, Any] | None = None) -> LedgerEntry:
    """Apply the change to the account and append its entry (inside the transaction)."""
    included = int(data.get("included", 0)) + delta_included
    purchased = int(data.get("purchased", 0)) + delta_purchased
    entry = LedgerEntry(id=new_entry_id(now), kind=kind, delta_included=delta_included, delta_purchased=delta_purchased,
                        included_after=included, purchased_after=purchased, at=now, by=by, reason=reason,
                        idempotency_key=idempotency_key)
    transaction.set(ref.collection("ledger").document(entry.id), entry.model_dump(mode="python", exclude={"id"}))
    transaction.set(ref, {**(extra or {}), "included": included, "purchased": purchased, "updated_at": now}, merge=True)
    data.update({**(extra or {}), "included": included, "purchased": purchased})
    return entry


def _fingerprint(amount: int, reason: str, by: str | None) -> str:
    return hashlib.sha256(json.dumps([amount, reason, by]).encode()).hexdigest()


def spend(db: Client, org_id: str, amount: int, reason: str, *, by: str | None = None,
          idempotency_key: str | None = None, now: datetime | None = None) -> SpendResult:
    """Take `amount` credits, included first. InsufficientCredits when the balance is
    short (nothing changes). With an Idempotency-Key, a retry of the same spend gets the
    first answer back (replayed) and spends nothing; the key with another spend is a 422."""
    ref = account_ref(db, org_id)
    key_ref = ref.collection("spend_keys").document(hashlib.sha256(idempotency_key.encode()).hexdigest()) \
        if idempotency_key else None
    fingerprint = _fingerprint(amount, reason, by)

    def txn(transaction: Transaction) -> SpendResult:
        at = now or utcnow()
        data = ref.get(transaction=transaction).to_dict() or {}
        if key_ref is not None:
            seen = key_ref.get(transaction=transaction).to_dict()
            if seen is not None:
                if seen.get("fingerprint") != fingerprint:
                    raise IdempotencyKeyReused()
                stored = ref.collection("ledger").document(seen["entry_id"]).get(transaction=transaction).to_dict() or {}
                entry = LedgerEntry.model_validate({**stored, "id": seen["entry_id"]})
                return SpendResult(entry=entry, balance=balance_of(org_id, data), replayed=True)
        included, purchased = int(data.get("included", 0)), int(data.get("purchased", 0))
        if amount > included + purchased:
            raise InsufficientCredits(details={"requested": amount, "available": included + purchased})
        from_included = min(amount, included)
        entry = _entry(transaction, ref, data, "spend", at, delta_included=-from_included,
                       delta_purchased=-(amount - from_included), by=by, reason=reason, idempotency_key=idempotency_key)
        if key_ref is not None:
            transaction.set(key_ref, {"fingerprint": fingerprint, "entry_id": entry.id, "at": at})
        return SpendResult(entry=entry, balance=balance_of(org_id, data))

    result: SpendResult = run_transaction(db, txn, SPEND_ATTEMPTS, rounds=SPEND_ROUNDS)
    return result


def add(db: Client, org_id: str, kind: EntryKind, amount: int, *, by: str | None = None, reason: str | None = None,
        now: datetime | None = None) -> LedgerEntry:
    """A purchase (credits that carry over) or a grant (included credits for this period)."""
    ref = account_ref(db, org_id)

    def txn(transaction: Transaction) -> LedgerEntry:
        data = ref.get(transaction=transaction).to_dict() or {}
        at = now or utcnow()
        purchase = kind == "purchase"
        return _entry(transaction, ref, data, kind, at, by=by, reason=reason,
                      delta_included=0 if purchase else amount, delta_purchased=amount if purchase else 0)

    entry: LedgerEntry = run_transaction(db, txn, SPEND_ATTEMPTS, rounds=SPEND_ROUNDS)
    return entry


def set_plan(db: Client, org_id: str, included_per_period: int, billing_day: int, *, by: str | None = None,
             now: datetime | None = None) -> Balance:
    """The organization's allowance and billing day. A new account starts its first period
    today with the full allowance (a `plan` entry); later changes apply from the next reset."""
    ref = account_ref(db, org_id)

    def txn(transaction: Transaction) -> Balance:
        snap = ref.get(transaction=transaction)
        data = snap.to_dict() or {}
        at = now or utcnow()
        plan: dict[str, Any] = {"included_per_period": included_per_period, "billing_day": billing_day}
        if not data.get("period_start"):
            plan["period_start"] = period_start(at.date(), billing_day).isoformat()
            _entry(transaction, ref, data, "plan", at, delta_included=included_per_period - int(data.get("included", 0)),
                   by=by, reason="plan started", extra=plan)
        else:
            transaction.update(ref, {**plan, "updated_at": at})
            data.update(plan)
        return balance_of(org_id, data, at.date())

    balance: Balance = run_transaction(db, txn)
    return balance


def reset_if_due(db: Client, org_id: str, today: date, now: datetime | None = None) -> bool:
    """Included credits back to the allowance when the account's current period began after
    its stored one (its billing date came). Idempotent: a second call the same day is a no-op."""
    ref = account_ref(db, org_id)

    def txn(transaction: Transaction) -> bool:
        data = ref.get(transaction=transaction).to_dict() or {}
        if not data.get("period_start"):
            return False
        start = period_start(today, int(data.get("billing_day", 1)))
        if start <= date.fromisoformat(data["period_start"]):
            return False
        _entry(transaction, ref, data, "reset", now or utcnow(),
               delta_included=int(data.get("included_per_period", 0)) - int(data.get("included", 0)),
               reason=f"billing period from {start.isoformat()}", extra={"period_start": start.isoformat()})
        return True

    done: bool = run_transaction(db, txn)
    return done


def reset_due(db: Client, today: date | None = None) -> tuple[list[str], int]:
    """The daily job: reset every account whose billing date came. (reset ids, checked)."""
    today = today or utcnow().date()
    reset, checked = [], 0
    for snap in db.collection(COLLECTION).select(["period_start"]).stream():
        checked += 1
        if reset_if_due(db, snap.id, today):
            reset.append(snap.id)
    return reset, checked


def view(db: Client, org_id: str, limit: int = 50, before: str | None = None) -> CreditsView:
    """The balance and the ledger, newest entry first."""
    from google.cloud.firestore import FieldPath, Query

    ref = account_ref(db, org_id)
    query = ref.collection("ledger").order_by(FieldPath.document_id(), direction=Query.DESCENDING)
    if before:
        query = query.start_after({FieldPath.document_id(): ref.collection("ledger").document(before)})
    snaps = list(query.limit(limit + 1).stream())
    entries = [LedgerEntry.model_validate({**(s.to_dict() or {}), "id": s.id}) for s in snaps[:limit]]
    return CreditsView(balance=balance_of(org_id, ref.get().to_dict() or {}), ledger=entries,
                       next_before=entries[-1].id if len(snaps) > limit and entries else None)
