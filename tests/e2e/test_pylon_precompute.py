"""The dashboard's precompute is incremental: after a run that changed a few issues, only
the buckets they touch (their months before and after, their accounts) and the months of
open issues are rebuilt; an unrelated month's document is not rewritten, and the result
equals a full recomputation. Engine and sandbox Pylon on the real Firestore emulator."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.sandboxes.pylon.records import Sizes
from shared.vendors.pylon import precompute
from tests.conftest import PROJECT
from tests.e2e.pylon_world import pylon_world

SIZES = Sizes(issues=90, accounts=12, agents=4, teams=2, seed=5)


@pytest.fixture()
def db(clean_firestore: str) -> Any:
    from google.cloud import firestore

    return firestore.Client(project=PROJECT)


def dashboard(db: Any, connection_id: str) -> dict[str, Any]:
    coll = db.collection("connections").document(connection_id).collection(precompute.COLLECTION)
    return {s.id: s for s in coll.stream()}


def comparable(snaps: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for doc_id, snap in snaps.items():
        data = dict(snap.to_dict() or {})
        data.pop("computed_at", None)
        data.pop("changes_through", None)
        data.pop("probe", None)
        out[doc_id] = data
    return out


def test_a_changed_issue_rebuilds_only_its_buckets_and_equals_a_full_recomputation(db: Any) -> None:
    w = pylon_world(db, SIZES)
    assert w.sync().status.value == "succeeded"  # the first refresh is a full one
    before = dashboard(db, w.connection_id)
    summary = before["summary"].to_dict()
    assert summary["issues"] == SIZES.issues and summary["changes_through"] > 0
    oldest = w.sandbox.store.issues[0]
    assert oldest.resolved_at is not None
    resolved_month = f"m-{precompute.day_of(oldest.resolved_at)[:7]}"
    touched_months = {precompute.day_of(oldest.created_at)[:7], resolved_month[2:]}
    open_months = {precompute.day_of(float(i["created_at"]))[:7] for i in summary["open_issues"]}

    unrelated = {f"m-{m}" for m in summary["months"]} - {f"m-{m}" for m in touched_months | open_months}
    assert unrelated, "the data set must have months no change touches"
    for doc_id in unrelated:  # a field no computation writes: a rewrite would drop it
        before[doc_id].reference.update({"probe": 1})
    before = dashboard(db, w.connection_id)

    w.sandbox.store.touch(1)  # the oldest issue: a new customer message, reopened
    assert w.sync().status.value == "succeeded"  # its after-run refresh is incremental
    after = dashboard(db, w.connection_id)
    rewritten = {k for k in after if k in before and after[k].update_time != before[k].update_time}
    assert all(after[k].get("probe") == 1 for k in unrelated)
    assert not rewritten & unrelated, rewritten & unrelated
    # the month it was resolved in loses that resolution (a document whose content is the
    # same, like its creation month's here, may keep its update time: Firestore skips no-op writes)
    assert resolved_month in rewritten and {"summary", "accounts"} <= rewritten
    state = after["summary"].to_dict()
    assert oldest.id in {i["id"] for i in state["open_issues"]} and state["open"] == summary["open"] + 1

    # the same instant computed incrementally and from scratch gives the same documents
    now = state["computed_at"] + 60
    precompute.refresh(db, w.connection_id, now=now)
    incremental = comparable(dashboard(db, w.connection_id))
    precompute.refresh(db, w.connection_id, now=now, full=True)
    assert incremental == comparable(dashboard(db, w.connection_id))
