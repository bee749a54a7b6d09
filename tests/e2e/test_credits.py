"""Usage credits on the real Firestore emulator (shared/credits) and over HTTP."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from devtools.identity import IdentityServer
from shared.credits import ledger
from shared.credits.billing import next_period_start, period_start
from tests.conftest import PROJECT, SCHEDULER_SA


@pytest.fixture()
def db(clean_firestore: str) -> Any:
    from google.cloud import firestore

    return firestore.Client(project=PROJECT)


def entries(db: Any, org: str) -> list[dict[str, Any]]:
    return [s.to_dict() for s in ledger.account_ref(db, org).collection("ledger").stream()]


def assert_ledger_sums_to_balance(db: Any, org: str) -> ledger.Balance:
    balance = ledger.view(db, org).balance
    rows = entries(db, org)
    assert sum(r["delta_included"] for r in rows) == balance.included
    assert sum(r["delta_purchased"] for r in rows) == balance.purchased
    assert balance.included >= 0 and balance.purchased >= 0
    return balance


def test_billing_dates_clamp_to_the_month_end() -> None:
    assert period_start(date(2026, 2, 28), 31) == date(2026, 2, 28)
    assert period_start(date(2026, 2, 27), 31) == date(2026, 1, 31)
    assert period_start(date(2026, 3, 30), 31) == date(2026, 2, 28)
    assert period_start(date(2026, 1, 5), 10) == date(2025, 12, 10)
    assert next_period_start(date(2026, 1, 31), 31) == date(2026, 2, 28)
    assert period_start(date(2028, 2, 29), 30) == date(2028, 2, 29)


def test_fifty_parallel_spends_never_overdraw_and_the_ledger_sums_to_the_balance(db: Any) -> None:
    ledger.set_plan(db, "org", 100, 1)
    ledger.add(db, "org", "purchase", 150)
    outcomes: list[str] = []

    def spend(i: int) -> str:
        try:
            ledger.spend(db, "org", 7, "summary", by=f"user{i}", idempotency_key=f"k{i}")
            return "ok"
        except ledger.InsufficientCredits:
            return "refused"

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(spend, range(50)))
    balance = assert_ledger_sums_to_balance(db, "org")
    assert outcomes.count("ok") == 250 // 7 and outcomes.count("refused") == 50 - 250 // 7
    assert balance.total == 250 - 7 * outcomes.count("ok") == 250 % 7
    spends = [r for r in entries(db, "org") if r["kind"] == "spend"]
    assert len(spends) == outcomes.count("ok")


def test_spending_takes_included_credits_first_then_purchased(db: Any) -> None:
    ledger.set_plan(db, "org", 10, 1)
    ledger.add(db, "org", "purchase", 20)
    first = ledger.spend(db, "org", 6, "a")
    assert (first.entry.delta_included, first.entry.delta_purchased) == (-6, 0)
    second = ledger.spend(db, "org", 8, "b")
    assert (second.entry.delta_included, second.entry.delta_purchased) == (-4, -4)
    assert (second.balance.included, second.balance.purchased) == (0, 16)
    with pytest.raises(ledger.InsufficientCredits):
        ledger.spend(db, "org", 17, "c")
    assert assert_ledger_sums_to_balance(db, "org").total == 16


def test_an_idempotency_key_spends_once_and_refuses_another_spend(db: Any) -> None:
    ledger.add(db, "org", "purchase", 50)
    first = ledger.spend(db, "org", 5, "a", idempotency_key="same")
    again = ledger.spend(db, "org", 5, "a", idempotency_key="same")
    assert again.replayed and again.entry.id == first.entry.id and again.balance.total == 45
    with pytest.raises(ledger.IdempotencyKeyReused):
        ledger.spend(db, "org", 6, "a", idempotency_key="same")
    assert assert_ledger_sums_to_balance(db, "org").total == 45


def test_the_reset_restores_included_credits_on_the_billing_date_and_keeps_purchased(db: Any) -> None:
    start = datetime(2026, 1, 31, 12, tzinfo=UTC)
    ledger.set_plan(db, "org", 100, 31, now=start)
    ledger.add(db, "org", "purchase", 30, now=start)
    ledger.spend(db, "org", 120, "big", now=start)  # 100 included + 20 purchased
    ledger.set_plan(db, "other", 5, 15, now=start)
    assert ledger.reset_due(db, date(2026, 2, 27)) == (["other"], 2)  # its 15 February came
    assert ledger.reset_due(db, date(2026, 2, 28)) == (["org"], 2)  # the 31st, clamped to February's end
    assert ledger.reset_due(db, date(2026, 2, 28)) == ([], 2)  # once a period
    balance = assert_ledger_sums_to_balance(db, "org")
    assert (balance.included, balance.purchased, balance.period_start) == (100, 10, date(2026, 2, 28))
    resets = [r for r in entries(db, "org") if r["kind"] == "reset"]
    assert [r["delta_included"] for r in resets] == [100]
    assert ledger.reset_due(db, date(2026, 3, 1)) == ([], 2)
    ledger.spend(db, "org", 40, "x", now=start)
    assert ledger.reset_due(db, date(2026, 3, 31)) == (["org", "other"], 2)
    assert ledger.view(db, "org").balance.included == 100


def test_credits_over_http(api: httpx.Client, functions_url: str, identity: IdentityServer, clean_firestore: str) -> None:
    def auth(role: str | None = None) -> dict[str, str]:
        email = "ada@example.com" if role == "admin" else "mia@example.com"
        return {"Authorization": f"Bearer {identity.identity.id_token(email, role=role)}"}

    assert api.post("/credits/grant", json={"kind": "purchase", "amount": 20}, headers=auth()).status_code == 403
    assert api.put("/credits/plan", json={"included_per_period": 10, "billing_day": 31}, headers=auth("admin")).status_code == 200
    granted = api.post("/credits/grant", json={"kind": "purchase", "amount": 20}, headers=auth("admin"))
    assert granted.status_code == 201, granted.text
    spend = {"amount": 25, "reason": "ai summary"}
    first = api.post("/credits/spend", json=spend, headers={**auth(), "Idempotency-Key": "s1"})
    assert first.status_code == 200 and first.json()["balance"]["total"] == 5, first.text
    replay = api.post("/credits/spend", json=spend, headers={**auth(), "Idempotency-Key": "s1"})
    assert replay.json()["replayed"] and replay.json()["balance"]["total"] == 5
    short = api.post("/credits/spend", json={"amount": 6, "reason": "x"}, headers=auth())
    assert short.status_code == 409 and short.json()["error"]["code"] == "insufficient_credits"
    reused = api.post("/credits/spend", json={"amount": 1, "reason": "y"}, headers={**auth(), "Idempotency-Key": "s1"})
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "idempotency_key_reused"
    view = api.get("/credits", headers=auth()).json()
    assert [e["kind"] for e in view["ledger"]] == ["spend", "purchase", "plan"]
    assert sum(e["delta_included"] + e["delta_purchased"] for e in view["ledger"]) == view["balance"]["total"] == 5
    url = f"{functions_url}/credits-reset"
    assert api.post("/credits-reset", json={}, headers=auth("admin")).status_code in (401, 403)
    token = identity.identity.oidc_token(url, SCHEDULER_SA)
    reset = api.post("/credits-reset", json={}, headers={"Authorization": f"Bearer {token}"})
    assert reset.status_code == 200 and reset.json() == {"reset": [], "checked": 1}, reset.text
