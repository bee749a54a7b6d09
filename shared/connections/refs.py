"""Where a connection's documents live: the one home of the `connections/{id}` path.

Light to import (no client, no cryptography): the engine builds these references on every
task, and the cold-start paths import them without the connection store."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.cloud.firestore import Client, DocumentReference

COLLECTION = "connections"
#: a connection's envelopes (credentials, webhook secrets): never served, never synced
PRIVATE = "private"
CREDENTIALS_DOC = "credentials"


#: built once per process: a DocumentReference checks and splits its path, and a task
#: built about twenty of them, a tenth of its own CPU (#16)
@lru_cache(maxsize=16_384)
def connection_ref(db: Client, connection_id: str) -> DocumentReference:
    ref: DocumentReference = db.collection(COLLECTION).document(connection_id)
    return ref


def credentials_ref(db: Client, connection_id: str) -> DocumentReference:
    ref: DocumentReference = connection_ref(db, connection_id).collection(PRIVATE).document(CREDENTIALS_DOC)
    return ref
