"""Reads of owned records: keyset pages, the change marker, changes since a token.

Every write sets `changed_at` to the commit's server time. The newest `changed_at` of a
collection (one query, limit 1: one document read) is its change marker: a list's ETag is
derived from it, so a poll of an unchanged list is answered 304 after that one read. The
same (changed_at, id) pair, encoded, is the `sync_token` of an answer; `changes_since` with
it returns the records whose `changed_at` is after it, in commit order (deletions are
soft, so they are among them), reading only those. Firestore serializes commits, so a
change that commits after the token was taken always sorts after it: none is missed.
Tokens older than the undo window are refused (410): a purged deletion would be missed.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from shared.crm import store
from shared.crm.kinds import Kind
from shared.crm.models import ListQuery
from shared.errors import BadRequest
from shared.store.queries import DOC_ID, PageQuery, cursor_position, ordered, page_cursor, position_after

if TYPE_CHECKING:
    from google.cloud.firestore import Client

MARKER = "changed_at"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class UnsupportedQuery(BadRequest):
    default_code = "unsupported_query"


class InvalidSyncToken(BadRequest):
    default_code = "invalid_sync_token"
    default_message = "changes_since must be a sync_token this API answered."


@dataclass
class Answer:
    docs: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None
    sync_token: str = ""


def encode_token(at: datetime, doc_id: str) -> str:
    raw = json.dumps({"t": at.astimezone(timezone.utc).isoformat(), "id": doc_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str) -> tuple[datetime, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        at = datetime.fromisoformat(data["t"])
        doc_id = str(data["id"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidSyncToken() from None
    if at.tzinfo is None or len(doc_id) > 64 or "/" in doc_id:
        raise InvalidSyncToken()
    return at, doc_id


def newest(db: Client, kind: Kind) -> tuple[datetime, str]:
    """The change marker: the newest commit in the collection (one document read)."""
    from google.cloud.firestore import Query

    query = store.collection(db, kind).order_by(MARKER, direction=Query.DESCENDING).limit(1).select([MARKER])
    for snap in query.stream():
        at = (snap.to_dict() or {}).get(MARKER)
        if isinstance(at, datetime):
            return at, snap.id
    return EPOCH, ""


def marker_text(marker: tuple[datetime, str]) -> str:
    return f"{marker[0].isoformat()}|{marker[1]}"


def list_spec(kind: Kind, query: ListQuery) -> PageQuery:
    """The query's filters and sort as a PageQuery; unknown filters for this kind are 400s."""
    sent = {name for name in query.model_fields_set if name in ListQuery.model_fields and _is_filter(name)}
    unknown = sorted(n for n in sent if n not in kind.filters and getattr(query, n) is not None)
    if unknown:
        raise UnsupportedQuery(f"{kind.name} cannot be filtered by {', '.join(unknown)}.",
                               details={"filters": sorted(kind.filters)})
    given = [n for n in sent if getattr(query, n) is not None]
    if len(given) > 1:
        raise UnsupportedQuery("Filter by one field at a time.", details={"filters": sorted(kind.filters)})
    sort_name = query.sort or kind.default_sort
    if sort_name not in kind.sorts:
        raise UnsupportedQuery(f"sort must be one of {sorted(kind.sorts)}.", details={"sorts": sorted(kind.sorts)})
    equals: list[tuple[str, Any]] = []
    ranges: list[tuple[str, Any, Any]] = []
    for name in sorted(sent):
        value = getattr(query, name)
        if value is None:
            continue
        stored, how = kind.filters[name]
        if how == "eq":
            if (sort_name, query.order) != kind.filtered_sort:
                raise UnsupportedQuery(
                    f"A {name} filter is served sorted by {kind.filtered_sort[0]} {kind.filtered_sort[1]} only.",
                    details={"sort": kind.filtered_sort[0], "order": kind.filtered_sort[1]})
            equals.append((stored, value))
        else:
            if sort_name not in kind.prefix_sorts:
                raise UnsupportedQuery(f"A {name} prefix sorts by {', '.join(kind.prefix_sorts)} only.")
            prefix = value.lower()
            ranges += [(stored, ">=", prefix), (stored, "<", prefix + "\uf8ff")]
    return PageQuery(
        sort=kind.sorts[sort_name], direction=query.order, equals=tuple(equals), ranges=tuple(ranges), limit=query.limit
    )


def _is_filter(name: str) -> bool:
    return name not in ("limit", "cursor", "sort", "order", "include_deleted", "changes_since")


def page(db: Client, kind: Kind, query: ListQuery, marker: tuple[datetime, str]) -> Answer:
    """One keyset page; deleted records are dropped after the query unless asked for (they
    are few and expire), topped up so a page is full when more exist."""
    spec = list_spec(kind, query)
    position = cursor_position(spec, query.cursor) if query.cursor else None
    answer = Answer(sync_token=encode_token(*marker))
    base = store.collection(db, kind)
    last: tuple[dict[str, Any], str] | None = None
    for _ in range(3):
        want = spec.limit - len(answer.docs)
        snaps = list(ordered(base, spec, position).limit(want + 1).stream())
        for snap in snaps[:want]:
            data = snap.to_dict() or {}
            last = (data, snap.id)
            if query.include_deleted or not data.get("deleted"):
                answer.docs.append(store.public(data))
        if len(snaps) <= want:
            return answer
        assert last is not None
        if len(answer.docs) >= spec.limit:
            break
        position = position_after(spec, *last)
    assert last is not None
    answer.next_cursor = page_cursor(spec, *last)
    return answer


def changes(db: Client, kind: Kind, token: str, limit: int, now: datetime | None = None) -> Answer:
    """What changed after `token`, oldest first (deleted records included, marked)."""
    since, after_id = decode_token(token)
    now = now or datetime.now(timezone.utc)
    if since != EPOCH and now - since > store.UNDO_WINDOW:
        raise store.Gone("This sync_token is older than deleted records are kept; reload the list.",
                         code="sync_token_expired")
    spec = PageQuery(sort=MARKER, direction="asc", limit=limit)
    position = {MARKER: since, DOC_ID: after_id} if after_id else None
    query = ordered(store.collection(db, kind), spec, None)
    if position is not None:
        query = query.start_after(position)
    elif since != EPOCH:
        from google.cloud.firestore import FieldFilter

        query = query.where(filter=FieldFilter(MARKER, ">", since))
    snaps = list(query.limit(limit + 1).stream())
    answer = Answer(sync_token=token)
    for snap in snaps[:limit]:
        data = snap.to_dict() or {}
        answer.docs.append(store.public(data))
        stamp = data.get(MARKER)
        if isinstance(stamp, datetime):
            answer.sync_token = encode_token(stamp, snap.id)
    if len(snaps) > limit:
        answer.next_cursor = answer.sync_token  # more: ask again with the new token
    return answer
