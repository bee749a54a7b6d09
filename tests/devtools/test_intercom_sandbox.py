"""The sandbox Intercom, started as a subprocess, behaves like Intercom 2.14.

Proves: the official SDK (python-intercom) pages through every record; responses validate
against Intercom's own OpenAPI description; the rate limit, faults, mutations and auth
behave as documented. A small data set keeps the module fast.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
SPEC = Path(os.environ.get("INTERCOM_OPENAPI", "/work/shared/vendor-contracts/intercom/api.intercom.io-2.14.yaml"))
TOKEN = "test-token"
SIZES = {"contacts": 700, "companies": 130, "admins": 7, "conversations": 900}
AUTH = {"Authorization": f"Bearer {TOKEN}", "Intercom-Version": "2.14"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    port = _free_port()
    argv = [sys.executable, "-m", "devtools.sandboxes.intercom", "--port", str(port), "--token", TOKEN,
            *[arg for kind, n in SIZES.items() for arg in (f"--{kind}", str(n))]]
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    ready = proc.stdout.readline()
    assert "ready on http://127.0.0.1:" in ready, ready
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0, "SIGTERM must shut the sandbox down cleanly"
        assert "stopped" in proc.stdout.read()


@pytest.fixture
def api(base_url: str) -> Iterator[httpx.Client]:
    """A client with the token, after generous limits and no faults (tests tighten them)."""
    with httpx.Client(base_url=base_url, headers=AUTH, timeout=10) as client:
        client.post("/_sandbox/faults", json={"error_rate": 0, "drop_rate": 0, "latency_ms": 0}).raise_for_status()
        client.post("/_sandbox/rate_limit", json={"per_minute": 1_000_000, "window_seconds": 10}).raise_for_status()
        yield client


@pytest.fixture(scope="module")
def openapi() -> Any:
    openapi_core = pytest.importorskip("openapi_core")
    return openapi_core.OpenAPI.from_file_path(str(SPEC), config=openapi_core.Config(spec_validator_cls=None))


def _validate(openapi: Any, method: str, path: str, response: httpx.Response, *, template: str | None = None,
              args: dict[str, str] | None = None, body: Any = None) -> None:
    """Validate our request and the sandbox's response against the 2.14 description."""
    from openapi_core.testing import MockRequest, MockResponse

    data = json.dumps(body).encode() if body is not None else None
    request = MockRequest("https://api.intercom.io", method.lower(), path, args=args or {}, headers=AUTH,
                          data=data, content_type="application/json")
    if body is not None:
        openapi.validate_request(request)
    openapi.validate_response(request, MockResponse(response.content, status_code=response.status_code,
                                                    content_type="application/json"))


def _search_all(api: httpx.Client, kind: str, query: dict[str, Any], per_page: int = 50,
                sort: dict[str, str] | None = None) -> list[dict[str, Any]]:
    key = "data" if kind == "contacts" else "conversations"
    out: list[dict[str, Any]] = []
    pagination: dict[str, Any] = {"per_page": per_page}
    while True:
        body: dict[str, Any] = {"query": query, "pagination": pagination}
        if sort:
            body["sort"] = sort
        page = api.post(f"/{kind}/search", json=body)
        assert page.status_code == 200, page.text
        payload = page.json()
        out.extend(payload[key])
        nxt = payload["pages"].get("next")
        if not nxt:
            assert len(out) == payload["total_count"]
            return out
        pagination = {"per_page": per_page, "starting_after": nxt["starting_after"]}


def test_official_sdk_pages_through_every_record(api: httpx.Client, base_url: str) -> None:
    from intercom import Intercom

    counts = api.get("/_sandbox/counts").json()
    client = Intercom(token=TOKEN, base_url=base_url)
    contacts = list(client.contacts.list(per_page=150))
    companies = list(client.companies.list(per_page=60))
    admins = client.admins.list().admins or []
    conversations = list(client.conversations.list(per_page=150))
    for kind, records in (("contacts", contacts), ("companies", companies), ("admins", admins),
                          ("conversations", conversations)):
        ids = [r.id for r in records]
        assert len(ids) == counts[kind], kind
        assert len(set(ids)) == len(ids), f"duplicate {kind}"
    assert {c.role for c in contacts} == {"user", "lead"}
    assert all("training_topic" in (c.custom_attributes or {}) for c in contacts)
    assert {v.state for v in conversations} == {"open", "closed", "snoozed"}
    assert all(v.statistics is not None and v.statistics.first_contact_reply_at for v in conversations)
    one = client.companies.retrieve(name=companies[3].name)
    assert one.id == companies[3].id


def test_responses_match_the_openapi_description(api: httpx.Client, openapi: Any) -> None:
    page = api.get("/contacts", params={"per_page": 20})
    _validate(openapi, "GET", "/contacts", page, args={"per_page": "20"})
    contact_id = page.json()["data"][0]["id"]
    _validate(openapi, "GET", f"/contacts/{contact_id}", api.get(f"/contacts/{contact_id}"))
    # The description's groups hold either filters or groups, not a mix: (a OR b) AND (c OR d).
    search = {"query": {"operator": "AND", "value": [
        {"operator": "OR", "value": [{"field": "role", "operator": "=", "value": "user"},
                                     {"field": "phone", "operator": "^", "value": "+1555"}]},
        {"operator": "OR", "value": [{"field": "email", "operator": "~", "value": "example"},
                                     {"field": "created_at", "operator": ">", "value": 1_700_000_000}]}]},
        "pagination": {"per_page": 20}, "sort": {"field": "updated_at", "order": "descending"}}
    _validate(openapi, "POST", "/contacts/search", api.post("/contacts/search", json=search), body=search)
    conversations = api.get("/conversations", params={"per_page": 20})
    _validate(openapi, "GET", "/conversations", conversations, args={"per_page": "20"})
    conversation_id = conversations.json()["conversations"][0]["id"]
    _validate(openapi, "GET", f"/conversations/{conversation_id}", api.get(f"/conversations/{conversation_id}"))
    csearch = {"query": {"field": "state", "operator": "IN", "value": ["open", "snoozed"]},
               "pagination": {"per_page": 20}}
    _validate(openapi, "POST", "/conversations/search", api.post("/conversations/search", json=csearch), body=csearch)
    _validate(openapi, "GET", "/admins", api.get("/admins"))
    _validate(openapi, "GET", "/me", api.get("/me"))
    _validate(openapi, "POST", "/companies/list", api.post("/companies/list", params={"per_page": 20}),
              args={"per_page": "20"})
    unauthorized = httpx.get(f"{api.base_url}/contacts")
    _validate(openapi, "GET", "/contacts", unauthorized)
    missing = api.get("/admins/1")
    assert missing.status_code == 404
    _validate(openapi, "GET", "/admins/1", missing)


def test_errors_use_intercoms_error_body(api: httpx.Client) -> None:
    missing = api.get("/contacts/000000000000000000000000")
    assert missing.status_code == 404
    assert missing.json()["type"] == "error.list" and missing.json()["errors"][0]["code"] == "not_found"
    assert api.get("/companies/nope").json()["errors"][0]["code"] == "company_not_found"
    bad = api.post("/contacts/search", content=b"{not json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "bad_request"
    bad_field = api.post("/contacts/search", json={"query": {"field": "shoe_size", "operator": "=", "value": 1}})
    assert bad_field.status_code == 400 and bad_field.json()["errors"][0]["code"] == "parameter_invalid"
    bad_cursor = api.get("/contacts", params={"starting_after": "garbage!"})
    assert bad_cursor.status_code == 400


def test_401_without_or_with_a_wrong_token(base_url: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = httpx.get(f"{base_url}/contacts", headers=headers)
        assert response.status_code == 401
        body = response.json()
        assert body["type"] == "error.list" and body["request_id"]
        assert body["errors"] == [{"code": "unauthorized", "message": "Access Token Invalid"}]
        assert "X-RateLimit-Remaining" not in response.headers  # Intercom omits them without credentials


def test_rate_limit_counts_down_then_429(api: httpx.Client) -> None:
    window = 60
    if window - time.time() % window < 3:  # do not straddle a window boundary
        time.sleep(window - time.time() % window + 0.1)
    api.post("/_sandbox/rate_limit", json={"per_minute": 10, "window_seconds": window}).raise_for_status()
    before = api.get("/_sandbox/stats").json()["rate_limited"]
    seen = [api.get("/admins") for _ in range(13)]
    assert [r.status_code for r in seen] == [200] * 10 + [429] * 3
    assert [int(r.headers["X-RateLimit-Remaining"]) for r in seen] == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0]
    assert {r.headers["X-RateLimit-Limit"] for r in seen} == {"10"}
    reset = {int(r.headers["X-RateLimit-Reset"]) for r in seen}
    assert len(reset) == 1 and reset.pop() % window == 0 and time.time() < int(seen[0].headers["X-RateLimit-Reset"])
    body = seen[-1].json()
    assert body["type"] == "error.list" and body["errors"][0]["code"] == "rate_limit_exceeded"
    assert api.get("/_sandbox/stats").json()["rate_limited"] == before + 3
    # The default budget is Intercom's: 1000/min spread as 167 per 10 s.
    api.post("/_sandbox/rate_limit", json={"per_minute": 1000, "window_seconds": 10}).raise_for_status()
    assert api.get("/admins").headers["X-RateLimit-Limit"] == "167"


def _fault_run(api: httpx.Client, n: int) -> list[str]:
    outcomes = []
    for _ in range(n):
        try:
            status = api.get("/admins").status_code
            outcomes.append("ok" if status == 200 else str(status))
        except httpx.TransportError:
            outcomes.append("drop")
    return outcomes


def test_fault_injection_rates_and_determinism(api: httpx.Client) -> None:
    before = api.get("/_sandbox/stats").json()
    faults = {"error_rate": 0.2, "drop_rate": 0.1, "error_status": 503}
    api.post("/_sandbox/faults", json=faults).raise_for_status()
    first = _fault_run(api, 300)
    api.post("/_sandbox/faults", json=faults).raise_for_status()  # same settings restart the seeded sequence
    second = _fault_run(api, 300)
    assert first == second
    assert 0.12 <= first.count("503") / 300 <= 0.28
    assert 0.04 <= first.count("drop") / 300 <= 0.16
    after = api.get("/_sandbox/stats").json()
    assert after["injected_errors"] - before["injected_errors"] == 2 * first.count("503")
    assert after["dropped_connections"] - before["dropped_connections"] == 2 * first.count("drop")
    api.post("/_sandbox/faults", json={"error_rate": 0, "drop_rate": 0, "latency_ms": 150}).raise_for_status()
    started = time.monotonic()
    assert api.get("/admins").status_code == 200
    assert time.monotonic() - started >= 0.15
    assert api.post("/_sandbox/faults", json={"error_rate": 2}).status_code == 400


def test_mutations_are_found_by_updated_at_search(api: httpx.Client) -> None:
    counts = api.get("/_sandbox/counts").json()
    high = counts["max_updated_at"]
    changed = api.post("/_sandbox/mutate", json={"contacts_updated": 7, "contacts_created": 3, "contacts_deleted": 2,
                                                 "conversations_updated": 5, "conversations_created": 2}).json()
    assert changed["now"] > max(high.values())
    after = {"field": "updated_at", "operator": ">", "value": high["contacts"]}
    found = {c["id"] for c in _search_all(api, "contacts", after, per_page=4)}
    assert found == set(changed["contacts_updated"]) | set(changed["contacts_created"])
    after_conv = {"field": "updated_at", "operator": ">", "value": high["conversations"]}
    found_conv = {v["id"] for v in _search_all(api, "conversations", after_conv, per_page=3)}
    assert found_conv == set(changed["conversations_updated"]) | set(changed["conversations_created"])
    for gone in changed["contacts_deleted"]:
        assert api.get(f"/contacts/{gone}").status_code == 404
    new_counts = api.get("/_sandbox/counts").json()
    assert new_counts["contacts"] == counts["contacts"] + 3 - 2
    assert new_counts["conversations"] == counts["conversations"] + 2
    # A PUT bumps updated_at past the mutation and keeps the custom attribute.
    target = changed["contacts_updated"][0]
    put = api.put(f"/contacts/{target}", json={"custom_attributes": {"training_topic": "sso"}})
    assert put.status_code == 200
    assert put.json()["updated_at"] > changed["now"] and put.json()["custom_attributes"]["training_topic"] == "sso"
    assert api.put(f"/contacts/{target}", json={"shoe_size": 4}).status_code == 400


def test_search_is_ordered_and_stable_under_pagination(api: httpx.Client) -> None:
    query = {"operator": "OR", "value": [{"field": "role", "operator": "=", "value": "lead"},
                                        {"field": "custom_attributes.training_topic", "operator": "=", "value": "api"}]}
    rows = _search_all(api, "contacts", query, per_page=37, sort={"field": "updated_at", "order": "descending"})
    keys = [(r["updated_at"], r["id"]) for r in rows]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys)
    assert all(r["role"] == "lead" or r["custom_attributes"]["training_topic"] == "api" for r in rows)
    listed = []
    cursor = None
    while True:
        params = {"per_page": 150, **({"starting_after": cursor} if cursor else {})}
        page = api.get("/contacts", params=params).json()
        listed.extend(page["data"])
        cursor = (page["pages"].get("next") or {}).get("starting_after")
        if not cursor:
            break
    expected = {c["id"] for c in listed if c["role"] == "lead" or c["custom_attributes"]["training_topic"] == "api"}
    assert {r["id"] for r in rows} == expected
    by_state = _search_all(api, "conversations", {"field": "state", "operator": "!=", "value": "closed"}, per_page=150)
    assert by_state and all(v["state"] in ("open", "snoozed") for v in by_state)


def test_companies_paginate_by_page_number(api: httpx.Client) -> None:
    first = api.get("/companies", params={"per_page": 50}).json()
    assert first["type"] == "list" and first["pages"]["total_pages"] == 3 and len(first["data"]) == 50
    last = api.get("/companies", params={"per_page": 50, "page": 3}).json()
    assert last["pages"]["next"] is None and len(last["data"]) == SIZES["companies"] - 100
    name = first["data"][1]["name"]
    one = api.get("/companies", params={"name": name}).json()
    assert one["type"] == "company" and one["id"] == first["data"][1]["id"]
    assert api.get("/companies", params={"name": "no such company"}).status_code == 404
