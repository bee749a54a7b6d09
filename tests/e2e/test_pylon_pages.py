"""Every Pylon dashboard page answers from a bounded number of document reads whatever the
number of issues (counted at the RPC boundary on the real emulator), and the chart spec is
validated strictly."""

from __future__ import annotations

import random
from datetime import date, datetime, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from devtools.identity import IdentityServer
from shared.vendors.pylon import dashboard
from shared.vendors.pylon.connector import PylonConfig
from shared.vendors.pylon.dashboard import ChartSpec, Period
from shared.vendors.pylon.metrics import compute
from shared.vendors.pylon.pages import READS_NOTE
from shared.vendors.pylon.precompute import COLLECTION, build
from tests.conftest import PROJECT
from tests.e2e.read_counter import count_reads
from tests.e2e.serving_world import create_connection

NOW = datetime(2025, 12, 31, tzinfo=timezone.utc).timestamp()
CONFIG = PylonConfig(base_url="https://api.usepylon.com")


@pytest.fixture()
def db(clean_firestore: str) -> Any:
    from google.cloud import firestore

    return firestore.Client(project=PROJECT)


def seed(db: Any, connection_id: str, issues: int) -> None:
    rng = random.Random(issues)
    metrics = []
    for n in range(issues):
        created = NOW - rng.randrange(3600, 700 * 86_400)
        closed = rng.random() < 0.8
        issue = {"id": f"i{n}", "priority": rng.choice(["urgent", "high", "low"]), "open": not closed,
                 "account_id": f"a{n % 30}", "assignee_id": f"u{n % 7}", "created_at": created,
                 "resolved_at": created + 7200 if closed else None}
        msgs = [{"timestamp": created, "author_kind": "customer"},
                {"timestamp": created + rng.randrange(60, 20_000), "author_kind": "agent", "user_id": f"u{n % 7}"}]
        metrics.append(compute(issue, msgs, CONFIG))
    coll = db.collection("connections").document(connection_id).collection(COLLECTION)
    for doc_id, content in build(metrics, {"users": {}, "accounts": {}}, CONFIG, NOW).items():
        coll.document(doc_id).set(content)


def reads(db: Any, connection_id: str) -> dict[str, int]:
    counter = count_reads(db)
    year = Period.model_validate({"from": "2025-01-01", "to": "2025-12-31"})
    calls = {
        "needs_attention": lambda: dashboard.needs_attention(db, connection_id, NOW),
        "overview": lambda: dashboard.overview(db, connection_id, year, NOW),
        "performance": lambda: dashboard.performance(db, connection_id, year),
        "accounts": lambda: dashboard.accounts(db, connection_id),
        "trends": lambda: dashboard.trends(db, connection_id, year, "week"),
        "chart": lambda: dashboard.chart(db, connection_id, ChartSpec(metric="created", group_by="priority",
                                                                      period=year, bucket="month")),
    }
    out = {}
    for name, call in calls.items():
        counter.reset()
        call()
        out[name] = counter.reads
    return out


def test_every_page_reads_the_same_bounded_number_of_documents_at_any_size(db: Any) -> None:
    seed(db, "pylon-small", 40)
    seed(db, "pylon-large", 1500)
    small, large = reads(db, "pylon-small"), reads(db, "pylon-large")
    assert small == large
    assert all(n <= dashboard.MAX_READS for n in large.values()), large
    assert large["needs_attention"] == 1 and large["accounts"] == 1


def test_a_chart_answers_series_ready_for_a_chart_library(db: Any) -> None:
    seed(db, "pylon-c", 300)
    spec = ChartSpec.model_validate({"metric": "first_response_median_s", "group_by": "agent", "bucket": "month",
                                     "period": {"from": "2025-01-01", "to": "2025-06-30"}, "chart_type": "bar"})
    answer = dashboard.chart(db, "pylon-c", spec)
    assert answer["labels"] == [f"2025-0{m}" for m in range(1, 7)]
    assert {s["name"] for s in answer["series"]} == {f"u{n}" for n in range(7)}
    assert all(len(s["data"]) == 6 for s in answer["series"])


@pytest.mark.parametrize(("change", "field"), [
    ({"metric": "nps"}, "metric"),
    ({"colour": "red"}, "colour"),
    ({"group_by": "team"}, "group_by"),
    ({"period": {"from": "2024-01-01", "to": "2025-06-30"}}, "period"),
    ({"filters": {"tag": ["bug"]}}, "filters.tag"),
])
def test_a_bad_spec_field_is_refused_by_name(change: dict[str, Any], field: str) -> None:
    spec = {"metric": "created", "period": {"from": "2025-01-01", "to": "2025-01-31"}, **change}
    with pytest.raises(ValidationError) as caught:
        ChartSpec.model_validate(spec)
    locs = [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()]
    assert any(loc.startswith(field) for loc in locs), locs
    assert date(2025, 1, 1)  # the period type is a date


@pytest.fixture()
def call(db: Any, settings_env: dict[str, str], identity: IdentityServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """call(function, params or body) -> (response, reads it cost), through each function's
    own request pipeline (auth with a real ID token, the access check, the page)."""
    from flask import Flask

    from devtools.functions_catalog import load_endpoints
    from shared.store import client as store_client

    monkeypatch.setattr(store_client, "firestore_client", lambda project: db)
    counter, endpoints, app = count_reads(db), load_endpoints(), Flask("pylon-pages")
    token = identity.identity.id_token("mia@example.com")

    def run(function: str, params: dict[str, Any]) -> tuple[Any, int]:
        counter.reset()
        post = function == "pylon-chart"
        with app.test_request_context(path="/", method="POST" if post else "GET", json=params if post else None,
                                      query_string=None if post else params,
                                      headers={"Authorization": f"Bearer {token}"}):
            from flask import request

            response = endpoints[function].dispatch(request)
        return response, counter.reads

    return run


def test_each_page_function_answers_from_at_most_the_stated_reads_at_any_size(db: Any, call: Any) -> None:
    year = {"from": "2025-01-01", "to": "2025-12-31"}
    reads: dict[str, list[int]] = {}
    for connection_id, issues in (("pylon-small", 40), ("pylon-large", 1500)):
        create_connection(db, connection_id, "pylon", base_url="https://api.usepylon.com",
                          credentials={"api_token": "unused"})
        seed(db, connection_id, issues)
        for function, params in (
            ("pylon-needs-attention", {}), ("pylon-accounts", {}), ("pylon-overview", year),
            ("pylon-performance", year), ("pylon-trends", {**year, "bucket": "week"}),
            ("pylon-chart", {"metric": "created", "group_by": "agent", "bucket": "month", "period": year}),
        ):
            response, count = call(function, {"connection_id": connection_id, **params})
            assert response.status_code == 200, (function, response.get_json())
            reads.setdefault(function, []).append(count)
    bound = dashboard.MAX_READS + 1  # the pages' documents and the connection (the access check)
    assert all(small == large <= bound for small, large in reads.values()), reads
    assert f"at most {bound} documents" in READS_NOTE
