"""The store's upsert on the real Firestore emulator: a batch of records nobody stored yet is
written without reading first (a first import), and that shortcut never costs a guarantee:
a record stored meanwhile, older or newer, is found and decided as ever."""

from __future__ import annotations

from typing import Any

import pytest

from shared.store import records
from shared.store.records import Incoming, Provenance, content_hash, upsert
from tests.conftest import PROJECT
from tests.e2e.read_counter import ReadCounter, count_reads

CONNECTION = "conn-upsert"


@pytest.fixture()
def db(clean_firestore: str) -> Any:
    from google.cloud import firestore

    records._fresh.clear()
    return firestore.Client(project=PROJECT)


@pytest.fixture()
def reads(db: Any) -> ReadCounter:
    return count_reads(db)


def things(keys: range, version: float = 1_700_000_000, name: str = "v") -> list[Incoming]:
    return [Incoming(str(k), {"id": str(k), "name": f"{name}{k}"}, version=version,
                     digest=content_hash({"id": str(k), "name": f"{name}{k}"})) for k in keys]


def stored(db: Any, key: str) -> dict[str, Any]:
    return records.get_record(db, CONNECTION, "things", key, include_deleted=True) or {}


def sync(unit: str) -> Provenance:
    return Provenance("sync", "run-1", unit=unit)


def test_after_a_batch_that_found_nothing_stored_the_next_is_written_without_a_read(db: Any, reads: ReadCounter) -> None:
    first = upsert(db, CONNECTION, "things", things(range(0, 5)), sync("c/0"))
    assert sorted(first.written) == ["0", "1", "2", "3", "4"]
    assert reads.reads == 5  # looked up: nothing was known of this stream yet
    reads.reset()
    second = upsert(db, CONNECTION, "things", things(range(5, 10)), sync("c/1"))
    assert sorted(second.written) == ["5", "6", "7", "8", "9"] and reads.reads == 0
    doc = stored(db, "7")
    assert doc["name"] == "v7" and doc["_deleted"] is False and doc["_expires_at"] is None
    assert doc["_sync"]["hash"] == content_hash({"id": "7", "name": "v7"})
    assert doc["_sync"]["version"] == 1_700_000_000 and doc["_sync"]["source"] == sync("c/1").as_dict()
    assert doc["_sync"]["committed_at"] is not None


def test_a_newer_version_stored_meanwhile_is_never_overwritten(db: Any) -> None:
    upsert(db, CONNECTION, "things", things(range(0, 3)), sync("c/0"))  # nothing stored: blind from now on
    webhook = Provenance("webhook", "delivery-1")
    upsert(db, CONNECTION, "things", things(range(4, 5), version=1_700_000_900, name="newer"), webhook)
    result = upsert(db, CONNECTION, "things", things(range(3, 7)), sync("c/1"))  # 4 is stored, newer
    assert sorted(result.written) == ["3", "5", "6"] and result.stale == 1
    assert stored(db, "4")["name"] == "newer4" and stored(db, "4")["_sync"]["source"]["kind"] == "webhook"
    assert stored(db, "5")["name"] == "v5"


def test_an_unchanged_record_stored_meanwhile_is_not_rewritten(db: Any, reads: ReadCounter) -> None:
    upsert(db, CONNECTION, "things", things(range(0, 2)), sync("c/0"))
    upsert(db, CONNECTION, "things", things(range(2, 3)), Provenance("webhook", "d1"))
    before = stored(db, "2")["_sync"]
    result = upsert(db, CONNECTION, "things", things(range(2, 4)), sync("c/1"))
    assert result.written == ["3"] and result.unchanged == 1
    assert stored(db, "2")["_sync"] == before
    reads.reset()
    upsert(db, CONNECTION, "things", things(range(4, 6)), sync("c/2"))
    assert reads.reads == 2  # the last batch found a record stored: this one is read first


def test_a_batch_cut_into_commits_that_fails_halfway_counts_its_own_first_commit(db: Any, monkeypatch: Any) -> None:
    upsert(db, CONNECTION, "things", things(range(0, 1)), sync("c/0"))
    upsert(db, CONNECTION, "things", things(range(5, 6), version=1_700_000_900, name="newer"), Provenance("webhook", "d"))
    monkeypatch.setattr(records, "BATCH_LIMIT", 2)
    records._fresh.add((CONNECTION, "things"))  # as if the last batch had found nothing
    result = upsert(db, CONNECTION, "things", things(range(1, 7)), sync("c/1"))  # commits 1-2, 3-4, then 5 exists
    assert sorted(result.written) == ["1", "2", "3", "4", "6"] and result.stale == 1 and result.unchanged == 0
    assert stored(db, "5")["name"] == "newer5"
    assert all(stored(db, k)["_sync"]["source"] == sync("c/1").as_dict() for k in "12346")
