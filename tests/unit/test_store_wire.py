"""The raw-protobuf writes (shared/store/wire.py) are the library's own, message for message."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from google.api_core.datetime_helpers import DatetimeWithNanoseconds
from google.cloud.firestore import SERVER_TIMESTAMP, GeoPoint
from google.cloud.firestore_v1 import _helpers
from google.cloud.firestore_v1.field_path import FieldPath

from shared.store import wire

PATH = "projects/p/databases/(default)/documents/connections/c1/contacts/42"
AT = datetime(2026, 11, 23, 10, 0, 1, 123456, tzinfo=timezone.utc)


def sample() -> dict[str, Any]:
    return {
        "name": "Ada",
        "age": 36,
        "score": 0.5,
        "vip": True,
        "none": None,
        "empty_map": {},
        "empty_list": [],
        "tags": ["a", 1, 2.5, None, {"nested": [True, {"deep": "x"}]}, []],
        "when": AT,
        "big": 2**62,
        "neg": -7,
        "blob": b"\x00\x01",
        "where": GeoPoint(1.5, 2.5),
        "custom-attr": {"with.dot": 1, "with space": "y"},
        "tuple": ("x", "y"),
        "naive": datetime(2020, 1, 2, 3, 4, 5, 6),
        "before_epoch": datetime(1960, 5, 6, 7, 8, 9, 999999, tzinfo=timezone(timedelta(hours=-5))),
        "nanos": DatetimeWithNanoseconds(2026, 1, 1, 0, 0, 0, nanosecond=987654321, tzinfo=timezone.utc),
        "raw": {"type": "contact", "custom_attributes": {"plan": "pro", "seats": 3}, "list": [[1, 2], [3]]},
        "_sync": {"hash": "abc", "version": 1700000000.5, "source": {"kind": "sync", "id": "r", "unit": "c/0"},
                  "synced_at": AT},
        "_deleted": False,
        "_expires_at": None,
    }


def with_server_time(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "_sync": {**doc["_sync"], "committed_at": SERVER_TIMESTAMP}}


def test_create_is_the_librarys_create() -> None:
    doc = sample()
    (expected,) = _helpers.pbs_for_create(PATH, with_server_time(doc))
    assert wire.create_write(PATH, doc, ["_sync.committed_at"]) == expected._pb


def test_update_is_the_librarys_update_with_last_update_time() -> None:
    doc = sample()
    read_at = DatetimeWithNanoseconds(2026, 11, 23, 10, 0, 2, nanosecond=123456789, tzinfo=timezone.utc)
    fields = {FieldPath(name).to_api_repr(): value for name, value in with_server_time(doc).items()}
    option = _helpers.LastUpdateOption(read_at)
    (expected,) = _helpers.pbs_for_update(PATH, fields, option)
    assert wire.update_write(PATH, doc, read_at, ["_sync.committed_at"]) == expected._pb


def test_update_with_a_plain_datetime_precondition() -> None:
    doc = {"a": 1}
    read_at = AT + timedelta(seconds=1)
    (expected,) = _helpers.pbs_for_update(PATH, doc, _helpers.LastUpdateOption(read_at))
    assert wire.update_write(PATH, doc, read_at) == expected._pb


def test_tombstone_create_without_content() -> None:
    doc = {"_sync": {"hash": "deleted", "deleted_at": AT}, "_deleted": True, "_expires_at": AT + timedelta(days=30)}
    (expected,) = _helpers.pbs_for_create(PATH, with_server_time(doc))
    assert wire.create_write(PATH, doc, ["_sync.committed_at"]) == expected._pb


@pytest.mark.parametrize("bad", [2**64, object(), {"": 1}, {3: "not a name"}])
def test_what_the_library_refuses_is_refused(bad: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        _helpers.pbs_for_create(PATH, {"x": bad})
    with pytest.raises((ValueError, TypeError)):
        wire.create_write(PATH, {"x": bad})


def test_a_set_is_refused_not_stored_in_an_order_that_changes_between_processes() -> None:
    with pytest.raises(TypeError, match="stable order"):
        wire.create_write(PATH, {"deep": [{"tags": {"a", "b"}}]})


def test_raw_batch_writes_are_the_librarys_update_and_merge() -> None:
    from unittest.mock import MagicMock

    from google.cloud.firestore_v1.base_client import BaseClient
    from google.cloud.firestore_v1.transforms import ArrayRemove, ArrayUnion, Increment, Maximum, Minimum

    fields = {"counts.fetched": Increment(3), "chains_closed": Increment(1), "last_page": Minimum(0),
              "done": True, "max_cursor": None, "windows.`w1-2`.status": "done", "windows.`w1-2`.max_cursor": 1.5,
              "errors": ArrayUnion([{"code": "x", "at": AT}]), "updated_at": AT}
    (expected,) = _helpers.pbs_for_update(PATH, fields, None)
    ref = MagicMock(_document_path=PATH)
    batch = wire.RawBatch(MagicMock())
    batch.update(ref, fields)
    assert _sorted(batch.writes[0]) == _sorted(expected._pb)
    read_at = DatetimeWithNanoseconds(2026, 11, 23, 10, 0, 2, nanosecond=123456000, tzinfo=timezone.utc)
    option = BaseClient.write_option(last_update_time=read_at)
    (expected,) = _helpers.pbs_for_update(PATH, {"done": True, "n": Increment(1)}, option)
    batch.update(ref, {"done": True, "n": Increment(1)}, last_update_time=read_at)
    assert _sorted(batch.writes[1]) == _sorted(expected._pb)
    merged = {"hwm": Maximum(5.5), "pending_parents": ArrayRemove(["a", "b"]), "run_id": "r", "at": AT}
    (expected,) = _helpers.pbs_for_set_with_merge(PATH, merged, merge=True)
    batch.set(ref, merged, merge=True)
    assert _sorted(batch.writes[2]) == _sorted(expected._pb)
    with pytest.raises(TypeError):
        batch.set(ref, {"nested": {"a": 1}}, merge=True)


def _sorted(write: Any) -> Any:
    """The same write with its mask and transforms in one order (their order means nothing)."""
    copy = type(write)()
    copy.CopyFrom(write)
    paths = sorted(copy.update_mask.field_paths)
    del copy.update_mask.field_paths[:]
    copy.update_mask.field_paths.extend(paths)
    transforms = sorted(copy.update_transforms, key=lambda t: t.field_path)
    kept = [type(t)() for t in transforms]
    for new, old in zip(kept, transforms, strict=True):
        new.CopyFrom(old)
    del copy.update_transforms[:]
    copy.update_transforms.extend(kept)
    return copy


def test_writes_built_in_their_commit_are_the_same_writes_split_at_the_limit() -> None:
    """CommitWrites builds each write inside its commit request (no copy): the same messages
    as built apart, at most `limit` a commit, and a write that could not be built is dropped."""
    from types import SimpleNamespace

    writes = wire.CommitWrites(SimpleNamespace(_database_string="projects/p/databases/(default)"), limit=2)  # type: ignore[arg-type]
    docs = [sample(), {"n": 1}, {"n": 2}]
    for doc in docs:
        wire.create_write(PATH, doc, ["_sync.committed_at"], into=writes.add())
    with pytest.raises(TypeError):
        wire.create_write(PATH, {"bad": {1, 2}}, into=writes.add())
    writes.discard_last()
    requests = writes._requests
    assert len(writes) == 3 and [len(r.writes) for r in requests] == [2, 1]
    built = [w for r in requests for w in r.writes]
    assert built == [wire.create_write(PATH, doc, ["_sync.committed_at"]) for doc in docs]
    assert all(r.database == "projects/p/databases/(default)" for r in requests)
