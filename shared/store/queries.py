"""Read-side queries over a record collection: filters, one sort, keyset pagination.

A page query is equality filters + range filters + one sort field. Firestore orders the
results by the sort field, then by every range field not already ordered (it would add
them itself), then by the document id, all in the sort's direction, so that the order is
total and a page can resume strictly after the last document it returned.

The cursor is opaque to callers: base64url JSON of the query's order signature and the
last document's order values. A cursor from another query (other sort or filters), or one
that was tampered with, is refused with 400 invalid_cursor rather than giving a wrong page.

Knows nothing about vendors or HTTP; google.cloud.firestore is imported lazily.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from shared.errors import BadRequest

if TYPE_CHECKING:
    from google.cloud.firestore import Client

Direction = Literal["asc", "desc"]
RangeOp = Literal[">", ">=", "<", "<="]
DOC_ID = "__name__"
CURSOR_VERSION = 1
MAX_CURSOR_CHARS = 2048


class InvalidCursor(BadRequest):
    default_code = "invalid_cursor"
    default_message = "The cursor is not valid for this query."


@dataclass(frozen=True)
class PageQuery:
    """What to read from connections/{connection_id}/{stream}."""

    sort: str
    direction: Direction = "desc"
    equals: tuple[tuple[str, Any], ...] = ()
    ranges: tuple[tuple[str, RangeOp, Any], ...] = ()
    limit: int = 50
    select: tuple[str, ...] | None = None

    @property
    def order_fields(self) -> list[str]:
        """The fields the results are ordered by, the document id excluded."""
        fields = [self.sort]
        for name, _, _ in self.ranges:
            if name not in fields:
                fields.append(name)
        return fields

    def signature(self) -> str:
        """Identifies the ordering and filters: a cursor is valid only for the same query."""
        shape = {
            "o": self.order_fields,
            "d": self.direction,
            "e": [[k, _encode(v)] for k, v in self.equals],
            "r": [[k, op, _encode(v)] for k, op, v in self.ranges],
        }
        payload = json.dumps(shape, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass
class Page:
    docs: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None


# -- cursor encoding -----------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$t": value.astimezone(timezone.utc).isoformat()}
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise TypeError(f"cannot put a {type(value).__name__} in a cursor")


def _decode(value: Any) -> Any:
    """A cursor value as Firestore can take it back: a time that exists in UTC, an integer
    that fits 64 bits, text that is valid UTF-8 (a hand-made cursor can carry anything)."""
    if isinstance(value, dict):
        if set(value) != {"$t"} or not isinstance(value["$t"], str):
            raise ValueError("bad tagged value")
        parsed = datetime.fromisoformat(value["$t"])
        if parsed.tzinfo is None:
            raise ValueError("naive time")
        try:
            return parsed.astimezone(timezone.utc)
        except OverflowError:
            raise ValueError("time out of range") from None
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        raise ValueError("integer out of range")
    if isinstance(value, str):
        value.encode("utf-8")  # UnicodeEncodeError (a ValueError) on a lone surrogate
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise ValueError("bad value")


def _safe_doc_id(doc_id: Any) -> bool:
    """Firestore's rules for a document id; start_after() with any other is an InvalidArgument."""
    if not isinstance(doc_id, str) or not doc_id or doc_id in (".", "..") or "/" in doc_id:
        return False
    if doc_id.startswith("__") and doc_id.endswith("__") and len(doc_id) >= 4:
        return False
    try:
        return len(doc_id.encode("utf-8")) <= 1500
    except UnicodeEncodeError:
        return False


def encode_cursor(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> dict[str, Any]:
    """The cursor's JSON object, or InvalidCursor."""
    if not token or len(token) > MAX_CURSOR_CHARS:
        raise InvalidCursor()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):  # RecursionError: nested too deep
        raise InvalidCursor() from None
    if not isinstance(payload, dict):
        raise InvalidCursor()
    return payload


def page_cursor(query: PageQuery, doc: dict[str, Any], doc_id: str) -> str:
    values = [_encode(doc.get(name)) for name in query.order_fields]
    return encode_cursor({"v": CURSOR_VERSION, "q": query.signature(), "k": values, "id": doc_id})


def cursor_position(query: PageQuery, token: str) -> dict[str, Any]:
    """The start_after values (order field -> value, plus the document id) of a cursor."""
    payload = decode_cursor(token)
    if payload.get("v") != CURSOR_VERSION or payload.get("q") != query.signature():
        raise InvalidCursor("The cursor belongs to another query (sort or filters changed).")
    values, doc_id = payload.get("k"), payload.get("id")
    fields = query.order_fields
    if not isinstance(values, list) or len(values) != len(fields):
        raise InvalidCursor()
    if not _safe_doc_id(doc_id):
        raise InvalidCursor()
    try:
        position = {name: _decode(value) for name, value in zip(fields, values, strict=True)}
    except ValueError:
        raise InvalidCursor() from None
    position[DOC_ID] = doc_id
    return position


# -- queries --------------------------------------------------------------------------------


def _collection(db: Client, connection_id: str, stream: str) -> Any:
    from shared.store.records import records_collection

    return records_collection(db, connection_id, stream)


def _filtered(db: Client, connection_id: str, stream: str, equals: Sequence[tuple[str, Any]],
              ranges: Sequence[tuple[str, str, Any]]) -> Any:
    from google.cloud.firestore import FieldFilter

    query = _collection(db, connection_id, stream)
    for name, value in equals:
        query = query.where(filter=FieldFilter(name, "==", value))
    for name, op, value in ranges:
        query = query.where(filter=FieldFilter(name, op, value))
    return query


def ordered_query(db: Client, connection_id: str, stream: str, spec: PageQuery, position: dict[str, Any] | None) -> Any:
    """The filtered, totally ordered query of `spec`, starting strictly after `position`
    (cursor_position's answer, or {order field: value, DOC_ID: id} of the last document)."""
    return ordered(_collection(db, connection_id, stream), spec, position)


def ordered(base: Any, spec: PageQuery, position: dict[str, Any] | None) -> Any:
    """`spec` over any collection (or query): its filters, a total order, after `position`."""
    from google.cloud.firestore import FieldFilter, Query

    direction = Query.DESCENDING if spec.direction == "desc" else Query.ASCENDING
    query = base
    for name, value in spec.equals:
        query = query.where(filter=FieldFilter(name, "==", value))
    for name, op, value in spec.ranges:
        query = query.where(filter=FieldFilter(name, op, value))
    for name in spec.order_fields:
        query = query.order_by(name, direction=direction)
    query = query.order_by(DOC_ID, direction=direction)
    if spec.select is not None:
        query = query.select(sorted(set(spec.select) | set(spec.order_fields)))
    if position is not None:
        query = query.start_after(position)
    return query


def position_after(spec: PageQuery, doc: dict[str, Any], doc_id: str) -> dict[str, Any]:
    """Where a page that ended with this document resumes (what a cursor decodes to)."""
    return {**{name: doc.get(name) for name in spec.order_fields}, DOC_ID: doc_id}


def page(db: Client, connection_id: str, stream: str, spec: PageQuery, cursor: str | None = None) -> Page:
    """One page of documents (with their `id`) and the cursor of the next, if any."""
    position = cursor_position(spec, cursor) if cursor else None
    query = ordered_query(db, connection_id, stream, spec, position)
    snaps = list(query.limit(spec.limit + 1).stream())
    more = len(snaps) > spec.limit
    snaps = snaps[: spec.limit]
    docs = [{**(snap.to_dict() or {}), "id": (snap.to_dict() or {}).get("id", snap.id)} for snap in snaps]
    next_cursor = None
    if more and snaps:
        next_cursor = page_cursor(spec, snaps[-1].to_dict() or {}, snaps[-1].id)
    return Page(docs=docs, next_cursor=next_cursor)


def get(db: Client, connection_id: str, stream: str, key: str) -> dict[str, Any] | None:
    """One record by its vendor key, or None."""
    from shared.store.records import safe_doc_id

    snap = _collection(db, connection_id, stream).document(safe_doc_id(key)).get()
    return snap.to_dict() if snap.exists else None


def scan(
    db: Client,
    connection_id: str,
    stream: str,
    *,
    equals: Sequence[tuple[str, Any]] = (),
    ranges: Sequence[tuple[str, str, Any]] = (),
    select: Sequence[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Stream every matching document, reading only the `select`ed fields when given."""
    query = _filtered(db, connection_id, stream, equals, ranges)
    if select is not None:
        query = query.select(list(select))
    for snap in query.stream():
        yield snap.to_dict() or {}


def all_docs(db: Client, connection_id: str, stream: str, *, order_by: str | None = None) -> list[dict[str, Any]]:
    """A small collection in full (admins, teams)."""
    query = _collection(db, connection_id, stream)
    if order_by:
        query = query.order_by(order_by)
    return [snap.to_dict() or {} for snap in query.stream()]
