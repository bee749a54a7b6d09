"""ETags: of one record (its content hash, `_sync.hash`, which is also the version an action
names in If-Match) and of a list answer (derived from the stream's change marker).

A list ETag is a hash of: the caller (uid and role), the connection, the stream, the
request's query parameters as sent, the deployed version and the change marker. It is only
ever issued after the full access check, and it binds the caller: so when a poll's
If-None-Match equals the ETag recomputed from the marker alone, the caller already passed
the access check for exactly this answer and nothing in the stream changed since, and the
function answers 304 after that one read. A change of role, of the code or of any record
changes the ETag, and the next poll takes the full path (access check and query).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from shared.errors import BadRequest, PreconditionRequired


class InvalidIfMatch(BadRequest):
    default_code = "invalid_if_match"
    default_message = "If-Match is not an ETag of this API."


def format_etag(version: str) -> str:
    return f'"{version}"'


def record_etag(doc: dict[str, Any]) -> str:
    return format_etag(str((doc.get("_sync") or {}).get("hash", "")))


def list_etag(
    *,
    uid: str,
    role: str | None,
    connection_id: str,
    stream: str,
    params: Iterable[tuple[str, str]],
    marker: str,
) -> str:
    from shared import __version__

    payload = json.dumps(
        [uid, role or "", connection_id, stream, sorted(params), __version__, marker], separators=(",", ":")
    )
    return format_etag("l-" + hashlib.sha256(payload.encode()).hexdigest()[:40])


def none_match(header: str | None, etag: str) -> bool:
    """True when If-None-Match names `etag` (weak comparison, as RFC 9110 asks) or is '*'."""
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    for candidate in header.split(","):
        value = candidate.strip()
        if value == "*" or value.removeprefix("W/") == wanted:
            return True
    return False


def parse_if_match(header: str | None) -> str | None:
    """The version an If-Match header names (strong, single), or None when absent."""
    if header is None or not header.strip():
        return None
    value = header.strip()
    if value == "*":
        raise PreconditionRequired("If-Match must name the record's ETag; '*' is not accepted here.")
    if value.startswith("W/"):
        raise InvalidIfMatch("If-Match needs a strong ETag.")
    if "," in value:
        raise InvalidIfMatch("If-Match must name exactly one ETag.")
    value = value.strip('"')
    if not value or len(value) > 128:
        raise InvalidIfMatch()
    return value
