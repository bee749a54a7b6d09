"""Cursor (starting_after) and page-number pagination over a sorted result.

Cursors are keyset cursors like Intercom's (base64 of a JSON array: the last record's sort
key and the next page number). Resuming bisects on the key, so a page boundary survives
records being updated, created or deleted between requests: nothing before the cursor is
repeated and nothing after it is skipped.
"""

from __future__ import annotations

import base64
import binascii
import json
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class CursorError(ValueError):
    """starting_after could not be decoded (the app answers 400)."""


@dataclass(frozen=True)
class Ordered:
    """Records sorted ascending by `keys` (parallel lists)."""

    items: Sequence[Any]
    keys: Sequence[tuple[Any, ...]]


def encode_cursor(key: tuple[Any, ...], page: int) -> str:
    raw = json.dumps([list(key), page], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str) -> tuple[tuple[Any, ...], int]:
    try:
        key, page = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
        if not isinstance(key, list) or not isinstance(page, int) or page < 1:
            raise ValueError("bad cursor")
        return tuple(key), page
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise CursorError(f"starting_after {cursor!r} is not a valid cursor") from exc


def cursor_page(result: Ordered, per_page: int, starting_after: str | None, descending: bool = False
                ) -> tuple[list[Any], dict[str, Any]]:
    """One page of `result` and Intercom's cursor `pages` object."""
    n = len(result.items)
    page = 1
    start = 0
    if starting_after:
        key, page = decode_cursor(starting_after)
        try:
            start = n - bisect_left(result.keys, key) if descending else bisect_right(result.keys, key)
        except TypeError as exc:
            raise CursorError("starting_after does not belong to this query") from exc
    stop = min(n, start + per_page)
    if descending:
        chosen = [result.items[n - 1 - j] for j in range(start, stop)]
        last_key = result.keys[n - stop] if stop > start else None
    else:
        chosen = list(result.items[start:stop])
        last_key = result.keys[stop - 1] if stop > start else None
    pages: dict[str, Any] = {"type": "pages", "page": page, "per_page": per_page,
                             "total_pages": -(-n // per_page)}
    if stop < n and last_key is not None:
        pages["next"] = {"page": page + 1, "starting_after": encode_cursor(last_key, page + 1)}
    return chosen, pages


def number_page(items: Sequence[Any], page: int, per_page: int) -> tuple[list[Any], dict[str, Any]]:
    """Page-number pagination (companies): `next` is null on and after the last page."""
    total_pages = -(-len(items) // per_page)
    chosen = list(items[(page - 1) * per_page: page * per_page])
    pages: dict[str, Any] = {"type": "pages", "page": page, "per_page": per_page, "total_pages": total_pages}
    if page >= total_pages:
        pages["next"] = None
    return chosen, pages
