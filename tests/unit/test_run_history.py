"""A run as the sync history shows it: type, processed, updated, failed, start, end,
status and error are derived from what the engine records, for every vendor."""

from __future__ import annotations

from datetime import datetime, timezone

from shared.sync.models import Counts, Run, RunError, StreamRun

AT = datetime(2026, 1, 2, tzinfo=timezone.utc)


def run(**changes: object) -> Run:
    return Run.model_validate({"run_id": "r1", "connection_id": "c1", "vendor": "acme", "trigger": "manual",
                               "status": "succeeded", "created_at": AT, "started_at": AT, "finished_at": AT,
                               **changes})


def test_the_history_fields_follow_the_counts_streams_and_errors() -> None:
    full = run(streams={"a": StreamRun(mode="full"), "b": StreamRun(mode="full")},
               counts=Counts(fetched=10, written=4, unchanged=5, failed=1))
    shown = full.model_dump(mode="json")
    assert (shown["type"], shown["processed"], shown["updated"], shown["failed"]) == ("full", 10, 4, 1)
    assert shown["started_at"] and shown["finished_at"] and shown["status"] == "succeeded" and shown["error"] is None
    assert run(streams={"a": StreamRun(mode="incremental")}).type == "incremental"
    assert run(streams={"a": StreamRun(mode="incremental"), "b": StreamRun(mode="full")}).type == "mixed"
    errors = [RunError(stream="persons", code="vendor_rejected", message="No.", at=AT),
              RunError(stream="deals", code="x", message="y", at=AT)]
    assert run(errors=errors).error == "persons: vendor_rejected: No. (+1 more)"


def test_the_derived_fields_are_never_stored_and_a_stored_run_reads_back() -> None:
    stored = run(counts=Counts(fetched=3, written=3)).model_dump(mode="python", exclude=set(Run.DERIVED))
    assert not set(Run.DERIVED) & set(stored)
    assert Run.model_validate({**stored, "processed": 99}).processed == 3  # a stale stored copy is ignored
