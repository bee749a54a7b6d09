"""Pylon over the wire: the registry's sandbox Pylon, the Cloud Tasks emulator, the functions
under functions-framework and the Firestore emulator. Sync Now runs the two-year windowed
backfill; a second run catches an old issue's update through the search on updated_at; the
dashboard pages and the chart answer over HTTP to real ID tokens of the allowed domain.

Pylon's budgets are tens of requests a minute, so the stack runs the rate-limit clock 60
times faster (TRIBUTARY_RATE_TIME_SCALE, read by the engine's budgets and the sandbox's
windows alike): the rules are Pylon's, only quicker.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.identity import IdentityServer
from tests.conftest import ALLOWED_DOMAIN
from tests.e2e.sync_stack import SyncStack

# every sandbox of the registry is started: keep the others small
SIZE = {"issues": 150, "accounts": 20, "contacts": 20, "companies": 10, "admins": 3, "conversations": 10}
SCALE = "60"
PAGES = ("pylon-needs-attention", "pylon-overview", "pylon-performance", "pylon-accounts", "pylon-trends")
# the sandbox's history ends now: the last year, and a summer quarter inside it
YEAR = {"from": (date.today() - timedelta(days=364)).isoformat(), "to": date.today().isoformat()}
QUARTER = {"from": (date.today() - timedelta(days=180)).isoformat(), "to": (date.today() - timedelta(days=90)).isoformat()}


@pytest.fixture(scope="module")
def stack(identity: IdentityServer, firestore_host: str, log_dir: Path) -> Iterator[SyncStack]:
    stack = SyncStack(identity, firestore_host, log_dir, SIZE, extra_env={"TRIBUTARY_RATE_TIME_SCALE": SCALE}).start()
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def synced(stack: SyncStack, firestore_host: str) -> tuple[SyncStack, dict[str, Any]]:
    """One Pylon connection, backfilled once through Sync Now (the tests below share it)."""
    from devtools.emulators import clear_firestore
    from tests.conftest import PROJECT

    clear_firestore(firestore_host, PROJECT)
    stack.reset_sandbox("pylon")
    stack.create_queue("pylon")
    stack.connection_id = ""
    stack.connect(vendor="pylon")
    return stack, stack.sync(timeout_s=300)


def pylon(stack: SyncStack, path: str, **params: Any) -> Any:
    with stack.sandbox("pylon") as s:
        response = s.get(path, params=params)
        response.raise_for_status()
        return response.json()


def refused(stack: SyncStack) -> int:
    """429s the sandbox answered: its organization window's and each endpoint's."""
    stats = pylon(stack, "/_sandbox/stats")
    limits = pylon(stack, "/_sandbox/endpoint_limits")
    return int(stats["rate_limited"]) + int(stats["responses_by_status"].get("429", 0)) + sum(limits["refused"].values())


def asked(stack: SyncStack, key: str) -> int:
    return int(pylon(stack, "/_sandbox/stats")["requests_by_path"].get(key, 0))


def test_sync_now_backfills_every_issue_account_and_message_once_with_no_429(synced: tuple[SyncStack, Any]) -> None:
    stack, run = synced
    assert run["status"] == "succeeded", run
    counts = pylon(stack, "/_sandbox/counts")
    counts = {k: (v["count"] if isinstance(v, dict) else v) for k, v in counts.items()}
    for stream in ("issues", "messages", "accounts", "users", "teams"):
        stored = stack.stored(stream)
        assert len(stored) == counts[stream], stream
        # each record written once: the run's written count is the number of records
        assert run["streams"][stream]["counts"]["written"] == counts[stream], stream
    assert run["streams"]["issues"]["mode"] == "full"
    assert refused(stack) == 0
    # two years in windows of at most 30 days, each asked once (a page per window at this size)
    assert 25 <= asked(stack, "GET /issues") <= 26
    assert asked(stack, "GET /issues/<issue_id>/messages") == counts["issues"]


def test_messages_are_asked_while_the_issue_windows_are_still_being_listed(synced: tuple[SyncStack, Any]) -> None:
    """The messages' budget sets a backfill's floor, so it must not idle while the issue
    windows are listed (#16): the windows' first pages are queued one booked slot apart, and
    the child tasks their pages fan out are served before the windows that come due later.
    Queued together, the 25 windows held the queue's six dispatches and the children queued
    behind them: no message was asked before at least 19 windows had been."""
    stack, _ = synced
    order = pylon(stack, "/_sandbox/stats")["order"]
    first_message = order.index("GET /issues/<issue_id>/messages")
    assert order[:first_message].count("GET /issues") < 19, order[:40]


def test_a_second_run_catches_an_old_issue_updated_and_fetches_its_messages(synced: tuple[SyncStack, Any]) -> None:
    stack, _ = synced
    before = {k: asked(stack, k) for k in ("GET /issues", "POST /issues/search", "GET /issues/<issue_id>/messages")}
    with stack.sandbox("pylon") as s:
        assert s.post("/_sandbox/mutate", json={"issues_updated": 1}).json()["issues_updated"] == 1
    oldest = stack.stored("issues")
    oldest_id = min(oldest, key=lambda k: oldest[k]["created_at"])
    assert oldest[oldest_id]["state"] == "closed"  # two years old, closed, outside any creation window a run asks for
    run = stack.sync(timeout_s=300)
    assert run["status"] == "succeeded", run
    assert run["streams"]["issues"]["mode"] == "incremental"
    assert asked(stack, "GET /issues") == before["GET /issues"]  # no creation windows
    assert asked(stack, "POST /issues/search") == before["POST /issues/search"] + 1
    assert asked(stack, "GET /issues/<issue_id>/messages") == before["GET /issues/<issue_id>/messages"] + 1
    assert stack.stored("issues")[oldest_id]["state"] == "waiting_on_you"
    messages = pylon(stack, f"/issues/{oldest_id}/messages")["data"]
    stored = {k for k in stack.stored("messages") if k.startswith(f"{oldest_id}:")}
    assert stored == {f"{oldest_id}:{m['id']}" for m in messages}
    assert refused(stack) == 0


def token(stack: SyncStack, email: str, role: str = "member") -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.identity.identity.id_token(email, role=role)}"}


def test_the_pages_and_the_chart_answer_over_http_to_the_company_domain_only(synced: tuple[SyncStack, Any]) -> None:
    stack, _ = synced
    cid = stack.connection_id
    member = token(stack, f"ann@{ALLOWED_DOMAIN}")
    with httpx.Client(base_url=stack.functions_url, timeout=30) as http:
        for page in PAGES:
            params = {"connection_id": cid, **(YEAR if page in ("pylon-overview", "pylon-performance", "pylon-trends")
                                               else {})}
            ok = http.get(f"/{page}", params=params, headers=member)
            assert ok.status_code == 200, (page, ok.text)
            assert http.get(f"/{page}", params=params).status_code == 401, page
            outsider = http.get(f"/{page}", params=params, headers=token(stack, "eve@elsewhere.test"))
            assert outsider.status_code == 403, page
            missing = http.get(f"/{page}", params={**params, "connection_id": "pylon-nope"}, headers=member)
            assert missing.status_code == 404, page
        overview = http.get("/pylon-overview", params={"connection_id": cid, **YEAR}, headers=member).json()
        attention = http.get("/pylon-needs-attention", params={"connection_id": cid}, headers=member).json()
        summary_open = overview["open_now"]
        assert summary_open > 0 and attention["total"] >= 1
        trends = http.get("/pylon-trends", params={"connection_id": cid, **QUARTER, "bucket": "week"}, headers=member).json()
        assert [s["name"] for s in trends["series"]][:2] == ["created", "resolved"]
        assert all(len(s["data"]) == len(trends["labels"]) for s in trends["series"])
        too_long = http.get("/pylon-trends", params={"connection_id": cid, "from": "2024-01-01", "to": date.today().isoformat()},
                            headers=member)
        assert too_long.status_code == 400

        spec = {"connection_id": cid, "metric": "created", "group_by": "priority", "bucket": "month",
                "period": YEAR, "chart_type": "bar"}
        chart = http.post("/pylon-chart", json=spec, headers=member)
        assert chart.status_code == 200, chart.text
        body = chart.json()
        assert body["chart_type"] == "bar" and {s["name"] for s in body["series"]} <= {"urgent", "high", "medium", "low"}
        for bad, field in (({"metric": "nps"}, "metric"), ({"colour": "red"}, "colour"),
                           ({"group_by": "team"}, "group_by"), ({"filters": {"tag": ["bug"]}}, "filters")):
            refused_spec = http.post("/pylon-chart", json={**spec, **bad}, headers=member)
            assert refused_spec.status_code == 400, bad
            assert field in refused_spec.text, (field, refused_spec.text)
        assert http.post("/pylon-chart", json=spec, headers=token(stack, "eve@elsewhere.test")).status_code == 403
