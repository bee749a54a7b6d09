"""Conversation timelines: parts in a plausible order (the customer speaks first, admins
answer after), statistics that agree with the parts, nulls where Intercom sends them, and
generation that stays deterministic and fast at 20k conversations."""

from __future__ import annotations

import time
from typing import Any

import pytest

from devtools.sandboxes.intercom import DataConfig
from devtools.sandboxes.intercom.datagen import generate
from devtools.sandboxes.intercom.records import Conversation, Part
from devtools.sandboxes.intercom.timeline import NULLABLE_STATS, all_parts, customer_initiated
from tests.devtools.intercom_inprocess import Sandbox

DATA = DataConfig(contacts=600, companies=50, admins=8, conversations=3_000)


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(DATA)


def _check(v: Conversation, parts: list[Part]) -> None:
    """Every statistic of `v` as Intercom defines it, read off its parts."""
    stats = v.statistics
    times = [p.created_at for p in parts]
    assert times == sorted(times) and all(v.created_at <= t <= v.updated_at for t in times), v.id
    customer = ([v.created_at] if customer_initiated(v) else []) + [
        p.created_at for p in parts if p.part_type == "comment" and p.author_type != "admin"]
    admin = [p.created_at for p in parts if p.part_type == "comment" and p.author_type == "admin"]
    first = customer[0] if customer else None
    assert stats["first_contact_reply_at"] == first
    assert stats["last_contact_reply_at"] == (customer[-1] if customer else None)
    if first is None:
        assert not admin, f"{v.id}: an admin replied before the customer said anything"
    else:
        assert all(t >= first for t in admin), f"{v.id}: an admin reply precedes the first customer message"
    assert stats["first_admin_reply_at"] == (admin[0] if admin else None)
    assert stats["last_admin_reply_at"] == (admin[-1] if admin else None)
    if admin:
        assert stats["time_to_admin_reply"] == admin[0] - (first or 0)
        assert stats["median_time_to_reply"] is not None and stats["median_time_to_reply"] >= 0
    else:
        assert stats["time_to_admin_reply"] is None and stats["median_time_to_reply"] is None
    # Intercom counts closes and assignments "after first_contact_reply_at".
    closes = [p for p in parts if p.part_type == "close" and first is not None and p.created_at >= first]
    if closes:
        assert stats["last_close_at"] == closes[-1].created_at
        assert stats["last_closed_by_id"] == closes[-1].author_id
        assert stats["time_to_first_close"] == closes[0].created_at - (first or 0)
    else:
        assert stats["last_close_at"] is None and stats["first_close_at"] is None
    assert stats["count_conversation_parts"] == len(parts)
    assert stats["count_assignments"] == sum(1 for p in parts if p.part_type == "assignment" and first is not None
                                             and p.created_at >= first)
    assert set(NULLABLE_STATS) <= set(stats), "Intercom sends every statistic, null when not reached"
    assert v.state == (parts[-1].state if parts else "open")
    assert (v.snoozed_until is not None) == (v.state == "snoozed")
    if v.waiting_since is not None:
        assert v.state == "open" and v.waiting_since in customer and not [t for t in admin if t >= v.waiting_since]


def test_every_generated_timeline_is_plausible_and_matches_its_statistics(sandbox: Sandbox) -> None:
    conversations = sandbox.app.store.data.conversations
    for v in conversations:
        _check(v, all_parts(v))
    kinds = {p.part_type for v in conversations for p in all_parts(v)}
    assert kinds == {"comment", "assignment", "close", "snoozed"}
    assert any(v.statistics["count_reopens"] for v in conversations)
    assert any(v.statistics["first_contact_reply_at"] is None for v in conversations)  # unanswered outbound
    assert any(v.waiting_since is not None for v in conversations)


def test_get_conversation_returns_its_parts(sandbox: Sandbox) -> None:
    listed = sandbox.get("/conversations", per_page=150).json
    assert listed is not None
    for item in listed["conversations"][:60]:
        detail = sandbox.get(f"/conversations/{item['id']}").json
        assert detail is not None
        parts = detail["conversation_parts"]
        assert parts["type"] == "conversation_part.list"
        assert len(parts["conversation_parts"]) == parts["total_count"] == detail["statistics"]["count_conversation_parts"]
        for part in parts["conversation_parts"]:
            assert part["type"] == "conversation_part" and part["author"]["type"] in ("admin", "user", "lead")
            assert part["part_type"] in ("comment", "assignment", "close", "open", "snoozed")
            assert (part["body"] is not None) == (part["part_type"] == "comment")
            assert detail["created_at"] <= part["created_at"] <= detail["updated_at"]
            assert "name" in part["author"] and part["author"]["email"]
        assert len({p["id"] for p in parts["conversation_parts"]}) == parts["total_count"]
        again = sandbox.get(f"/conversations/{item['id']}").json
        assert again == detail  # parts rebuilt from the seed are the same every time
        assert set(NULLABLE_STATS) <= set(item["statistics"])
        for key in ("sla_applied", "ticket", "ai_agent", "first_contact_reply", "conversation_rating"):
            assert key in item, f"{key} is sent (as null) rather than left out"


def test_mutations_add_parts_and_keep_statistics_consistent(sandbox: Sandbox) -> None:
    changed = sandbox.post("/_sandbox/mutate", {"conversations_updated": 40, "conversations_created": 5}).json
    assert changed is not None
    store = sandbox.app.store
    for conversation_id in changed["conversations_updated"] + changed["conversations_created"]:
        v = store.conversations[conversation_id]
        parts = all_parts(v)
        _check(v, parts)
        assert v.updated_at == changed["now"]
    for conversation_id in changed["conversations_updated"]:
        detail = sandbox.get(f"/conversations/{conversation_id}").json
        assert detail is not None and detail["conversation_parts"]["conversation_parts"][-1]["created_at"] == changed["now"]


def test_generation_is_deterministic() -> None:
    config = DataConfig(contacts=300, companies=20, admins=4, conversations=800, seed=5)
    one, two = generate(config), generate(config)

    def shape(vs: list[Conversation]) -> list[Any]:
        return [(v.id, v.state, v.updated_at, v.statistics, all_parts(v)) for v in vs]

    assert shape(one.conversations) == shape(two.conversations)
    assert shape(one.conversations) != shape(generate(DataConfig(contacts=300, companies=20, admins=4,
                                                                 conversations=800, seed=6)).conversations)


def test_20k_conversations_generate_quickly() -> None:
    started = time.process_time()
    data = generate(DataConfig(contacts=2_000, companies=100, admins=20, conversations=20_000))
    elapsed = time.process_time() - started
    assert len(data.conversations) == 20_000
    assert elapsed < 6.0, f"generating 20k conversations took {elapsed:.1f} s of CPU"
