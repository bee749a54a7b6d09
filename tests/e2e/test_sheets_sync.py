"""Leads from Google Sheets end to end: the Sheets sandbox -> Cloud Tasks emulator ->
sync-worker over HTTP -> Firestore emulator, planned by sync-now and by the scheduler's
tick. A sheet edit, a new row and a removed row show up as lead changes after the next
run; renamed and reordered columns still map; the leads list filters by source, status
and date; the sandbox enforces its per-minute quota."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.identity import IdentityServer
from devtools.sandboxes.sheets.sandbox import RANGE, SPREADSHEET_ID
from tests.conftest import PROJECT
from tests.e2e.serving_world import create_connection
from tests.e2e.sync_stack import SyncStack

SIZE = {"contacts": 30, "companies": 6, "admins": 2, "conversations": 30, "leads": 30}
CONN = "sheets-0123456789ab"
SHEET_URL = f"/_sandbox/spreadsheets/{SPREADSHEET_ID}/Leads"


@pytest.fixture(scope="module")
def stack(identity: IdentityServer, firestore_host: str, log_dir: Path) -> Iterator[SyncStack]:
    stack = SyncStack(identity, firestore_host, log_dir, SIZE).start()
    yield stack
    stack.stop()


@pytest.fixture()
def sheets(stack: SyncStack, clean_firestore: str) -> SyncStack:
    """A connected Sheets connection (its OAuth install already done: an access token)."""
    from google.cloud import firestore

    stack.reset_sandbox("sheets")
    db = firestore.Client(project=PROJECT)
    create_connection(db, CONN, "sheets", base_url=stack.sandbox_urls["sheets"],
                      credentials={"client_id": "c", "client_secret": "s", "access_token": "sheets-token"})
    db.collection("connections").document(CONN).update(
        {"config": {"base_url": stack.sandbox_urls["sheets"], "spreadsheet_id": SPREADSHEET_ID, "range": RANGE},
         "next_run_at": None})
    return stack


def rows(stack: SyncStack) -> list[list[Any]]:
    with stack.sandbox("sheets") as s:
        return list(s.get(SHEET_URL).json()["values"])


def put_rows(stack: SyncStack, values: list[list[Any]]) -> None:
    with stack.sandbox("sheets") as s:
        s.put(SHEET_URL, json={"values": values}).raise_for_status()


def sync_now(stack: SyncStack) -> dict[str, Any]:
    run = stack.wait(stack.start_sync(connection_id=CONN), connection_id=CONN)
    assert run["status"] == "succeeded", run
    return run


def scheduled_run(stack: SyncStack) -> dict[str, Any]:
    """Ten minutes pass (the connection's next_run_at is due) and Cloud Scheduler ticks."""
    from google.cloud import firestore

    db = firestore.Client(project=PROJECT)
    db.collection("connections").document(CONN).update({"next_run_at": datetime.now(timezone.utc) - timedelta(seconds=1)})
    before = set(stack.run_ids(CONN))
    stack.tick()
    (run_id,) = set(stack.run_ids(CONN)) - before
    run = stack.wait(run_id, connection_id=CONN)
    assert run["status"] == "succeeded", run
    return run


def test_sheet_changes_become_lead_changes(sheets: SyncStack) -> None:
    stack = sheets
    sync_now(stack)
    stored = stack.stored("leads", CONN)
    assert len(stored) == SIZE["leads"]
    first = stored["L0001"]
    original = rows(stack)
    assert first["email"] == original[1][1] and first["row"] == 2 and first["name"] == original[1][2]

    # an edit (row 2's status), a new row, a removed row (L0003); and the columns reordered
    # and renamed ("Email" -> "E-mail address", "Source" -> "Lead source", moved to the front)
    header, data = original[0], original[1:]
    data[0][5] = "qualified"
    data.append(["L9999", "new.person@lead.example", "New Person", "New Co", "ads", "new", "2026-01-05"])
    data = [r for r in data if r[0] != "L0003"]
    order = [4, 1, 0, 2, 3, 5, 6]
    renamed = {"Email": "E-mail address", "Source": "Lead source"}
    new_header = [renamed.get(header[i], header[i]) for i in order]
    put_rows(stack, [new_header, *[[r[i] for i in order] for r in data]])

    run = scheduled_run(stack)
    after = stack.stored("leads", CONN, include_deleted=True)
    assert after["L0001"]["status"] == "qualified" and after["L0001"]["email"] == first["email"]
    assert after["L9999"]["name"] == "New Person" and after["L9999"]["source"] == "ads"
    assert after["L0003"]["_deleted"] is True
    live = {k for k, v in after.items() if not v.get("_deleted")}
    assert len(live) == SIZE["leads"]
    assert run["status"] == "succeeded"

    # unchanged sheet, next scheduled run: nothing changes
    marker = {k: v["_sync"]["hash"] for k, v in stack.stored("leads", CONN).items()}
    scheduled_run(stack)
    assert {k: v["_sync"]["hash"] for k, v in stack.stored("leads", CONN).items()} == marker


def test_leads_list_filters_and_quota(sheets: SyncStack) -> None:
    stack = sheets
    sync_now(stack)
    with stack.api("member") as api:
        everything = api.get(f"/records/{CONN}/leads", params={"limit": 200}).json()["items"]
        assert len(everything) == SIZE["leads"]
        webinar = api.get(f"/records/{CONN}/leads", params={"source": "Webinar"}).json()["items"]
        assert webinar and all(lead["source"] == "webinar" for lead in webinar)
        assert len(webinar) == sum(1 for lead in everything if lead["source"] == "webinar")
        new = api.get(f"/records/{CONN}/leads", params={"status": "NEW"}).json()["items"]
        assert new and all(lead["status"] == "new" for lead in new)
        assert api.get(f"/records/{CONN}/leads", params={"source": "ads", "status": "new"}).status_code == 400
        march = api.get(f"/records/{CONN}/leads",
                        params={"created_from": "2025-03-01", "created_to": "2025-03-31"}).json()["items"]
        assert march and all(lead["created_at"].startswith("2025-03") for lead in march)
    # the sandbox's read quota: past it, 429 with Google's error body
    with stack.sandbox("sheets") as s:
        s.post("/_sandbox/rate_limit", json={"per_minute": 3, "window_seconds": 60}).raise_for_status()
        answers = [s.get(f"/v4/spreadsheets/{SPREADSHEET_ID}/values/Leads!A1:C3") for _ in range(5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
        assert answers[-1].json()["error"]["status"] == "RESOURCE_EXHAUSTED"
        assert answers[0].json() == {"range": "Leads!A1:C3", "majorDimension": "ROWS",
                                     "values": [r[:3] for r in rows(stack)[:3]]}
        s.post("/_sandbox/rate_limit", json={"per_minute": 6000, "window_seconds": 10}).raise_for_status()
        batch = s.get(f"/v4/spreadsheets/{SPREADSHEET_ID}/values:batchGet", params=[("ranges", "Leads!A1:A2"),
                                                                                   ("ranges", "B1:B2")]).json()
        assert [v["values"] for v in batch["valueRanges"]] == [[["Lead ID"], ["L0001"]], [["Email"], [rows(stack)[1][1]]]]
        assert httpx.get(f"{stack.sandbox_urls['sheets']}/v4/spreadsheets/{SPREADSHEET_ID}/values/A1").status_code == 401


def test_a_lead_becomes_a_contact(sheets: SyncStack) -> None:
    stack = sheets
    sync_now(stack)
    with stack.api("member") as api:
        listed = api.get(f"/records/{CONN}/leads")
        lead = api.get(f"/records/{CONN}/leads/L0002").json()
        made = api.post("/contacts/from-lead", json={"connection_id": CONN, "lead_key": "L0002"})
        assert made.status_code == 201, made.text
        contact = made.json()
        assert contact["email"] == lead["email"] and contact["lead"] == {"connection_id": CONN, "key": "L0002"}
        assert contact["first_name"] + " " + contact["last_name"] == lead["name"]
        assert api.get(f"/records/{CONN}/leads/L0002").json()["contact_id"] == contact["id"]
        # the leads list changed (its pollers see the conversion)
        assert api.get(f"/records/{CONN}/leads", headers={"If-None-Match": listed.headers["ETag"]}).status_code == 200
        again = api.post("/contacts/from-lead", json={"connection_id": CONN, "lead_key": "L0002"})
        assert again.status_code == 409 and again.json()["error"]["details"]["contact_id"] == contact["id"]
        assert api.post("/contacts/from-lead", json={"connection_id": CONN, "lead_key": "nope"}).status_code == 404
    # the next sync of an edited row keeps the link
    values = rows(stack)
    values[2][5] = "qualified"
    put_rows(stack, values)
    sync_now(stack)
    assert stack.stored("leads", CONN)["L0002"]["contact_id"] == contact["id"]
    assert stack.stored("leads", CONN)["L0002"]["status"] == "qualified"
