"""Firestore transactions with contention as a type.

The client library gives up on a contended transaction by raising a plain ValueError whose
cause is the last Aborted; callers must not match on its message. `run_transaction` turns
exactly that case into `Contention` (a 503: a retry can help) and leaves every other error
alone.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from shared.errors import ServiceUnavailable

if TYPE_CHECKING:
    from google.cloud.firestore import Client, Transaction

T = TypeVar("T")

DEFAULT_ATTEMPTS = 10


class Contention(ServiceUnavailable):
    """A transaction kept losing to concurrent writers of the same documents (retry later)."""

    default_code = "store_contention"
    default_message = "The data is being changed concurrently; retry."


def is_contention(exc: BaseException) -> bool:
    from google.api_core import exceptions as gexc

    return isinstance(exc, (Contention, gexc.Aborted)) or (
        isinstance(exc, ValueError) and isinstance(exc.__cause__, gexc.Aborted)
    )


def run_transaction(
    db: Client,
    fn: Callable[[Transaction], T],
    attempts: int = DEFAULT_ATTEMPTS,
    *,
    rounds: int = 3,
    backoff_s: float = 0.05,
) -> T:
    """fn in a read-write transaction: the client retries an aborted commit `attempts`
    times at once; `rounds` more tries follow a short jittered pause each (for hot
    documents, where immediate retries keep colliding). Contention when all are spent."""
    from google.api_core import exceptions as gexc
    from google.cloud import firestore

    step = firestore.transactional(fn)
    for round_ in range(rounds):
        try:
            result: T = step(db.transaction(max_attempts=attempts))
            return result
        except (ValueError, gexc.Aborted) as exc:
            if not is_contention(exc):
                raise
        if round_ + 1 < rounds:
            time.sleep(backoff_s * (round_ + 1) * (0.5 + random.random()))
    raise Contention(f"transaction gave up after {rounds} x {attempts} attempts")
