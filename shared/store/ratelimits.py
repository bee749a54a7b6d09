"""Shared rate budgets in Firestore: a GCRA (generic cell rate algorithm) cell per budget,
so every process and every chunk of a connection draws on one budget; and a daily
allowance's count, booked ahead of each call.

    rate_budgets/{key}   tat: the theoretical arrival time of the next request (unix s)
    rate_budgets/{key}   day, limit, remaining: a daily allowance (key ends in ":daily")

Booking takes no transaction and no read: one commit of two server-side transforms on the
budget's document, `tat = max(tat, now)` then `tat += interval`, applied atomically in
order, and the commit answers the new `tat`. Concurrent bookers are serialized by the
server instead of locking the document and aborting each other (a read-write transaction
per request stalled runs under concurrency: 503 Contention on the emulator, #16), so every
booking succeeds at once and gets a slot of its own. A slot once booked is spent (like a
request that went out), so callers that give up after booking only make the budget more
conservative, never exceeded; a booking that would wait too long is given back when no one
booked after it (an update under the commit's update-time precondition).
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.cloud.firestore import Client


def _doc_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:40]


def _number(value: Any) -> float:
    """A transform's result (a Firestore Value): double or integer."""
    return float(value.double_value or value.integer_value)


def reserve(db: Client, key: str, *, per_second: float, burst: int = 1, max_wait_s: float = 60.0,
            now: float | None = None, count: int = 1) -> float | None:
    """Book `count` consecutive requests on budget `key`; the seconds to wait before sending
    the first (the others follow one interval apart), or None when that wait would exceed
    max_wait_s (the booking is given back then, if no one booked after it: hand the work back)."""
    from google.api_core.exceptions import FailedPrecondition, NotFound
    from google.cloud import firestore

    interval = 1.0 / per_second
    tolerance = interval * max(0, burst - 1)
    at = time.time() if now is None else now
    ref = db.collection("rate_budgets").document(_doc_id(key))
    batch = db.batch()
    batch.set(ref, {"tat": firestore.Maximum(at), "key": key[:200]}, merge=True)
    batch.set(ref, {"tat": firestore.Increment(interval * count)}, merge=True)
    booked = batch.commit()[-1]
    start = _number(booked.transform_results[0]) - interval * count
    wait = max(0.0, start - tolerance - at)
    if wait <= max_wait_s:
        return wait
    try:
        ref.update({"tat": start}, option=db.write_option(last_update_time=booked.update_time))
    except (FailedPrecondition, NotFound):
        pass  # someone booked after us: our slots stay spent (conservative, never over budget)
    return None


def hold(db: Client, key: str, until: float) -> None:
    """No request on budget `key` before `until` (unix s): the vendor asked us to pause."""
    from google.cloud import firestore

    db.collection("rate_budgets").document(_doc_id(key)).set({"tat": firestore.Maximum(until), "key": key[:200]},
                                                             merge=True)


def booked_until(db: Client, key: str) -> float:
    """The budget's theoretical arrival time (unix s): slots are booked up to it (0: none)."""
    return float((db.collection("rate_budgets").document(_doc_id(key)).get().to_dict() or {}).get("tat") or 0.0)


def spend_daily(db: Client, key: str, *, cost: int, reserve_share: float, day: str) -> bool:
    """Book `cost` of today's allowance: False (nothing booked) when it would leave less than
    the reserve, `reserve_share` of the day's limit (0 for a live call, which may spend the
    reserve). A new day starts from the last known limit; a budget never reported lets the
    call go (its answer will say).

    No transaction: every task of a connection books the same document at once, and
    transactions on one document queue behind each other's locks (on the emulator for a
    minute). Spending is a server-side increment of today's counter; a booking that went
    below the reserve is given back by the opposite increment."""
    from google.cloud import firestore

    ref = db.collection("rate_budgets").document(_doc_id(key))
    data = ref.get().to_dict() or {}
    limit = int(data.get("limit") or -1)
    known = data.get("remaining") if data.get("day") == day else (limit if limit > 0 else None)
    if known is None:
        return True  # nothing known yet today: the answer will say
    counter = f"spent_{day.replace('-', '')}"
    booked = db.batch()
    booked.set(ref, {counter: firestore.Increment(cost)}, merge=True)
    spent = _number(booked.commit()[-1].transform_results[0])
    floor = int(limit * reserve_share) if limit > 0 else 0
    if int(known) - spent < floor:
        ref.set({counter: firestore.Increment(-cost)}, merge=True)
        return False
    return True


def observe_daily(db: Client, key: str, *, limit: int, remaining: int, day: str) -> None:
    """What the vendor just reported replaces our count (other tools spend it too): today's
    counter starts again from this figure, and earlier days' counters are dropped."""
    db.collection("rate_budgets").document(_doc_id(key)).set(
        {"day": day, "limit": limit, "remaining": remaining, "key": key[:200]})
