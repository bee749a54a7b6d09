"""The content hash: the same content gives the same hash, any change another one, and
content that cannot be stored faithfully is refused (the record is dead-lettered alone)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from shared.store.records import content_hash

DOC = {"id": "1", "name": "Ada", "n": 3, "x": 0.5, "ok": True, "none": None,
       "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "raw": {"tags": ["a", {"b": [1, 2]}]}}


def test_same_content_same_hash_any_change_another() -> None:
    assert content_hash(DOC) == content_hash({**DOC})
    assert len(content_hash(DOC)) == 64
    for changed in ({**DOC, "n": 4}, {**DOC, "n": "3"}, {**DOC, "x": 0.25}, {**DOC, "none": ""},
                    {**DOC, "at": datetime(2026, 1, 2, 3, 4, 6, tzinfo=timezone.utc)},
                    {**DOC, "raw": {"tags": ["a", {"b": [2, 1]}]}}, {**DOC, "extra": None}):
        assert content_hash(changed) != content_hash(DOC)


def test_nan_infinity_and_sets_are_refused_but_their_names_as_text_are_not() -> None:
    for bad in ({"x": float("nan")}, {"x": [float("inf")]}, {"tags": {"a", "b"}}):
        with pytest.raises((TypeError, ValueError)):
            content_hash(bad)
    assert content_hash({"name": "NaN Infinity"}) != content_hash({"name": "NaN"})
