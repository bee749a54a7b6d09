"""A connection's webhook secrets: encrypted like its credentials, kept beside them.

    connections/{id}/private/webhook    envelope (shared.crypto) of {field: value}, plus the
                                        names of the fields set (not secret) and updated_at

Not inside private/credentials: those are replaced whole by an OAuth refresh that read them
before a secret was saved, which would silently drop the secret. Same keyring, same
associated data (the connection id), and rotated by credentials-rotate with the credentials
(shared.connections.store.rewrap_credentials covers every envelope under private/).

The acknowledgement path reads them on every delivery, so each process keeps them for a
minute (SecretCache); a delivery that fails verification against a cached copy re-reads once
(at most every few seconds per connection), so a rotated secret applies at once and forged
requests cannot make every delivery read the store.
"""

from __future__ import annotations

import secrets as random_secrets
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared import crypto

if TYPE_CHECKING:
    from google.cloud.firestore import Client, DocumentReference

SECRET_DOC = "webhook"
CACHE_TTL_S = 60.0
RELOAD_EVERY_S = 5.0


def secret_ref(db: Client, connection_id: str) -> DocumentReference:
    from shared.connections.refs import PRIVATE, connection_ref

    ref: DocumentReference = connection_ref(db, connection_id).collection(PRIVATE).document(SECRET_DOC)
    return ref


def generate(length: int = 32) -> str:
    """A secret we choose (basic credentials, HMAC keys we register with the vendor)."""
    return random_secrets.token_urlsafe(length)


def save(db: Client, keyring: crypto.Keyring, connection_id: str, values: Mapping[str, str]) -> None:
    """Encrypt and store (replacing what was there)."""
    envelope = crypto.encrypt(keyring, dict(values), aad=connection_id)
    secret_ref(db, connection_id).set(
        {**envelope.to_dict(), "fields": sorted(values), "updated_at": datetime.now(UTC)}
    )
    CACHE.forget(connection_id)


def load(db: Client, keyring: crypto.Keyring, connection_id: str) -> dict[str, str]:
    """The decrypted secrets ({} when none are set)."""
    snapshot = secret_ref(db, connection_id).get()
    data = snapshot.to_dict() if snapshot.exists else None
    if not data:
        return {}
    values = crypto.decrypt(keyring, crypto.Envelope.from_dict(data), aad=connection_id)
    return {str(k): str(v) for k, v in values.items()}


def fields_set(db: Client, connection_id: str) -> list[str]:
    """Which secret fields are set, without decrypting anything."""
    snapshot = secret_ref(db, connection_id).get(["fields"])
    data: dict[str, Any] = (snapshot.to_dict() or {}) if snapshot.exists else {}
    return [str(f) for f in data.get("fields") or []]


class SecretCache:
    """Per-process copies of decrypted secrets, for a minute at most."""

    def __init__(self, ttl_s: float = CACHE_TTL_S, reload_every_s: float = RELOAD_EVERY_S) -> None:
        self.ttl_s = ttl_s
        self.reload_every_s = reload_every_s
        self._entries: dict[str, tuple[float, dict[str, str]]] = {}
        self._lock = threading.Lock()

    def get(self, connection_id: str, loader: Callable[[], dict[str, str]]) -> dict[str, str]:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(connection_id)
        if entry is not None and now - entry[0] < self.ttl_s:
            return entry[1]
        return self._load(connection_id, loader, now)

    def refreshed(self, connection_id: str, loader: Callable[[], dict[str, str]]) -> dict[str, str] | None:
        """A fresh copy after a failed verification, unless one was read very recently
        (then None: the cached copy is current and the delivery really is wrong)."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(connection_id)
        if entry is not None and now - entry[0] < self.reload_every_s:
            return None
        return self._load(connection_id, loader, now)

    def forget(self, connection_id: str) -> None:
        with self._lock:
            self._entries.pop(connection_id, None)

    def _load(self, connection_id: str, loader: Callable[[], dict[str, str]], now: float) -> dict[str, str]:
        values = loader()
        with self._lock:
            self._entries[connection_id] = (now, values)
        return values


CACHE = SecretCache()
