"""A sorted index over a sandbox's records, so a windowed search page costs O(log N + page).

A vendor's search is usually a window on one timestamp, sorted by it, paged by cursor: with
the records kept sorted by (field, id), the window is two bisections and a page a slice, so
a 1,000,000-record sandbox answers as fast as a 1,000-record one. Writes bisect the moved
records out and back in; they replace the lists rather than editing them (copy-on-write),
so a view handed to a request is a consistent snapshot while another thread writes.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Generic, TypeVar, overload

from devtools.sandboxes.kit.paging import Key, Ordered

T = TypeVar("T")


class Window(Sequence[T]):
    """items[lo:hi] of a list nobody edits (an index snapshot), without copying it."""

    __slots__ = ("_items", "_lo", "_hi")

    def __init__(self, items: list[T], lo: int, hi: int) -> None:
        self._items, self._lo, self._hi = items, lo, max(lo, hi)

    def __len__(self) -> int:
        return self._hi - self._lo

    @overload
    def __getitem__(self, i: int) -> T: ...

    @overload
    def __getitem__(self, i: slice) -> list[T]: ...

    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            return self._items[self._lo + start:self._lo + stop:step]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._items[self._lo + i]


class SortedIndex(Generic[T]):
    """Records ascending by `key` (unique: end it with the record's id)."""

    def __init__(self, key: Callable[[T], Key], records: Iterable[T]) -> None:
        self.key = key
        rows = sorted(((key(r), r) for r in records), key=lambda kr: kr[0])
        self.keys: list[Key] = [k for k, _ in rows]
        self.items: list[T] = [r for _, r in rows]

    def __len__(self) -> int:
        return len(self.keys)

    def ordered(self, lo: int = 0, hi: int | None = None) -> Ordered[T]:
        """Positions lo..hi as the Ordered a keyset page reads, sharing the lists."""
        hi = len(self.keys) if hi is None else hi
        return Ordered(items=Window(self.items, lo, hi), keys=Window(self.keys, lo, hi))

    def first(self, test: Callable[[T], bool], lo: int, hi: int) -> int:
        """The first position in lo..hi whose record passes `test`, for a test that fails
        then passes along the order (a lower bound); hi if none passes. log2(hi - lo) tests."""
        while lo < hi:
            mid = (lo + hi) // 2
            if test(self.items[mid]):
                hi = mid
            else:
                lo = mid + 1
        return lo

    def add(self, records: Iterable[T]) -> None:
        self._replace([], list(records))

    def remove(self, records: Iterable[T]) -> None:
        self._replace([self.key(r) for r in records], [])

    @contextmanager
    def changing(self, records: Sequence[T]) -> Iterator[None]:
        """Re-sort `records` after the block edits them (their keys are read before and after)."""
        old = [self.key(r) for r in records]
        yield
        self._replace(old, records)

    def _replace(self, old_keys: Sequence[Key], records: Sequence[Any]) -> None:
        keys, items = list(self.keys), list(self.items)
        for k in old_keys:
            i = bisect_left(keys, k)
            if i < len(keys) and keys[i] == k:
                del keys[i], items[i]
        for r in records:
            k = self.key(r)
            i = bisect_left(keys, k)
            keys.insert(i, k)
            items.insert(i, r)
        self.keys, self.items = keys, items
