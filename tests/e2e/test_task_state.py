"""A task's own reads and writes, on the real Firestore emulator (#16: worker CPU per record).

A task read its chain, page, lease and run in four round trips and its connection and
credentials in two more (decrypting them every time), and a chain of one page (a child
batch, a one-page listing) took a commit, five reads and another commit to checkpoint and
close. Now: one batch get, a connection context reused while its documents are unchanged,
and one commit for a one-page chain's checkpoint and close, under preconditions that keep a
replay from changing anything.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from shared.connections.refs import connection_ref
from shared.store import wire
from shared.sync import state
from shared.sync.models import Counts
from tests.conftest import PROJECT
from tests.e2e.test_engine import PagedThings, item, world


@pytest.fixture()
def db(clean_firestore: str) -> Any:
    from google.cloud import firestore

    return firestore.Client(project=PROJECT)


def _planned(db: Any) -> tuple[Any, Any, Any]:
    w = world(db, PagedThings([item(1)]))
    run = w.plan(mode="full")
    task = next(t for t in w.enqueued if t.partition == "all")
    return w, run, task


def _stream(db: Any, w: Any, run: Any) -> dict[str, Any]:
    return state.stream_ref(db, w.connection_id, run.run_id, "things").get().to_dict() or {}


def test_one_load_reads_the_chain_page_lease_run_and_extra_documents(db: Any) -> None:
    w, run, task = _planned(db)
    extra = db.collection("elsewhere").document("x")
    extra.set({"v": 1})
    chain = state.load_chain(db, task, [extra])
    assert chain is not None and chain.lease_held and not chain.committed
    assert chain.run_created == run.created_at
    assert chain.update_time == state.chain_ref(db, w.connection_id, run.run_id, task.chain_id).get().update_time
    assert chain.docs[extra.path].to_dict() == {"v": 1}


def test_a_one_page_chain_closes_with_its_checkpoint_in_one_commit_and_a_replay_changes_nothing(db: Any) -> None:
    w, run, task = _planned(db)
    chain = state.load_chain(db, task)
    assert chain is not None
    page = state.PageResult(Counts(fetched=1, written=1), None, 1_700_000_001.0)
    folded = state.commit_only_page(db, task, page, chain, lookback_s=0)
    assert folded is not None and folded.committed
    assert not folded.run_may_be_complete  # the stream's sweep chain is still open: no run read
    stored = state.chain_ref(db, w.connection_id, run.run_id, task.chain_id).get().to_dict() or {}
    assert stored["done"] and stored["committed"] == 1 and stored["last_page"] == 0
    assert stored["counts"]["written"] == 1 and stored["max_cursor"] == 1_700_000_001.0
    stream = _stream(db, w, run)
    assert stream["chains_closed"] == 1 and stream["counts"]["written"] == 1 and stream["pages"] == 1
    assert state.hwms(db, w.connection_id)["things"] == 1_700_000_001.0
    # the same commit again (a retry of the task that did it): nothing changes
    again = state.commit_only_page(db, task, page, chain, lookback_s=0)
    assert again is None or not again.committed
    assert not state.commit_page(db, task, page)
    assert _stream(db, w, run)["chains_closed"] == 1
    assert (state.run_ref(db, w.connection_id, run.run_id).get().to_dict() or {})["chains_closed"] == 1
    assert w.run(task).status == "replay"
    assert _stream(db, w, run)["counts"]["written"] == 1


def test_a_chain_changed_since_it_was_read_is_left_to_the_two_step_close(db: Any) -> None:
    w, run, task = _planned(db)
    chain = state.load_chain(db, task)
    assert chain is not None
    state.touch_chain(db, task)  # e.g. a deferral bumped it meanwhile
    page = state.PageResult(Counts(fetched=1, written=1), None, None)
    assert state.commit_only_page(db, task, page, chain, lookback_s=0) is None
    assert not state.page_ref(db, task, 0).get().exists  # all or nothing
    assert _stream(db, w, run)["chains_closed"] == 0


@pytest.mark.parametrize("why", ["lease_expiring", "more_pages", "later_page"])
def test_only_a_certain_lease_and_a_chain_of_this_one_page_fold(db: Any, why: str) -> None:
    w, run, task = _planned(db)
    chain = state.load_chain(db, task)
    assert chain is not None
    page = state.PageResult(Counts(fetched=1), None, None)
    if why == "lease_expiring":  # the run doctor may fail the run before the commit lands
        soon = datetime.now(timezone.utc) + timedelta(seconds=state.LEASE_SAFE_S - 60)
        chain = state.ChainState(**{**chain.__dict__, "lease": {**chain.lease, "expires_at": soon}})
    elif why == "more_pages":
        page = state.PageResult(Counts(fetched=1), {"after": "x"}, None)
    else:
        task = task.model_copy(update={"page": 1})
    assert state.commit_only_page(db, task, page, chain, lookback_s=0) is None
    assert _stream(db, w, run)["chains_closed"] == 0


def test_a_close_does_not_read_a_lease_it_certainly_holds_but_does_one_it_may_have_lost(db: Any) -> None:
    w, run, task = _planned(db)
    state.commit_page(db, task, state.PageResult(Counts(fetched=1), None, None))
    conn = connection_ref(db, w.connection_id)
    lease = state.lease_of(conn.get().to_dict() or {})
    conn.update({"lease": None})  # lost (the run doctor failed the run) after the task read it
    stale = {**lease, "expires_at": datetime.now(timezone.utc) + timedelta(seconds=30)}
    assert not state.close_chain_if_complete(db, task, lookback_s=0, run_created=run.created_at, lease=stale)
    assert _stream(db, w, run)["chains_closed"] == 0


def test_the_context_reader_decrypts_once_per_credentials_version(db: Any, settings_env: dict[str, str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from shared import crypto
    from shared.config import get_settings
    from shared.connections import store
    from shared.errors import NotFound
    from shared.sync import runtime
    from tests.conftest import TEST_CREDENTIALS_KEYS
    from tests.e2e.serving_world import create_connection

    decrypted: list[str] = []
    real_decrypt = crypto.decrypt
    monkeypatch.setattr(crypto, "decrypt", lambda *a, **k: decrypted.append("x") or real_decrypt(*a, **k))
    create_connection(db, "ctx-1", "intercom", base_url="https://api.intercom.io", credentials={"access_token": "one"})
    reader = runtime.context_reader(db, get_settings())

    def build() -> Any:
        refs = [connection_ref(db, "ctx-1"), *reader.refs("ctx-1")]
        return reader.build("ctx-1", wire.read(db, refs, None, by_path=True))

    def token(context: Any) -> str:
        with context.open_client() as client:
            return str(client.auth.current().headers["Authorization"])

    first = build()
    assert token(first) == "Bearer one" and token(first) == "Bearer one"
    assert build() is first and token(build()) == "Bearer one"
    assert len(decrypted) == 1
    store.save_credentials(db, crypto.Keyring.parse(TEST_CREDENTIALS_KEYS), "ctx-1", {"access_token": "two"})
    assert token(build()) == "Bearer two" and len(decrypted) == 2
    connection_ref(db, "ctx-1").update({"status": "deleting"})
    with pytest.raises(NotFound):
        build()


def test_the_commit_that_closes_the_last_chain_knows_the_run_may_be_complete(db: Any) -> None:
    from tests.e2e.test_run_contention import OTHERS

    w = world(db, PagedThings([item(1)]), OTHERS)
    run = w.plan(mode="full")
    (task,) = w.enqueued
    chain = state.load_chain(db, task)
    assert chain is not None
    folded = state.commit_only_page(db, task, state.PageResult(Counts(fetched=1), None, None), chain, lookback_s=0)
    assert folded is not None and folded.committed and folded.run_may_be_complete
    assert w.run(task).status == "replay"  # finishes what the first attempt began
    assert state.get_run(db, w.connection_id, run.run_id).status.value == "succeeded"
