"""Keyset (cursor) and page-number pagination over a sorted result, rendering-free.

Keyset: cursors are opaque (base64 of a JSON array: the last record's sort key and the next
page number). Resuming bisects on the key, so a page boundary survives records being
updated, created or deleted between requests: nothing before the cursor is repeated and
nothing after it is skipped, which is what real keyset APIs promise and what a sync's
checkpoints rely on.

Page numbers: a slice by (page - 1) * per_page of whatever order the vendor lists in,
optionally refusing pages past a cap (Intercom stops companies at 10,000; HubSpot's search
at 10,000). If the order moves between requests, a client paging by number sees duplicates
and gaps, as it would at the vendor.

Both return plain page objects; the vendor renders them into its own envelope.
"""

from __future__ import annotations

import base64
import binascii
import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Key = tuple[Any, ...]


class CursorError(ValueError):
    """A cursor could not be decoded or belongs to another query (vendors answer 400)."""


class PageLimitReached(ValueError):
    """A page-number request starts past the vendor's cap."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"pages past the first {cap} records are refused")
        self.cap = cap


@dataclass(frozen=True)
class Ordered(Generic[T]):
    """Records sorted ascending by `keys` (parallel sequences; keys must be unique)."""

    items: Sequence[T]
    keys: Sequence[Key]

    @classmethod
    def of(cls, records: Iterable[T], key: Callable[[T], Key]) -> Ordered[T]:
        """`records` sorted by `key` (end a key with the record's id to make it unique)."""
        rows = sorted(((key(r), r) for r in records), key=lambda kr: kr[0])
        return cls(items=[r for _, r in rows], keys=[k for k, _ in rows])


def encode_cursor(key: Key, page: int) -> str:
    raw = json.dumps([list(key), page], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str, param: str = "cursor") -> tuple[Key, int]:
    """(sort key, page number) of a cursor; CursorError naming `param` when it is not one."""
    try:
        key, page = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
        if not isinstance(key, list) or not isinstance(page, int) or page < 1:
            raise ValueError("bad cursor")
        return tuple(key), page
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise CursorError(f"{param} {cursor!r} is not a valid cursor") from exc


@dataclass(frozen=True)
class KeysetPage(Generic[T]):
    items: list[T]
    #: 1 for the first page, then counted through the cursors
    page: int
    per_page: int
    #: records in the whole result
    total: int
    #: the cursor of the next page; None on the last one
    next_cursor: str | None

    @property
    def total_pages(self) -> int:
        return -(-self.total // self.per_page)


def keyset_page(result: Ordered[T], per_page: int, after: str | None, *, descending: bool = False,
                param: str = "cursor") -> KeysetPage[T]:
    """The page of `result` after cursor `after` (None: the first page).

    `descending` walks the same ascending result from its end, so one cached sort serves
    both orders. `param` names the cursor in error messages (starting_after, after, ...).
    """
    n = len(result.items)
    page = 1
    start = 0
    if after:
        key, page = decode_cursor(after, param)
        try:
            start = n - bisect_left(result.keys, key) if descending else bisect_right(result.keys, key)
        except TypeError as exc:
            raise CursorError(f"{param} does not belong to this query") from exc
    stop = min(n, start + per_page)
    if descending:
        chosen = [result.items[n - 1 - j] for j in range(start, stop)]
        last_key = result.keys[n - stop] if stop > start else None
    else:
        chosen = list(result.items[start:stop])
        last_key = result.keys[stop - 1] if stop > start else None
    next_cursor = encode_cursor(last_key, page + 1) if stop < n and last_key is not None else None
    return KeysetPage(chosen, page, per_page, n, next_cursor)


@dataclass(frozen=True)
class NumberPage(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    #: records in the whole listing (past the cap too: vendors still count them)
    total: int

    @property
    def total_pages(self) -> int:
        return -(-self.total // self.per_page)

    @property
    def is_last(self) -> bool:
        """On or past the last page (vendors then send no next link)."""
        return self.page >= self.total_pages


def number_page(items: Sequence[T], page: int, per_page: int, cap: int | None = None) -> NumberPage[T]:
    """Page `page` (from 1) of `items`; with `cap`, PageLimitReached for pages starting past
    the first `cap` records, and no page reaches beyond them."""
    start = (page - 1) * per_page
    stop = start + per_page
    if cap is not None:
        if start >= cap and len(items) > cap:
            raise PageLimitReached(cap)
        stop = min(stop, cap)
    return NumberPage(list(items[start:stop]), page, per_page, len(items))
