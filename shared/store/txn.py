"""Firestore transactions with contention as a type.

The client library gives up on a contended transaction by raising a plain ValueError whose
cause is the last Aborted; callers must not match on its message. `run_transaction` turns
exactly that case into `Contention`, and leaves every other error alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from google.cloud.firestore import Client, Transaction

T = TypeVar("T")

DEFAULT_ATTEMPTS = 10


class Contention(Exception):
    """A transaction kept losing to concurrent writers and gave up (retry later)."""


def is_contention(exc: BaseException) -> bool:
    from google.api_core import exceptions as gexc

    return isinstance(exc, Contention) or (isinstance(exc, ValueError) and isinstance(exc.__cause__, gexc.Aborted))


def run_transaction(db: Client, fn: Callable[[Transaction], T], attempts: int = DEFAULT_ATTEMPTS) -> T:
    """Run fn in a read-write transaction, retried on contention; Contention when spent."""
    from google.cloud import firestore

    try:
        return firestore.transactional(fn)(db.transaction(max_attempts=attempts))
    except ValueError as exc:
        if is_contention(exc):
            raise Contention(f"transaction gave up after {attempts} attempts") from exc
        raise
