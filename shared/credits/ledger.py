"""The credit ledger in Firestore. Every change of a balance is one atomic batch that writes
the new balance and appends its ledger entry, committed only if the account is unchanged
since it was read (an update-time precondition), so the entries always sum to the balance
and concurrent spends never overdraw (a spend that lost the race is recomputed on the new
balance, and refused if it no longer fits).

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
from shared.store.queries import InvalidCursor

if TYPE_CHECKING:
    from google.cloud.firestore import Client, DocumentReference

COLLECTION = "credits"
#: the deployment's organization (one per deployment; the store is keyed for more)
ORG = "org"
#: how long one change keeps retrying against concurrent changes before answering 503
MAX_CHANGE_S = 30.0


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


class _Change:
    """What one attempt computed: the account's new fields, its ledger entry, other
    documents to create with it (an Idempotency-Key), and the answer."""

    def __init__(self, answer: Any, fields: dict[str, Any] | None = None, entry: LedgerEntry | None = None,
                 creates: list[tuple[DocumentReference, dict[str, Any]]] | None = None) -> None:
        self.answer, self.fields, self.entry, self.creates = answer, fields, entry, creates or []


def _entry(data: dict[str, Any], kind: EntryKind, now: datetime, *, delta_included: int = 0, delta_purchased: int = 0,
           by: str | None = None, reason: str | None = None, idempotency_key: str | None = None,
           extra: dict[str, Any] | None = None) -> tuple[dict[str, Any], LedgerEntry]:
    """The account's new fields and the entry recording the change."""
    included = int(data.get("included", 0)) + delta_included
    purchased = int(data.get("purchased", 0)) + delta_purchased
    entry = LedgerEntry(id=new_entry_id(now), kind=kind, delta_included=delta_included, delta_purchased=delta_purchased,
                        included_after=included, purchased_after=purchased, at=now, by=by, reason=reason,
                        idempotency_key=idempotency_key)
    fields = {**(extra or {}), "included": included, "purchased": purchased, "updated_at": now}
    data.update(fields)
    return fields, entry


def _apply(db: Client, org_id: str, compute: Any) -> Any:
    """Read the account, compute, and write the account, its entry and any companions in one
    batch that only commits if the account is still as read (an update-time precondition,
    or must-not-exist for a new one). Losing the race re-reads and recomputes. This is
    optimistic concurrency without a transaction's locks: under a burst of spends each
    round lets exactly one through at once, and nobody waits on a lock holder."""
    import random
    import time

    from google.api_core import exceptions as gexc

    from shared.store.txn import Contention

    ref = account_ref(db, org_id)
    deadline = time.monotonic() + MAX_CHANGE_S
    attempt = 0
    while True:
        attempt += 1
        snap = ref.get()
        change: _Change = compute(dict(snap.to_dict() or {}) if snap.exists else {}, utcnow())
        if change.fields is None:
            return change.answer
        batch = db.batch()
        if snap.exists:
            batch.update(ref, change.fields, option=db.write_option(last_update_time=snap.update_time))
        else:
            batch.create(ref, change.fields)
        if change.entry is not None:
            batch.create(ref.collection("ledger").document(change.entry.id),
                         change.entry.model_dump(mode="python", exclude={"id"}))
        for doc, fields in change.creates:
            batch.create(doc, fields)
        try:
            batch.commit()
            return change.answer
        except (gexc.FailedPrecondition, gexc.AlreadyExists, gexc.Aborted, gexc.NotFound):
            if time.monotonic() > deadline:
                raise Contention(f"credits of {org_id} changed concurrently {attempt} times") from None
            time.sleep(random.uniform(0, min(0.2, 0.005 * attempt)))


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

    def compute(data: dict[str, Any], at: datetime) -> _Change:
        at = now or at
        if key_ref is not None:
            seen = key_ref.get().to_dict()
            if seen is not None:
                if seen.get("fingerprint") != fingerprint:
                    raise IdempotencyKeyReused()
                stored = ref.collection("ledger").document(seen["entry_id"]).get().to_dict() or {}
                entry = LedgerEntry.model_validate({**stored, "id": seen["entry_id"]})
                return _Change(SpendResult(entry=entry, balance=balance_of(org_id, data), replayed=True))
        included, purchased = int(data.get("included", 0)), int(data.get("purchased", 0))
        if amount > included + purchased:
            raise InsufficientCredits(details={"requested": amount, "available": included + purchased})
        from_included = min(amount, included)
        fields, entry = _entry(data, "spend", at, delta_included=-from_included, delta_purchased=-(amount - from_included),
                               by=by, reason=reason, idempotency_key=idempotency_key)
        creates = [(key_ref, {"fingerprint": fingerprint, "entry_id": entry.id, "at": at})] if key_ref is not None else []
        return _Change(SpendResult(entry=entry, balance=balance_of(org_id, data)), fields, entry, creates)

    result: SpendResult = _apply(db, org_id, compute)
    return result


def add(db: Client, org_id: str, kind: EntryKind, amount: int, *, by: str | None = None, reason: str | None = None,
        now: datetime | None = None) -> LedgerEntry:
    """A purchase (credits that carry over) or a grant (included credits for this period)."""

    def compute(data: dict[str, Any], at: datetime) -> _Change:
        purchase = kind == "purchase"
        fields, entry = _entry(data, kind, now or at, by=by, reason=reason,
                               delta_included=0 if purchase else amount, delta_purchased=amount if purchase else 0)
        return _Change(entry, fields, entry)

    entry: LedgerEntry = _apply(db, org_id, compute)
    return entry


def set_plan(db: Client, org_id: str, included_per_period: int, billing_day: int, *, by: str | None = None,
             now: datetime | None = None) -> Balance:
    """The organization's allowance and billing day. A new account starts its first period
    today with the full allowance (a `plan` entry); later changes apply from the next reset."""

    def compute(data: dict[str, Any], at: datetime) -> _Change:
        at = now or at
        plan: dict[str, Any] = {"included_per_period": included_per_period, "billing_day": billing_day}
        if data.get("period_start"):
            data.update(plan)
            return _Change(balance_of(org_id, data, at.date()), {**plan, "updated_at": at})
        plan["period_start"] = period_start(at.date(), billing_day).isoformat()
        fields, entry = _entry(data, "plan", at, delta_included=included_per_period - int(data.get("included", 0)),
                               by=by, reason="plan started", extra=plan)
        return _Change(balance_of(org_id, data, at.date()), fields, entry)

    balance: Balance = _apply(db, org_id, compute)
    return balance


def reset_if_due(db: Client, org_id: str, today: date, now: datetime | None = None) -> bool:
    """Included credits back to the allowance when the account's current period began after
    its stored one (its billing date came). Idempotent: a second call the same day is a no-op."""

    def compute(data: dict[str, Any], at: datetime) -> _Change:
        if not data.get("period_start"):
            return _Change(False)
        start = period_start(today, int(data.get("billing_day", 1)))
        if start <= date.fromisoformat(data["period_start"]):
            return _Change(False)
        fields, entry = _entry(data, "reset", now or at,
                               delta_included=int(data.get("included_per_period", 0)) - int(data.get("included", 0)),
                               reason=f"billing period from {start.isoformat()}", extra={"period_start": start.isoformat()})
        return _Change(True, fields, entry)

    done: bool = _apply(db, org_id, compute)
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
    from google.cloud.firestore import Query

    ref = account_ref(db, org_id)
    query = ref.collection("ledger").order_by("at", direction=Query.DESCENDING)
    if before:
        anchor = ref.collection("ledger").document(before).get()
        if not anchor.exists:
            raise InvalidCursor()
        query = query.start_after(anchor)
    snaps = list(query.limit(limit + 1).stream())
    entries = [LedgerEntry.model_validate({**(s.to_dict() or {}), "id": s.id}) for s in snaps[:limit]]
    return CreditsView(balance=balance_of(org_id, ref.get().to_dict() or {}), ledger=entries,
                       next_before=entries[-1].id if len(snaps) > limit and entries else None)
