"""Pylon through the engine on the real Firestore emulator against the sandbox Pylon:
a two-year backfill in 30-day windows stores every issue, account and message once with no
429, the incremental run catches changes to old issues through the search, and a run that
changed nothing costs a handful of requests and no write."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from devtools.sandboxes.pylon.records import Sizes
from shared.connections.refs import connection_ref
from shared.sync import state
from tests.conftest import PROJECT
from tests.e2e.pylon_world import pylon_world

SIZES = Sizes(issues=120, accounts=15, agents=4, teams=2, seed=3)


@pytest.fixture()
def db(clean_firestore: str) -> Any:
    from google.cloud import firestore

    return firestore.Client(project=PROJECT)


def test_a_two_year_backfill_stores_everything_once_within_the_limits(db: Any) -> None:
    w = pylon_world(db, SIZES)
    run = w.sync()
    assert run.status.value == "succeeded", run.errors
    store = w.sandbox.store
    assert sorted(w.docs("issues")) == sorted(i.id for i in store.issues)
    assert len(w.docs("messages")) == sum(len(i.messages) for i in store.issues)
    assert sorted(w.docs("accounts")) == sorted(a["id"] for a in store.accounts)
    assert len(w.docs("users")) == 4 and len(w.docs("teams")) == 2
    assert w.sandbox.stats.snapshot()["rate_limited"] == 0 and not any(store.limits.refused.values())
    windows = [r for r in w.requests if r.method == "GET" and r.url.path == "/issues"]
    assert len(windows) >= 24  # two years in windows of at most 30 days
    for r in windows:
        span = datetime.fromisoformat(r.url.params["end_time"].replace("Z", "+00:00")) - datetime.fromisoformat(
            r.url.params["start_time"].replace("Z", "+00:00"))
        assert span.total_seconds() <= 30 * 86_400
    per_issue = Counter(r.url.path for r in w.requests if r.url.path.endswith("/messages"))
    assert set(per_issue.values()) == {1}  # each issue's messages asked once
    issue = w.docs("issues")[store.issues[0].id]
    assert issue["custom_fields"]["severity"] and issue["tags"]  # custom fields and tags kept
    summary = db.collection("connections").document(w.connection_id).collection("_dashboard").document("summary").get()
    assert summary.exists and summary.get("issues") == SIZES.issues  # the after-run precompute ran


def test_incremental_runs_catch_old_issues_changing_and_a_quiet_run_writes_nothing(db: Any) -> None:
    w = pylon_world(db, SIZES)
    assert w.sync().status.value == "succeeded"
    w.sandbox.store.touch(3)  # three of the oldest issues get a message and reopen
    w.requests.clear()
    run = w.sync()
    assert run.status.value == "succeeded"
    assert not [r for r in w.requests if r.method == "GET" and r.url.path == "/issues"]  # no creation windows
    assert [r.url.path for r in w.requests if r.method == "POST"] == ["/issues/search"]
    oldest = w.sandbox.store.issues[0]
    assert w.docs("issues")[oldest.id]["state"] == "waiting_on_you"
    assert sum(1 for k in w.docs("messages") if k.startswith(oldest.id + ":")) == len(oldest.messages)
    w.requests.clear()
    quiet = w.sync()
    assert quiet.counts.written == 0
    assert not [r for r in w.requests if r.url.path.endswith("/messages")]
    assert len(w.requests) == 4  # search, accounts, users, teams
    assert state.get_run(db, w.connection_id, quiet.run_id).status.value == "succeeded"


def test_a_connection_paused_past_thirty_days_searches_in_windows_pylon_accepts(db: Any) -> None:
    """Pylon caps a time filter on updated_at at 30 days (the sandbox refuses more): a
    connection whose last success is 45 days old searches in two windows, and catches an
    issue updated in the older one."""
    w = pylon_world(db, SIZES)
    assert w.sync().status.value == "succeeded"
    cursor = connection_ref(db, w.connection_id).collection("cursors").document("issues")
    cursor.update({"hwm": cursor.get().get("hwm") - 45 * 86_400})
    w.sandbox.store.touch(1)
    w.requests.clear()
    run = w.sync()
    assert run.status.value == "succeeded", run.errors
    searches = [json.loads(r.content)["filter"] for r in w.requests if r.url.path == "/issues/search"]
    assert len(searches) == 2 and all(f["field"] == "updated_at" and f["operator"] == "time_range" for f in searches)
    for f in searches:
        low, high = (datetime.fromisoformat(v.replace("Z", "+00:00")) for v in f["values"])
        assert 0 < (high - low).total_seconds() <= 30 * 86_400
    assert w.docs("issues")[w.sandbox.store.issues[0].id]["state"] == "waiting_on_you"
