"""Dispatch for store-booked vendors (#16): a run's first pages that book one budget are
queued one booked slot apart (Pylon's issue windows come due as their slots do, so the child
tasks their pages fan out are served first instead of queueing behind 25 windows), and child
streams have a queue of their own."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest

from shared.sync.planner import first_page_delays, plan_chains
from shared.vendors.intercom.connector import CONNECTOR as INTERCOM
from shared.vendors.intercom.connector import IntercomConfig
from shared.vendors.pylon.connector import CONNECTOR as PYLON
from shared.vendors.pylon.connector import PylonConfig

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


def test_pylon_issue_windows_are_spaced_by_their_booked_rate_and_the_lists_go_at_once() -> None:
    chains = plan_chains(PYLON, {}, "full", NOW).chains
    delays = first_page_delays(PYLON, chains, PylonConfig(), scale=30.0)
    windows = [c.chain_id for c in chains if c.stream == "issues"]
    assert len(windows) == 25
    issues = next(e for e in PYLON.rate_limit.endpoints if e.key == "GET:/issues")
    interval = 1 / issues.booked_per_second(30.0)
    assert [delays[w] for w in windows] == pytest.approx([i * interval for i in range(25)])
    # each list books a budget of its own: first of its kind, at once; sweeps are queued later
    assert {c.stream: delays[c.chain_id] for c in chains if c.stream != "issues" and not c.sweep} == {
        "accounts": 0.0, "users": 0.0, "teams": 0.0}
    assert not any(c.chain_id in delays for c in chains if c.sweep)


def test_an_incremental_run_spaces_its_search_windows_on_the_search_budget() -> None:
    cursors = {"issues": {"hwm": NOW.timestamp() - 70 * 86_400}}
    chains = [c for c in plan_chains(PYLON, cursors, "auto", NOW).chains if c.stream == "issues"]
    assert len(chains) == 3 and all(c.mode == "incremental" for c in chains)
    search = next(e for e in PYLON.rate_limit.endpoints if e.key == "POST:/issues/search")
    delays = first_page_delays(PYLON, chains, PylonConfig())
    assert [delays[c.chain_id] for c in chains] == pytest.approx([0, 1 / search.booked_per_second(), 2 / search.booked_per_second()])


def test_a_queue_paced_vendor_queues_every_first_page_at_once() -> None:
    chains = plan_chains(INTERCOM, {}, "full", NOW).chains
    assert first_page_delays(INTERCOM, chains, IntercomConfig()) == {}


def test_a_per_token_budget_spaces_every_stream_on_the_one_budget() -> None:
    token = dataclasses.replace(PYLON, rate_limit=dataclasses.replace(PYLON.rate_limit, scope="token", endpoints=()))
    chains = [c for c in plan_chains(token, {}, "full", NOW).chains if not c.sweep]
    delays = first_page_delays(token, chains, PylonConfig())
    assert sorted(delays.values()) == pytest.approx([i / token.rate_limit.per_second for i in range(len(chains))])


def test_pylon_child_streams_have_a_queue_of_their_own_and_intercom_none() -> None:
    """Where the store's bookings pace the vendor, child tasks get dispatches of their own,
    so tasks waiting on the parents' budget cannot hold them; where the queue alone paces
    (Intercom), a second queue would double the vendor's rate."""
    from shared.sync.queues import queue_for, queue_specs

    assert queue_for(PYLON, "messages") == "sync-pylon-children"
    assert {queue_for(PYLON, s) for s in ("issues", "accounts", "users", "teams")} == {"sync-pylon"}
    own, children = queue_specs(PYLON)
    assert (own.name, children.name) == ("sync-pylon", "sync-pylon-children")
    assert children.model_dump(exclude={"name"}) == own.model_dump(exclude={"name"})
    assert queue_for(INTERCOM, "conversation_parts") == "sync-intercom"
    assert [q.name for q in queue_specs(INTERCOM)] == ["sync-intercom"]


def test_sync_now_spaces_with_the_connections_config_and_goes_ahead_without_when_it_is_invalid() -> None:
    """The planner builds first requests from the connection's config; one the connector
    refuses (its tasks record why, as before) or a queue-paced vendor is planned unspaced."""
    from types import SimpleNamespace

    from shared.sync.runtime import _config_for_spacing

    settings = SimpleNamespace(environment="production")
    good = SimpleNamespace(config={"base_url": "https://api.usepylon.com"})
    assert isinstance(_config_for_spacing(PYLON, good, settings), PylonConfig)  # type: ignore[arg-type]
    elsewhere = SimpleNamespace(config={"base_url": "https://example.com"})
    assert _config_for_spacing(PYLON, elsewhere, settings) is None  # type: ignore[arg-type]
    assert _config_for_spacing(INTERCOM, SimpleNamespace(config={}), settings) is None  # type: ignore[arg-type]
