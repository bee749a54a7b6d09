"""Shared rate budgets in Firestore: a GCRA (generic cell rate algorithm) cell per budget,
so every process and every chunk of a connection draws on one budget; and a daily
allowance's count, booked ahead of each call.

    rate_budgets/{key}   tat: the theoretical arrival time of the next request (unix s)
    rate_budgets/{key}   day, limit, remaining: a daily allowance (key ends in ":daily")

`reserve` books the next slot and says how long to wait for it; booking is one small
transaction, and a slot once booked is spent (like a request that went out), so callers
that give up after booking only make the budget more conservative, never exceeded.
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING

from shared.store.txn import run_transaction

if TYPE_CHECKING:
    from google.cloud.firestore import Client, Transaction


def _doc_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:40]


def reserve(db: Client, key: str, *, per_second: float, burst: int = 1, max_wait_s: float = 60.0,
            now: float | None = None) -> float | None:
    """Book one request on budget `key`; the seconds to wait before sending it, or None
    when the wait would exceed max_wait_s (nothing is booked then: hand the work back)."""
    interval = 1.0 / per_second
    tolerance = interval * max(0, burst - 1)
    ref = db.collection("rate_budgets").document(_doc_id(key))

    def txn(transaction: Transaction) -> float | None:
        at = time.time() if now is None else now
        tat = float((ref.get(transaction=transaction).to_dict() or {}).get("tat") or 0.0)
        tat = max(tat, at)
        wait = max(0.0, tat - tolerance - at)
        if wait > max_wait_s:
            return None
        transaction.set(ref, {"tat": tat + interval, "key": key[:200]})
        return wait

    return run_transaction(db, txn)


def hold(db: Client, key: str, until: float) -> None:
    """No request on budget `key` before `until` (unix s): the vendor asked us to pause."""
    ref = db.collection("rate_budgets").document(_doc_id(key))

    def txn(transaction: Transaction) -> None:
        tat = float((ref.get(transaction=transaction).to_dict() or {}).get("tat") or 0.0)
        if until > tat:
            transaction.set(ref, {"tat": until, "key": key[:200]})

    run_transaction(db, txn)


def booked_until(db: Client, key: str) -> float:
    """The budget's theoretical arrival time (unix s): slots are booked up to it (0: none)."""
    return float((db.collection("rate_budgets").document(_doc_id(key)).get().to_dict() or {}).get("tat") or 0.0)


def spend_daily(db: Client, key: str, *, cost: int, reserve_share: float, day: str) -> bool:
    """Book `cost` of today's allowance: False (nothing booked) when it would leave less than
    the reserve, `reserve_share` of the day's limit (0 for a live call, which may spend the
    reserve). A new day starts from the last known limit; a budget never reported lets the
    call go (its answer will say)."""
    ref = db.collection("rate_budgets").document(_doc_id(key))

    def txn(transaction: Transaction) -> bool:
        data = ref.get(transaction=transaction).to_dict() or {}
        limit = int(data.get("limit") or -1)
        remaining = data.get("remaining") if data.get("day") == day else (limit if limit > 0 else None)
        if remaining is None:
            return True  # nothing known yet today: the answer will say
        floor = int(limit * reserve_share) if limit > 0 else 0
        if remaining - cost < floor:
            return False
        transaction.set(ref, {"day": day, "limit": limit, "remaining": int(remaining) - cost, "key": key[:200]})
        return True

    return bool(run_transaction(db, txn))


def observe_daily(db: Client, key: str, *, limit: int, remaining: int, day: str) -> None:
    """What the vendor just reported replaces our count (other tools spend it too)."""
    db.collection("rate_budgets").document(_doc_id(key)).set(
        {"day": day, "limit": limit, "remaining": remaining, "key": key[:200]})
