"""One Firestore client per process, created on first use."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.cloud.firestore import Client

    from shared.config import Settings


@lru_cache(maxsize=2)
def firestore_client(project_id: str) -> Client:
    """Honours FIRESTORE_EMULATOR_HOST (the library reads it) for the local stack and tests."""
    from shared.lazy import HEAVY_IMPORTS

    with HEAVY_IMPORTS:
        from google.cloud import firestore

    return firestore.Client(project=project_id)


def db(settings: Settings) -> Client:
    return firestore_client(settings.project_id)


def ping(settings: Settings, timeout_s: float = 3.0) -> bool:
    """True when a trivial read succeeds within the timeout."""
    from google.api_core import exceptions as gexc

    try:
        db(settings).collection("_health").document("ping").get(timeout=timeout_s)
    except (gexc.GoogleAPIError, OSError):
        return False
    return True


def condition(field: str, op: str, value: object) -> Any:
    """A query condition (FieldFilter), for `query.where(filter=condition(...))`."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    return FieldFilter(field, op, value)
